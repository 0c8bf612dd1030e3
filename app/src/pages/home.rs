use crate::Auth;
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <Title text="Home"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match auth.me.await {
                    Ok(Some(user)) => Either::Left(view! {
                        <section class="card">
                            <h1 data-test="welcome">"Welcome, " {user.display_name.clone()}</h1>
                            <p class="muted">"Signed in as " {user.email.clone()} " · " {user.role_label.clone()} " · time zone " {user.time_zone.clone()}</p>
                            <p>
                                "calsync keeps your Google, Outlook and iCal calendars in step with your bookings: "
                                "events in your calendars block your availability. Check that your time zone is right: "
                                "every time calsync shows you is in it."
                            </p>
                            <p class="actions">
                                <a class="button primary" href="/calendars">"Your calendars"</a>
                                <a class="button" href="/profile">"Your profile"</a>
                                {user.is_admin.then(|| view! { <a class="button" href="/admin/users">"Manage users"</a> })}
                            </p>
                        </section>
                    }),
                    _ => Either::Right(view! {
                        <section class="card narrow">
                            <h1>"calsync"</h1>
                            <p>"Please " <a href="/login">"sign in"</a> " to continue."</p>
                        </section>
                    }),
                }
            })}
        </Transition>
    }
}
