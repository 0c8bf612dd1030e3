//! `GET /metrics` in Prometheus text format. By default (`CALSYNC_METRICS=protected`) only
//! loopback clients — the client as `CALSYNC_TRUSTED_PROXIES` reveals it, so a reverse proxy on
//! the same host does not make everyone local — and admin API tokens may read it.
use super::AppState;
use axum::{
    extract::{ConnectInfo, Request},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use server::config::MetricsAccess;
use std::net::SocketAddr;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(Extension(state): Extension<AppState>, req: Request) -> Response {
    match state.config.metrics {
        MetricsAccess::Off => return StatusCode::NOT_FOUND.into_response(),
        MetricsAccess::Open => {}
        MetricsAccess::Protected => {
            let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
            if !allowed(&state, peer, req.headers().clone()).await {
                let text = "Metrics are served to loopback clients and to admin API tokens (Authorization: Bearer …). CALSYNC_METRICS=open|protected|off changes that.\n";
                return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
            }
        }
    }
    let rendered = match state.pool.get().await {
        Ok(mut pooled) => server::metrics::render(&mut pooled.conn()).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match rendered {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong. It has been logged.\n").into_response()
        }
    }
}

async fn allowed(state: &AppState, peer: Option<std::net::IpAddr>, headers: axum::http::HeaderMap) -> bool {
    let trusted = &state.config.trusted_proxies;
    // Through a proxy calsync does not trust, a loopback peer is the proxy, not the client.
    let unvouched = super::client::forwarded(&headers) && !peer.is_some_and(|p| trusted.iter().any(|n| n.contains(&p)));
    if !unvouched && super::client::client_ip(peer, &headers, trusted).is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    let Some(token) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
        return false;
    };
    let Ok(mut pooled) = state.pool.get().await else { return false };
    matches!(server::domain::api_tokens::authenticate(&mut pooled.conn(), token).await, Ok(Some(user)) if user.is_admin())
}
