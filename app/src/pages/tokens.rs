//! Settings → API tokens: create (shown once), list, revoke.
use crate::{
    api::tokens::{list_tokens, CreateToken, RevokeToken},
    components::form::{last_error, FieldError, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let create_error = last_error(create.value());
    view! {
        <Title text="API tokens"/>
        <h1>"API tokens"</h1>
        <p class="muted">
            "A token lets a program act as you through the calsync API (" <code>"/api/v1"</code> ", described at "
            <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a> "). Send it as " <code>"Authorization: Bearer …"</code> "."
        </p>
        {move || create.value().get().and_then(|r| r.ok()).map(|t| view! {
            <div class="alert success new-token" role="status">
                <p><strong>"Token “" {t.label} "” created."</strong> " Copy it now: it is not shown again."</p>
                <code class="token" data-test="new-token">{t.token}</code>
            </div>
        })}
        <section class="card">
            <h2>"Create a token"</h2>
            <ActionForm action=create attr:aria-label="Create a token">
                <FormAlert error=create_error/>
                <div class="field">
                    <label for="label">"What is it for?"</label>
                    <input id="label" name="label" maxlength="100" placeholder="e.g. booking system" aria-describedby="label-error"/>
                    <FieldError error=create_error field="label"/>
                </div>
                <div class="field">
                    <label for="expires_in_days">"Expires"</label>
                    <select id="expires_in_days" name="expires_in_days" aria-describedby="expires_in_days-help expires_in_days-error">
                        <option value="">"Never (until revoked)"</option>
                        <option value="7">"In 7 days"</option>
                        <option value="30">"In 30 days"</option>
                        <option value="90" selected>"In 90 days"</option>
                        <option value="365">"In a year"</option>
                    </select>
                    <p class="help" id="expires_in_days-help">"An expired token opens nothing; create a new one when it runs out."</p>
                    <FieldError error=create_error field="expires_in_days"/>
                </div>
                <Submit pending=create.pending() label="Create token" busy="Creating…"/>
            </ActionForm>
        </section>
        <section class="card">
            <h2>"Your tokens"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    tokens.await.map(|list| if list.is_empty() {
                        Either::Left(view! { <p class="muted" data-test="no-tokens">"No tokens yet."</p> })
                    } else {
                        Either::Right(view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Label"</th><th scope="col">"Token"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| view! {
                                        <tr data-test="token-row">
                                            <td>{t.label}</td><td><code>{t.prefix}</code></td><td>{t.created}</td><td data-test="token-last-used">{t.last_used}</td>
                                            <td data-test="token-expires" class=if t.expired { "status-error" } else { "" }>{t.expires}</td>
                                            <td>
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="id" value=t.id/>
                                                    <button type="submit" class="button small subtle-danger">"Revoke"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        })
                    })
                })}
            </Transition>
        </section>
    }
}
