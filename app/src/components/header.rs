use crate::Auth;
use leptos::{either::Either, prelude::*};
use leptos_router::components::A;

/// The app shell's header: product name, navigation, the signed-in user and sign-out.
#[component]
pub fn Header() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◷"</span>
                "calsync"
            </a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match auth.me.await {
                        Ok(Some(user)) => Either::Left(view! {
                            <nav class="nav" aria-label="Main">
                                <A href="/" exact=true>"Home"</A>
                                <A href="/calendars">"Calendars"</A>
                                <A href="/sync">"Sync"</A>
                                <A href="/availability">"Availability"</A>
                                <A href="/find-a-time">"Find a time"</A>
                                <A href="/bookings">"Bookings"</A>
                                <A href="/conflicts">"Conflicts"</A>
                                {user.is_admin.then(|| view! { <A href="/admin/sync-health">"Admin"</A> })}
                            </nav>
                            <div class="account">
                                <A href="/profile" attr:class="account-name" attr:title="Your profile">
                                    {user.display_name.clone()}
                                </A>
                                <A href="/settings/working-hours" attr:class="account-link">"Working hours"</A>
                                <A href="/settings/export" attr:class="account-link">"Calendar export"</A>
                                <A href="/settings/tokens" attr:class="account-link">"API tokens"</A>
                                <ActionForm action=auth.sign_out attr:class="inline">
                                    <button type="submit" class="button subtle">"Sign out"</button>
                                </ActionForm>
                            </div>
                        }),
                        _ => Either::Right(()),
                    }
                })}
            </Transition>
        </header>
    }
}
