//! The providers' push notifications, outside the session and Origin checks (the provider is
//! no browser).
//!
//! `POST /webhooks/google`: Google's push notifications (no body; the channel, its token and
//! the state in headers). Outside the session and Origin checks: Google is no browser. A known
//! channel with its token queues the calendar (`sync`, the first message, is acknowledged);
//! anything else changes nothing and is logged.
use super::AppState;
use axum::{http::HeaderMap, http::StatusCode, Extension};
use server::domain::webhooks::Heard;

pub async fn google(Extension(state): Extension<AppState>, headers: HeaderMap) -> StatusCode {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_string();
    let (channel, token, resource_state) = (header("x-goog-channel-id"), header("x-goog-channel-token"), header("x-goog-resource-state"));
    if channel.is_empty() || resource_state.is_empty() {
        tracing::warn!("a push notification without a channel or state was ignored");
        return StatusCode::BAD_REQUEST;
    }
    match state.engine.notified(&channel, &token, resource_state != "sync").await {
        Ok(Heard::Refused) => {
            tracing::warn!(channel = %channel, "a push notification for an unknown channel, or with the wrong token, was ignored");
            StatusCode::NOT_FOUND
        }
        Ok(Heard::Queued(id)) => {
            tracing::info!(integration_id = id, "push notification: calendar queued for a sync");
            StatusCode::NO_CONTENT
        }
        Ok(Heard::Acknowledged) => StatusCode::NO_CONTENT,
        // Google retries a 503 with back-off.
        Err(e) => {
            tracing::error!(error = %e, "handling a push notification");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// `POST /webhooks/microsoft`: Graph's validation handshake (`?validationToken=…`, answered at
/// once as text/plain), then change and lifecycle notifications, several per POST, each
/// believed only with a known subscription and its client state. Answers 202: Graph retries
/// anything else for hours, and a refused notification changes nothing either way.
pub async fn microsoft(
    Extension(state): Extension<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = q.get("validationToken") {
        return (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/plain")], token.clone()).into_response();
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::warn!("a Microsoft notification that is not JSON was ignored");
        return StatusCode::BAD_REQUEST.into_response();
    };
    for n in v["value"].as_array().cloned().unwrap_or_default() {
        let (Some(id), Some(client_state)) = (n["subscriptionId"].as_str(), n["clientState"].as_str()) else {
            tracing::warn!("a Microsoft notification without a subscription or client state was ignored");
            continue;
        };
        let lifecycle = n["lifecycleEvent"].as_str();
        match state.engine.notified_lifecycle(id, client_state, true, lifecycle).await {
            Ok(Heard::Refused) => {
                tracing::warn!(subscription = %id, "a Microsoft notification for an unknown subscription, or with the wrong client state, was ignored")
            }
            Ok(Heard::Queued(i)) => tracing::info!(integration_id = i, lifecycle = lifecycle.unwrap_or(""), "push notification: calendar queued for a sync"),
            Ok(Heard::Acknowledged) => {}
            Err(e) => {
                tracing::error!(error = %e, "handling a Microsoft notification");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    StatusCode::ACCEPTED.into_response()
}
