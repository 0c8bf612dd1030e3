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
/// others stay as the occurrence has them. Naive times are read in the booking's zone. The
/// handler reads the body as this type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OccurrenceChanges {
    /// The booking's version you read; a booking changed since is 409.
    #[serde(default, deserialize_with = "body::de::version")]
    #[schema(required = true, value_type = i64)]
    pub version: Option<i64>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub start: Option<String>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub end: Option<String>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub allow_conflict: Option<bool>,
}

/// `{"version"?}`: with a version, a booking changed since is 409.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OccurrenceCancel {
    #[serde(default, deserialize_with = "body::de::version")]
    pub version: Option<i64>,
}

fn read_changes(bytes: &[u8]) -> Result<bk::OccurrenceChanges, ApiError> {
    let c: OccurrenceChanges = body::read(bytes)?;
    let Some(version) = c.version else {
        return Err(ApiError::invalid(vec![FieldMessage::new("version", body::MSG_VERSION_REQUIRED)]));
    };
    Ok(bk::OccurrenceChanges { version, title: c.title, start: c.start, end: c.end, allow_conflict: c.allow_conflict.unwrap_or(false) })
}

fn read_cancel(bytes: &[u8]) -> Result<Option<i64>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(body::read::<OccurrenceCancel>(bytes)?.version)
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
    state.engine.settled(id).await;
    Ok(Json(one(&state, caller.actor(), id).await?))
}
