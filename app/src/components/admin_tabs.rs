//! The admin area's sections.
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn AdminTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Admin">
            <A href="/admin/sync-health">"Sync health"</A>
            <A href="/admin/users">"Users"</A>
            <A href="/admin/teams">"Teams"</A>
            <A href="/admin/audit">"Audit"</A>
        </nav>
    }
}
