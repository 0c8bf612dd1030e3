//! `GET /ics/{token}.ics`: an export link's feed. A wrong or revoked token is a plain 404;
//! `ETag` and `Last-Modified` let calendar apps ask again cheaply (304).
use super::AppState;
use axum::{
    extract::Path,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use chrono::NaiveDateTime;
use server::domain::exports;

const HTTP_DATE: &str = "%a, %d %b %Y %H:%M:%S GMT";

fn not_found() -> Response {
    server::metrics::export_request("unknown", "not_found");
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found.\n").into_response()
}

/// Unchanged since what the client holds? `If-None-Match` decides when present (RFC 9110).
fn unchanged(headers: &HeaderMap, etag: &str, modified: NaiveDateTime) -> bool {
    if let Some(tags) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return tags.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == etag || t == "*");
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| NaiveDateTime::parse_from_str(v.trim(), HTTP_DATE).ok())
        .is_some_and(|since| modified.and_utc().timestamp() <= since.and_utc().timestamp())
}

pub async fn feed(Extension(state): Extension<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(token) = file.strip_suffix(".ics").filter(|t| !t.is_empty() && t.len() <= 100) else {
        return not_found();
    };
    let rendered = async {
        let mut pooled = state.pool.get().await?;
        let mut conn = pooled.conn();
        let Some(link) = exports::open(&mut conn, token).await? else { return Ok(None) };
        let signature = exports::feed::signature(&mut conn, &link).await?;
        // Made from the same as last time and the client has that: no need to write it again.
        if let Some(served) = link.served.as_ref().filter(|s| s.signature == signature) {
            if unchanged(&headers, &served.etag, served.since) {
                return Ok(Some((link.clone(), None, served.etag.clone(), served.since)));
            }
        }
        let feed = exports::feed::render(&mut conn, &link).await?;
        let modified = exports::observe(&mut conn, &link, &feed.etag, &signature).await?;
        let etag = feed.etag.clone();
        Ok::<_, server::domain::Error>(Some((link, Some(feed), etag, modified)))
    };
    let (link, feed, etag, modified) = match rendered.await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "rendering an export feed failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong. It has been logged.\n").into_response();
        }
    };
    let kind = link.kind.as_str();
    let mut out = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""));
    out.insert(header::ETAG, value(&etag));
    out.insert(header::LAST_MODIFIED, value(&modified.format(HTTP_DATE).to_string()));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    let feed = match feed {
        Some(feed) if !unchanged(&headers, &etag, modified) => feed,
        _ => {
            server::metrics::export_request(kind, "not_modified");
            return (StatusCode::NOT_MODIFIED, out).into_response();
        }
    };
    server::metrics::export_request(kind, "served");
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    (StatusCode::OK, out, feed.body).into_response()
}
