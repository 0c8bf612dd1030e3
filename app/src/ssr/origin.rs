//! No cross-site writes. A state-changing request that relies on the session cookie (server
//! functions, plain form posts, sign-in, sign-out) must come from a page of this app: its
//! `Origin` (or, when a browser leaves that out, its `Referer`) must be `CALSYNC_PUBLIC_URL`'s.
//! SameSite=Lax alone lets another site post a sign-in form (login CSRF). The REST API is
//! bearer-only and needs no such check.
use super::{http::page, AppState};
use crate::error::AppError;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};

pub async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let expected = state.config.public_origin();
    let came_from = request_origin(req.headers());
    if came_from.as_deref() == Some(expected.as_str()) {
        return next.run(req).await;
    }
    tracing::warn!(origin = came_from.as_deref().unwrap_or("(none)"), path = %req.uri().path(), "refused a write from another origin");
    let message = refusal(&expected, came_from.as_deref());
    if super::wants_html(req.headers()) {
        page(
            StatusCode::FORBIDDEN,
            "Request refused",
            &format!(
                "<h1>This request was refused</h1><p data-test=\"origin-refused\">{}</p>\
             <p><a class=\"button primary\" href=\"{}/\">Open calsync</a></p>",
                html_escape::encode_text(&message),
                html_escape::encode_double_quoted_attribute(&state.config.public_url),
            ),
        )
    } else {
        // A server function called from a page: the page shows the message.
        (StatusCode::FORBIDDEN, Json(AppError::forbidden(message))).into_response()
    }
}

/// The origin the browser says the request came from (normalised), if it says one.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    match value(header::ORIGIN) {
        Some(origin) => server::config::origin_of(origin),
        None => value(header::REFERER).and_then(server::config::origin_of),
    }
}

/// Says which address the app expects, and the setting that names it: someone who opened
/// `localhost:3000` instead of `127.0.0.1:3000` must understand at once.
fn refusal(expected: &str, came_from: Option<&str>) -> String {
    let first = match came_from {
        Some(from) => format!("This request came from {from}, but this calsync server is used at {expected}."),
        None => "This request did not say which page it came from, so calsync cannot tell it from another site's.".to_string(),
    };
    format!(
        "{first} Open {expected} and try again. If people reach calsync at another address, \
         the administrator must set CALSYNC_PUBLIC_URL to that address."
    )
}
