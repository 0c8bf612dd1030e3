use crate::{
    components::{
        form::{last_error, Submit},
        notices::use_flash,
    },
    Auth,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let error = last_error(auth.sign_in.value());
    // Without JavaScript a failed sign-in comes back with its message as a flash.
    let flash = use_flash();
    let message = move || error.get().map(|e| e.to_string()).or_else(|| flash.get().flatten().and_then(|f| f.error).map(|e| e.to_string()));
    let show_password = RwSignal::new(false);

    view! {
        <Title text="Sign in"/>
        <section class="card narrow">
            <h1>"Sign in to calsync"</h1>
            <Transition fallback=|| ()>
                {move || message().map(|m| view! { <div class="alert error" role="alert" data-test="login-error">{m}</div> })}
            </Transition>
            <ActionForm action=auth.sign_in>
                <input type="hidden" name="next" value=next/>
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <div class="with-button">
                        <input
                            id="password"
                            name="password"
                            type=move || if show_password.get() { "text" } else { "password" }
                            autocomplete="current-password"
                            required
                        />
                        <button
                            type="button"
                            class="button subtle"
                            data-test="toggle-password"
                            aria-controls="password"
                            aria-pressed=move || show_password.get().to_string()
                            on:click=move |_| show_password.update(|s| *s = !*s)
                        >
                            {move || if show_password.get() { "Hide" } else { "Show" }}
                        </button>
                    </div>
                </div>
                <Submit pending=auth.sign_in.pending() label="Sign in" busy="Signing in…"/>
            </ActionForm>
            <p class="muted small">"No account yet? Ask your calsync administrator to create one."</p>
        </section>
    }
}
