use leptos::prelude::*;
use leptos_meta::Title;

/// The 404 page; also what a record that is not yours looks like.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="card narrow center" data-test="not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or it may never have existed."</p>
            <p><a class="button primary" href="/">"Go to the start page"</a></p>
        </section>
    }
}
