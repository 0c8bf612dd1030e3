//! Admin → Teams: create a team, change its name and members, remove it.
use crate::{
    api::teams::{list_teams, CreateTeam, DeleteTeam, TeamView, UpdateTeam},
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
pub fn AdminTeamsPage() -> impl IntoView {
    let create = ServerAction::<CreateTeam>::new();
    let update = ServerAction::<UpdateTeam>::new();
    let delete = ServerAction::<DeleteTeam>::new();
    let page = Resource::new(move || (create.version().get(), update.version().get(), delete.version().get()), |_| list_teams());
    let create_error = last_error(create.value());
    let row_error =
        Signal::derive(move || [update.value().get().and_then(|r| r.err()), delete.value().get().and_then(|r| r.err())].into_iter().flatten().next());
    let said = move || [create.value().get(), update.value().get(), delete.value().get()].into_iter().flatten().filter_map(|r| r.ok()).next_back();
    let create_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            if let Some(form) = create_form.get() {
                form.reset();
            }
        }
    });
    view! {
        <Title text="Teams"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(AppError::NotFound) => Either::Left(view! { <NotFound/> }),
                    Err(e) => Either::Right(Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> })),
                    Ok(p) => Either::Right(Either::Right(view! {
                        <h1>"Teams"</h1>
                        <AdminTabs/>
                        <p class="muted">"A booking for a team goes to a member who is free for the whole meeting by their working hours and rules: the one whose last booking of the team is oldest."</p>
                        {move || said().map(|m| view! { <div class="alert success" role="status" data-test="team-saved">{m}</div> })}
                        <FormAlert error=row_error/>
                        {if p.teams.is_empty() {
                            Either::Left(view! { <section class="card"><p class="muted" data-test="no-teams">"No teams yet. Create one below, then find a time for it under Find a time."</p></section> })
                        } else {
                            Either::Right(p.teams.into_iter().map(|t| view! { <TeamCard t update delete/> }).collect_view())
                        }}
                        <section class="card">
                            <h2>"New team"</h2>
                            <ActionForm action=create node_ref=create_form attr:aria-label="New team">
                                <FormAlert error=create_error/>
                                <div class="field">
                                    <label for="team-name">"Name"</label>
                                    <input id="team-name" name="name" maxlength="140" required aria-describedby="name-error"/>
                                    <FieldError error=create_error field="name"/>
                                </div>
                                <div class="field">
                                    <label for="team-members">"Members"</label>
                                    <textarea id="team-members" name="members" rows="3" aria-describedby="team-members-help members-error"></textarea>
                                    <p class="help" id="team-members-help">"Email addresses, separated by commas or lines."</p>
                                    <FieldError error=create_error field="members"/>
                                </div>
                                <div class="actions"><Submit pending=create.pending() label="Create team" busy="Creating…"/></div>
                            </ActionForm>
                        </section>
                    })),
                }
            })}
        </Transition>
    }
}

#[component]
fn TeamCard(t: TeamView, update: ServerAction<UpdateTeam>, delete: ServerAction<DeleteTeam>) -> impl IntoView {
    let key = t.name.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-");
    let (name_id, members_id) = (format!("team-{key}-name"), format!("team-{key}-members"));
    let count = t.members.len();
    let (edit_label, remove_label, remove_text, name) =
        (format!("Edit {}", t.name), format!("Remove {}", t.name), format!("Remove {}", t.name), t.name.clone());
    view! {
        <section class="card" data-test="team">
            <h2>{t.name.clone()}" "<span class="badge">{format!("{count} member{}", if count == 1 { "" } else { "s" })}</span></h2>
            <ActionForm action=update attr:aria-label=edit_label>
                <input type="hidden" name="team" value=t.name.clone()/>
                <div class="grid2">
                    <div class="field">
                        <label for=name_id.clone()>"Name"</label>
                        <input id=name_id name="name" value=t.name.clone() maxlength="140" required/>
                    </div>
                    <div class="field">
                        <label for=members_id.clone()>"Members"</label>
                        <textarea id=members_id name="members" rows="3">{t.members.join("\n")}</textarea>
                    </div>
                </div>
                <div class="actions">
                    <Submit pending=update.pending() label="Save team" busy="Saving…"/>
                </div>
            </ActionForm>
            <ActionForm action=delete attr:class="inline" attr:aria-label=remove_label>
                <input type="hidden" name="team" value=name/>
                <button type="submit" class="button subtle danger">{remove_text}</button>
            </ActionForm>
        </section>
    }
}
