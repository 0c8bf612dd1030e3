//! The server side of the app: state, the HTTP router and its middleware, and the CLI.
pub mod cli;
pub mod client;
pub mod export;
pub mod headers;
pub mod http;
pub mod inspect;
pub mod metrics;
pub mod oauth;
pub mod origin;
pub mod rest;
pub mod sandbox;
pub mod serve;
pub mod webhooks;

use server::{config::Config, db::Pool, domain::users::User};

/// What every handler and server function shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    /// Token-encryption keys, checked against the database at start.
    pub keys: server::crypto::Keyring,
    /// The sync engine ("Sync now" runs in this process).
    pub engine: server::sync::Engine,
}

impl AppState {
    pub fn new(pool: Pool, config: Config, keys: server::crypto::Keyring) -> AppState {
        let engine = server::sync::Engine::new(pool.clone(), keys.clone(), config.sync.clone());
        AppState { pool, config, keys, engine }
    }
}

/// The signed-in user of this request, resolved once by the auth middleware.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Option<User>);

/// Is the request a browser's plain form post (JavaScript off)? Such a request wants HTML back
/// and follows redirects, so messages travel in the address.
pub async fn is_plain_form_post() -> bool {
    leptos_axum::extract::<axum::http::HeaderMap>().await.is_ok_and(|h| wants_html(&h))
}

/// Does the request accept HTML (a browser navigating, not a page's `fetch`)?
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}
