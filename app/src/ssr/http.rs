//! The router: pages, server functions, health, and the middleware around them.
use super::{AppState, CurrentUser};
use crate::{shell, App};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Extension, Json, Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::time::Instant;
use tower_sessions::{cookie::SameSite, Expiry, Session, SessionManagerLayer};

/// Largest request body accepted (forms and API calls are small).
const BODY_LIMIT: usize = 1024 * 1024;

pub fn router(state: AppState, leptos_options: LeptosOptions) -> Router {
    let routes = route_list();
    let ctx = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let session_layer = SessionManagerLayer::new(server::sessions::DbSessionStore::new(state.pool.clone()))
        .with_name(session_cookie_name(state.config.secure_cookies()))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies())
        .with_always_save(true)
        .with_expiry(Expiry::OnInactivity(time::Duration::try_from(state.config.session_idle).unwrap_or(time::Duration::hours(12))));

    // The app's own routes: sessions and the signed-in user are resolved for these only.
    let app = Router::new()
        .route("/health", get(health))
        .route("/oauth/{provider}/start", get(super::oauth::start))
        .route("/oauth/{provider}/callback", get(super::oauth::callback))
        .nest_service("/api/v1", super::rest::router(state.clone()))
        .leptos_routes_with_context(&leptos_options, routes, ctx.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context(ctx, shell))
        .with_state(leptos_options.clone())
        .layer(middleware::from_fn(super::headers::server_fn_status))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(session_layer)
        .layer(middleware::from_fn_with_state(state.clone(), super::origin::same_origin))
        .layer(Extension(state.clone()));
    // Providers' push notifications: no session, no Origin (the provider is no browser).
    let webhooks = Router::new()
        .route("/webhooks/google", axum::routing::post(super::webhooks::google))
        .route("/webhooks/microsoft", axum::routing::post(super::webhooks::microsoft))
        // Scrapers: no session either; access is the handler's (CALSYNC_METRICS).
        .route("/metrics", get(super::metrics::metrics))
        // Calendar apps fetching export feeds: the token in the address is the credential.
        .route("/ics/{file}", get(super::export::feed))
        .layer(Extension(state.clone()));
    // Static files (wasm, JS, CSS) skip the session store: no database work per asset.
    Router::new()
        .route_service(&leptos_axum::site_pkg_dir_service_route_path(&leptos_options), leptos_axum::site_pkg_dir_service(&leptos_options))
        .merge(webhooks)
        .merge(app)
        .layer(middleware::from_fn(trace_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_page))
        .layer(middleware::from_fn_with_state(state, super::headers::security_headers))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
}

/// The app's routes, worked out once per process: `generate_route_list` renders the app, and
/// doing that while pages are being served left some of their responses hanging for ever
/// (seen when tests built routers in parallel: several responses in 440).
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Over https the cookie carries the `__Host-` prefix: browsers then accept it only when it is
/// Secure, for the whole site and from this host (no sibling subdomain can plant one).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-calsync_session"
    } else {
        "calsync_session"
    }
}

/// 200 when the database answers, 503 otherwise.
async fn health(Extension(state): Extension<AppState>) -> Response {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(3), state.pool.ping()).await;
    match ping.unwrap_or_else(|_| Err(server::db::DbError::Pool("timed out".into()))) {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok", "database": "ok"}))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "database": "unreachable"}))).into_response()
        }
    }
}

/// Paths anyone may open; every other page needs a signed-in user.
fn is_public(path: &str) -> bool {
    path == "/login" || path == "/health" || path.starts_with("/api/") || path == "/favicon.ico" || path == "/favicon.svg"
}

/// Resolves the session's user once per request (for handlers and server functions), and sends
/// signed-out visitors of a page to the sign-in page.
async fn authenticate(State(state): State<AppState>, session: Session, mut req: Request, next: Next) -> Response {
    let user = match server::sessions::current_user(&state.pool, &session, state.config.session_max_age).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!(error = %e, "loading the session's user");
            return error_page(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    if let Some(u) = &user {
        tracing::Span::current().record("user_id", u.id);
    }
    let path = req.uri().path().to_string();
    if user.is_none() && req.method() == axum::http::Method::GET && !is_public(&path) {
        let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let to = if target == "/" { "/login".to_string() } else { format!("/login?next={}", crate::api::query_escape(target)) };
        return Redirect::to(&to).into_response();
    }
    req.extensions_mut().insert(CurrentUser(user));
    next.run(req).await
}

/// The path as logged: an export feed's address is its secret, so only its first characters
/// (what the Calendar export page shows too) are written.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/ics/") {
        Some(file) => format!("/ics/{}…", file.chars().take(6).collect::<String>()).into(),
        None => path.into(),
    }
}

/// One log line per request with its id, user, status and latency.
async fn trace_request(req: Request, next: Next) -> Response {
    let id = format!("{:016x}", rand::random::<u64>());
    let span =
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %loggable_path(req.uri().path()), user_id = tracing::field::Empty);
    let start = Instant::now();
    let mut res = tracing::Instrument::instrument(
        async move {
            let res = next.run(req).await;
            let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
            tracing::info!(status = res.status().as_u16(), latency_ms = format!("{latency_ms:.1}"), "request");
            res
        },
        span,
    )
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

fn panic_page(_: Box<dyn std::any::Any + Send>) -> Response {
    tracing::error!("a request handler panicked");
    error_page(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A friendly page for server errors: no internals.
pub fn error_page(status: StatusCode) -> Response {
    page(
        status,
        "Something went wrong",
        &format!(
            "<h1>Something went wrong</h1><p>Something went wrong. It has been logged.</p><p>Please try again in a moment. ({})</p>\
         <p><a class=\"button primary\" href=\"/\">Go to the start page</a></p>",
            status.as_u16()
        ),
    )
}

/// A page outside the app (no scripts): `content` is trusted HTML.
pub fn page(status: StatusCode, title: &str, content: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · calsync</title><link rel=\"stylesheet\" href=\"/pkg/calsync.css\"></head>\
         <body><main class=\"page\"><section class=\"card narrow center\">{content}</section></main></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], Body::from(body)).into_response()
}
