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
