use crate::{
    api::{
        admin::{list_users, CreateUser, ResetPassword, SetUserDisabled, SetUserRole},
        UserView,
    },
    components::{
        admin_tabs::AdminTabs,
        form::{last_error, FieldError, FormAlert, Submit},
    },
    error::AppError,
    pages::not_found::NotFound,
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let role = ServerAction::<SetUserRole>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let page = Resource::new(move || (create.version().get(), disable.version().get(), role.version().get()), |_| list_users());
    // The newest failure among the row actions, shown above the table.
    let row_error = Signal::derive(move || {
        [disable.value().get().and_then(|r| r.err()), role.value().get().and_then(|r| r.err()), reset.value().get().and_then(|r| r.err())]
            .into_iter()
            .flatten()
            .next()
    });
    let create_error = last_error(create.value());
    let create_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            if let Some(form) = create_form.get() {
                form.reset();
            }
        }
    });

    view! {
        <Title text="Users"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(AppError::NotFound) => Either::Left(view! { <NotFound/> }),
                    Err(e) => Either::Right(Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> })),
                    Ok(p) => Either::Right(Either::Right(view! {
                        <h1>"Users"</h1>
                        <AdminTabs/>
                        <FormAlert error=row_error/>
                        {move || matches!(reset.value().get(), Some(Ok(()))).then(|| view! {
                            <div class="alert success" role="status">"Password reset and the user signed out everywhere. Tell them their new password over a safe channel."</div>
                        })}
                        <section class="card">
                            <table class="table" data-test="users-table">
                                <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col">"Status"</th><th scope="col">"Created"</th><th scope="col">"Actions"</th></tr></thead>
                                <tbody>
                                    {p.users.into_iter().map(|u| view! { <UserRow user=u me=p.me disable role reset/> }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                        <section class="card">
                            <h2>"Add a user"</h2>
                            <ActionForm action=create node_ref=create_form attr:aria-label="Add a user">
                                <FormAlert error=create_error/>
                                <div class="grid2">
                                    <div class="field">
                                        <label for="new-email">"Email"</label>
                                        <input id="new-email" name="email" type="email" required maxlength="254" aria-describedby="email-error"/>
                                        <FieldError error=create_error field="email"/>
                                    </div>
                                    <div class="field">
                                        <label for="new-name">"Full name"</label>
                                        <input id="new-name" name="full_name" maxlength="140" aria-describedby="full_name-error"/>
                                        <FieldError error=create_error field="full_name"/>
                                    </div>
                                    <div class="field">
                                        <label for="new-password">"Password"</label>
                                        <input id="new-password" name="password" type="password" autocomplete="new-password" required minlength="12" aria-describedby="password-error"/>
                                        <FieldError error=create_error field="password"/>
                                    </div>
                                    <div class="field">
                                        <label for="new-role">"Role"</label>
                                        <select id="new-role" name="role">
                                            <option value="user" selected>"User"</option>
                                            <option value="admin">"System Manager"</option>
                                        </select>
                                        <FieldError error=create_error field="role"/>
                                    </div>
                                    <div class="field">
                                        <label for="new-tz">"Time zone"</label>
                                        <select id="new-tz" name="time_zone">
                                            {p.time_zones.into_iter().map(|z| {
                                                let selected = z == p.default_tz;
                                                view! { <option value=z.clone() selected=selected>{z.clone()}</option> }
                                            }).collect_view()}
                                        </select>
                                        <FieldError error=create_error field="time_zone"/>
                                    </div>
                                </div>
                                {move || create.value().get().and_then(|r| r.ok()).map(|u| view! {
                                    <div class="alert success" role="status" data-test="user-created">"Created " {u.email} "."</div>
                                })}
                                <Submit pending=create.pending() label="Add user" busy="Adding…"/>
                            </ActionForm>
                        </section>
                    })),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserRow(
    user: UserView,
    me: i64,
    disable: ServerAction<SetUserDisabled>,
    role: ServerAction<SetUserRole>,
    reset: ServerAction<ResetPassword>,
) -> impl IntoView {
    let id = user.id;
    let email = user.email.clone();
    let is_me = user.id == me;
    let (next_role, next_role_label) = if user.is_admin { ("user", "Make User") } else { ("admin", "Make System Manager") };
    view! {
        <tr data-test="user-row" data-email=user.email.clone() class:muted-row=user.disabled>
            <td>
                <strong>{user.display_name.clone()}</strong>
                {(user.display_name != user.email).then(|| view! { <div class="muted small">{user.email.clone()}</div> })}
                {is_me.then(|| view! { <span class="badge">"you"</span> })}
            </td>
            <td>{user.role_label.clone()}</td>
            <td>
                {if user.disabled {
                    Either::Left(view! { <span class="status status-muted">"Disabled"</span> })
                } else {
                    Either::Right(view! { <span class="status status-ok">"Active"</span> })
                }}
            </td>
            <td class="nowrap">{user.created.clone()}</td>
            <td><div class="row-actions">
                {(!is_me).then(|| view! {
                    <ActionForm action=disable attr:class="inline">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                        <button type="submit" class="button small">{if user.disabled { "Enable" } else { "Disable" }}</button>
                    </ActionForm>
                })}
                <ActionForm action=role attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="role" value=next_role/>
                    <button type="submit" class="button small">{next_role_label}</button>
                </ActionForm>
                <details class="inline-details">
                    <summary class="button small">"Reset password"</summary>
                    <ActionForm action=reset attr:class="inline">
                        <input type="hidden" name="id" value=id/>
                        <label class="visually-hidden" for=format!("reset-{id}")>"New password for " {email}</label>
                        <input id=format!("reset-{id}") name="password" type="password" autocomplete="new-password" minlength="12" required placeholder="New password"/>
                        <button type="submit" class="button small primary">"Set"</button>
                    </ActionForm>
                </details>
            </div></td>
        </tr>
    }
}
