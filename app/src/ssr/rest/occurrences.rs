//! `/api/v1/bookings/{id}/occurrences/{recurrence_id}`: one occurrence of a recurring booking,
//! named by its original start (RFC 3339; `20261209T090000Z` too), moved, retitled or
//! cancelled while the rest of the series stays.
use std::collections::BTreeMap;

use super::bookings::{booked_or_busy, id_of, one, BookingJson, ClashJson};
use super::{body, rfc3339, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::merge::Occurrence;
use server::domain::{bookings as bk, FieldMessage};
use utoipa::ToSchema;

/// An occurrence that differs from its series: cancelled, or with its own title or times
/// (the fields left out follow the series).
#[derive(Debug, Serialize, ToSchema)]
pub struct OccurrenceJson {
    pub cancelled: bool,
    pub title: Option<String>,
    /// RFC 3339, UTC
    pub start: Option<String>,
    pub end: Option<String>,
}

impl OccurrenceJson {
    /// The changed occurrences, keyed by original start.
    pub fn map(o: &BTreeMap<String, Occurrence>) -> BTreeMap<String, OccurrenceJson> {
        o.iter()
            .map(|(k, o)| (k.clone(), OccurrenceJson { cancelled: o.cancelled, title: o.title.clone(), start: o.start.map(rfc3339), end: o.end.map(rfc3339) }))
            .collect()
    }
}

/// `{"version", "title"?, "start"?, "end"?, "allow_conflict"?}`: the fields sent change; the
/// others stay as the occurrence has them. Naive times are read in the booking's zone.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct OccurrenceChanges {
    /// The booking's version you read; a booking changed since is 409.
    pub version: i64,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub allow_conflict: Option<bool>,
}

/// `{"version"?}`: with a version, a booking changed since is 409.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct OccurrenceCancel {
    pub version: Option<i64>,
}

fn read_changes(bytes: &[u8]) -> Result<bk::OccurrenceChanges, ApiError> {
    let object = body::object(bytes)?;
    let mut errors = Vec::new();
    let mut ch = bk::OccurrenceChanges::default();
    for (key, v) in &object {
        let text = |errors: &mut Vec<FieldMessage>| body::string(key, v, errors);
        match key.as_str() {
            "version" => ch.version = body::version(key, v, &mut errors).unwrap_or_default(),
            "title" => ch.title = text(&mut errors),
            "start" => ch.start = text(&mut errors),
            "end" => ch.end = text(&mut errors),
            "allow_conflict" => ch.allow_conflict = body::boolean(key, v, &mut errors).unwrap_or(false),
            other => errors.push(FieldMessage::new(other, format!("Unknown field '{other}'."))),
        }
    }
    if !object.contains_key("version") {
        errors.push(FieldMessage::new("version", body::MSG_VERSION_REQUIRED));
    }
    if errors.is_empty() {
        Ok(ch)
    } else {
        Err(ApiError::invalid(errors))
    }
}

fn read_cancel(bytes: &[u8]) -> Result<Option<i64>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let object = body::object(bytes)?;
    let mut errors = Vec::new();
    let mut version = None;
    for (key, v) in &object {
        match key.as_str() {
            "version" => version = body::version(key, v, &mut errors),
            other => errors.push(FieldMessage::new(other, format!("Unknown field '{other}'."))),
        }
    }
    if errors.is_empty() {
        Ok(version)
    } else {
        Err(ApiError::invalid(errors))
    }
}

#[utoipa::path(patch, path = "/api/v1/bookings/{id}/occurrences/{recurrence_id}", operation_id = "update_occurrence",
    params(("id" = i64, Path), ("recurrence_id" = String, Path, description = "The occurrence's original start, RFC 3339 (2026-12-09T09:00:00Z)")),
    request_body = OccurrenceChanges, security(("bearer" = [])),
    responses((status = 200, body = BookingJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ClashJson), (status = 422, body = ErrorBody)))]
pub async fn update(State(state): State<AppState>, caller: ApiUser, Path((id, key)): Path<(String, String)>, bytes: Bytes) -> Result<Response, ApiError> {
    let id = id_of(&id)?;
    let changes = read_changes(&bytes)?;
    let outcome = {
        let mut pooled = state.pool.get().await?;
        bk::change_occurrence_with_warnings(&mut pooled.conn(), caller.actor(), id, &key, &caller.by().actor, changes).await?
    };
    booked_or_busy(&state, caller.actor(), outcome, StatusCode::OK).await
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/occurrences/{recurrence_id}/cancel", operation_id = "cancel_occurrence",
    params(("id" = i64, Path), ("recurrence_id" = String, Path, description = "The occurrence's original start, RFC 3339 (2026-12-09T09:00:00Z)")),
    request_body(content = Option<OccurrenceCancel>), security(("bearer" = [])),
    responses((status = 200, body = BookingJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: ApiUser,
    Path((id, key)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<BookingJson>, ApiError> {
    let id = id_of(&id)?;
    let version = read_cancel(&bytes)?;
    {
        let mut pooled = state.pool.get().await?;
        bk::cancel_occurrence(&mut pooled.conn(), caller.actor(), id, &key, &caller.by().actor, version).await?;
    }
    state.engine.push_soon(id).await;
    Ok(Json(one(&state, caller.actor(), id).await?))
}
