//! The calsync web app: pages rendered on the server and hydrated in the browser.
pub mod api;
pub mod components;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use api::auth::{get_me, SignIn, SignOut};
use components::header::Header;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::headers::provide_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Who is signed in, shared by the header and the pages. `refresh` is bumped after a change to
/// the signed-in user (profile saved) so the header follows.
#[derive(Clone, Copy)]
pub struct Auth {
    pub me: Resource<Result<Option<api::UserView>, error::AppError>>,
    pub sign_in: ServerAction<SignIn>,
    pub sign_out: ServerAction<SignOut>,
    pub refresh: RwSignal<u32>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let sign_in = ServerAction::<SignIn>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let refresh = RwSignal::new(0u32);
    let me = Resource::new(move || (sign_in.version().get(), sign_out.version().get(), refresh.get()), |_| get_me());
    provide_context(Auth { me, sign_in, sign_out, refresh });

    view! {
        <Stylesheet id="leptos" href="/pkg/calsync.css"/>
        <Title formatter=|t: String| if t.is_empty() { "calsync".to_string() } else { format!("{t} · calsync") }/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header/>
            <main id="main" class="page">
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage/>
                    <Route path=path!("/login") view=pages::login::LoginPage/>
                    <Route path=path!("/profile") view=pages::profile::ProfilePage/>
                    <Route path=path!("/settings/tokens") view=pages::tokens::TokensPage/>
                    <Route path=path!("/settings/export") view=pages::exports::ExportsPage/>
                    <Route path=path!("/settings/working-hours") view=pages::working_hours::WorkingHoursPage/>
                    <Route path=path!("/find-a-time") view=pages::find_time::FindTimePage/>
                    <Route path=path!("/calendars") view=pages::calendars::CalendarsPage/>
                    <Route path=path!("/calendars/new") view=pages::calendar_form::CalendarFormPage/>
                    <Route path=path!("/calendars/:name") view=pages::calendar_form::CalendarFormPage ssr=SsrMode::Async/>
                    <Route path=path!("/connect/:account") view=pages::connect::ConnectPage/>
                    <Route path=path!("/sync") view=pages::sync::SyncPage/>
                    <Route path=path!("/availability") view=pages::availability::AvailabilityPage/>
                    <Route path=path!("/bookings") view=pages::bookings::BookingsPage/>
                    <Route path=path!("/conflicts") view=pages::conflicts::ConflictsPage/>
                    <Route path=path!("/history") view=pages::history::HistoryPage/>
                    <Route path=path!("/conflicts/:id") view=pages::conflicts::ConflictPage ssr=SsrMode::Async/>
                    // Async: these answer 404 for records that are not yours, so the status must be
                    // known before the first byte is sent.
                    <Route path=path!("/admin/users") view=pages::admin_users::AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/teams") view=pages::admin_teams::AdminTeamsPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/audit") view=pages::admin_audit::AdminAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/sync-health") view=pages::admin_health::AdminHealthPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
