use crate::{
    api::profile::{get_profile, ChangePassword, UpdateProfile},
    components::form::{last_error, FieldError, FormAlert, Submit},
    Auth,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let update = ServerAction::<UpdateProfile>::new();
    let change = ServerAction::<ChangePassword>::new();
    // Loaded once: the form keeps what the person typed, also after an error.
    let profile = Resource::new(|| (), |_| get_profile());
    let update_error = last_error(update.value());
    let change_error = last_error(change.value());
    let password_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = update.value().get() {
            auth.refresh.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            if let Some(form) = password_form.get() {
                form.reset();
            }
        }
    });

    view! {
        <Title text="Profile"/>
        <h1>"Your profile"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                profile.await.map(|p| {
                    let tz = p.user.time_zone.clone();
                    view! {
                        <section class="card">
                            <h2>"Details"</h2>
                            <ActionForm action=update attr:aria-label="Details">
                                <FormAlert error=update_error/>
                                <div class="field">
                                    <label for="email">"Email"</label>
                                    <input id="email" type="email" value=p.user.email.clone() readonly aria-describedby="email-help"/>
                                    <p class="help" id="email-help">"Your sign-in address."</p>
                                </div>
                                <div class="field">
                                    <label for="full_name">"Full name"</label>
                                    <input id="full_name" name="full_name" value=p.user.full_name.clone() maxlength="140" autocomplete="name" aria-describedby="full_name-error"/>
                                    <FieldError error=update_error field="full_name"/>
                                </div>
                                <div class="field">
                                    <label for="time_zone">"Time zone"</label>
                                    <select id="time_zone" name="time_zone" aria-describedby="time_zone-error">
                                        {p.time_zones.into_iter().map(|z| {
                                            let selected = z == tz;
                                            view! { <option value=z.clone() selected=selected>{z.clone()}</option> }
                                        }).collect_view()}
                                    </select>
                                    <FieldError error=update_error field="time_zone"/>
                                </div>
                                {move || matches!(update.value().get(), Some(Ok(_))).then(|| view! {
                                    <div class="alert success" role="status" data-test="profile-saved">"Profile saved."</div>
                                })}
                                <Submit pending=update.pending() label="Save details" busy="Saving…"/>
                            </ActionForm>
                        </section>
                    }
                })
            })}
        </Transition>
        <section class="card">
            <h2>"Password"</h2>
            <ActionForm action=change node_ref=password_form attr:aria-label="Password">
                <FormAlert error=change_error/>
                <div class="field">
                    <label for="current_password">"Current password"</label>
                    <input id="current_password" name="current_password" type="password" autocomplete="current-password" required aria-describedby="current_password-error"/>
                    <FieldError error=change_error field="current_password"/>
                </div>
                <div class="field">
                    <label for="new_password">"New password"</label>
                    <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="12" aria-describedby="new_password-help new_password-error"/>
                    <p class="help" id="new_password-help">"At least 12 characters, and not one of the passwords common in breaches. A few unrelated words make a good one."</p>
                    <FieldError error=change_error field="new_password"/>
                </div>
                <div class="field">
                    <label for="confirm_password">"New password again"</label>
                    <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-describedby="confirm_password-error"/>
                    <FieldError error=change_error field="confirm_password"/>
                </div>
                {move || matches!(change.value().get(), Some(Ok(()))).then(|| view! {
                    <div class="alert success" role="status" data-test="password-changed">"Password changed. You stay signed in here; every other browser signed in as you has been signed out."</div>
                })}
                <Submit pending=change.pending() label="Change password" busy="Changing…"/>
            </ActionForm>
        </section>
    }
}
