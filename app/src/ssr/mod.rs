//! The server side of the app: state, the HTTP router and its middleware, and the CLI.
pub mod cli;
pub mod http;
pub mod inspect;
pub mod rest;
pub mod serve;

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
        let engine = server::sync::Engine::new(pool.clone(), config.sync.clone());
        AppState { pool, config, keys, engine }
    }
}

/// The signed-in user of this request, resolved once by the auth middleware.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Option<User>);

/// Is the request a browser's plain form post (JavaScript off)? Such a request wants HTML back
/// and follows redirects, so messages travel in the address.
pub async fn is_plain_form_post() -> bool {
    leptos_axum::extract::<axum::http::HeaderMap>()
        .await
        .ok()
        .and_then(|h| h.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(|v| v.contains("text/html")))
        .unwrap_or(false)
}

/// Percent-encodes a text for a query string.
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/calendars?notice=…&warning=…&danger=…`: where a successful save lands, with what to say.
pub fn notice_url(path: &str, result: &crate::api::integrations::ActionResult) -> String {
    let mut parts: Vec<String> = result.messages.iter().map(|m| format!("notice={}", query_escape(m))).collect();
    for w in &result.warnings {
        let key = if w.danger { "danger" } else { "warning" };
        parts.push(format!("{key}={}", query_escape(&w.message)));
    }
    if parts.is_empty() { path.to_string() } else { format!("{path}?{}", parts.join("&")) }
}

/// Back to a form after a refusal without JavaScript: the values typed and the messages travel
/// in the address (`err.FIELD`, `warn.FIELD`), so nothing typed is lost.
pub fn failure_url(path: &str, values: &[(&str, Option<String>)], err: &crate::error::AppError) -> String {
    let mut parts = vec!["failed=1".to_string()];
    for (k, v) in values {
        if let Some(v) = v {
            parts.push(format!("{k}={}", query_escape(v)));
        }
    }
    match err {
        crate::error::AppError::Invalid { errors, warnings } => {
            for e in errors {
                parts.push(format!("err.{}={}", e.field.as_deref().unwrap_or("_"), query_escape(&e.message)));
            }
            for w in warnings {
                parts.push(format!("warn.{}={}", w.field.as_deref().unwrap_or("_"), query_escape(&w.message)));
            }
        }
        other => parts.push(format!("err._={}", query_escape(&other.to_string()))),
    }
    format!("{path}?{}", parts.join("&"))
}
