//! `/api/v1/conflicts`: a booking and its copy in a calendar that changed apart — both
//! versions, the base they came from, what differs, what was taken — and resolving one.
use super::{body, rfc3339, rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::{
    conflicts as cf,
    merge::{Fields, Side},
    FieldMessage,
};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// One version of a meeting.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionJson {
    pub title: String,
    /// RFC 3339, UTC
    pub start: String,
    pub end: String,
    pub location: Option<String>,
    pub description: Option<String>,
    pub attendees: Vec<String>,
    /// The occurrences that differ from the series, by original start; a field
    /// `occurrence:<original start>` names one of them.
    pub occurrences: BTreeMap<String, super::occurrences::OccurrenceJson>,
}

impl VersionJson {
    fn of(f: &Fields) -> Self {
        VersionJson {
            title: f.title.clone(),
            start: rfc3339(f.start),
            end: rfc3339(f.end),
            location: f.location.clone(),
            description: f.description.clone(),
            attendees: f.attendees.clone(),
            occurrences: super::occurrences::OccurrenceJson::map(&f.occurrences),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictJson {
    pub id: i64,
    /// The booking's id.
    pub booking: i64,
    pub booking_title: String,
    /// The member's email.
    pub user: String,
    /// The calendar record's name (null once removed).
    pub integration: Option<String>,
    pub calendar: String,
    /// `open` (nothing changed yet), `decided` (a policy chose; may be overridden) or
    /// `resolved` (a person chose)
    pub state: String,
    /// The calendar's conflict policy when it arose.
    pub policy: String,
    /// The version calsync last wrote: what both sides changed from.
    pub base: VersionJson,
    /// The booking's version.
    pub local: VersionJson,
    /// The calendar's version; null when the copy was deleted there.
    pub remote: Option<VersionJson>,
    /// The fields where local and remote differ.
    pub fields: Vec<String>,
    /// What the outcome took per field: `local` or `remote` (null while open).
    pub outcome: Option<BTreeMap<String, String>>,
    /// The policy or the person that decided, and when (RFC 3339).
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub created_at: String,
}

impl ConflictJson {
    fn of(c: &cf::Conflict) -> Self {
        ConflictJson {
            id: c.id,
            booking: c.booking_id,
            booking_title: c.booking_title.clone(),
            user: c.user.clone(),
            integration: c.integration.clone(),
            calendar: c.calendar.clone(),
            state: c.state.as_str().into(),
            policy: c.policy.clone(),
            base: VersionJson::of(&c.base),
            local: VersionJson::of(&c.local),
            remote: c.remote.as_ref().map(VersionJson::of),
            fields: c.fields.clone(),
            outcome: c.outcome.clone(),
            decided_by: c.decided_by.clone(),
            decided_at: c.decided_at.map(rfc3339_naive),
            created_at: rfc3339_naive(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictListJson {
    pub items: Vec<ConflictJson>,
    pub total: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictQuery {
    /// A member's email (default: you; an admin who names nobody sees everyone's).
    pub user: Option<String>,
    /// `open`, `decided` or `resolved` (default: all, newest first).
    pub state: Option<String>,
    /// Only this booking's.
    pub booking: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/conflicts", operation_id = "list_conflicts", params(ConflictQuery), security(("bearer" = [])),
    responses((status = 200, body = ConflictListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: ApiUser, Query(q): Query<ConflictQuery>) -> Result<Json<ConflictListJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let items = cf::list(&mut pooled.conn(), caller.actor(), q.user.as_deref(), q.booking, q.state.as_deref().map(cf::state_of).transpose()?).await?;
    Ok(Json(ConflictListJson { total: items.len(), items: items.iter().map(ConflictJson::of).collect() }))
}

fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

#[utoipa::path(get, path = "/api/v1/conflicts/{id}", operation_id = "read_conflict", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConflictJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read_one(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>) -> Result<Json<ConflictJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    Ok(Json(ConflictJson::of(&cf::get(&mut pooled.conn(), caller.actor(), id_of(&id)?).await?)))
}

/// `{"take": "local"|"remote"}`, or `{"fields": {"title": "local", "start": "remote", …}}`
/// naming a side for every field that differs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    #[serde(default, deserialize_with = "body::de::string")]
    pub take: Option<String>,
    #[serde(default, deserialize_with = "sides")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// A map from field to side, each side a string (the domain names a side it cannot read).
fn sides<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    use serde::de::Error;
    Option::<BTreeMap<String, String>>::deserialize(d).map_err(|_| D::Error::custom("must map each field to \"local\" or \"remote\""))
}

fn read_choice(bytes: &[u8]) -> Result<cf::Choice, ApiError> {
    let input: ResolveInput = body::read(bytes)?;
    let refuse = |message: String| Err(ApiError::invalid(vec![FieldMessage::new("take", message)]));
    match (input.take, input.fields) {
        (Some(_), Some(_)) => refuse("Send take or fields, not both.".into()),
        (Some(t), None) => match Side::parse(&t) {
            Some(side) => Ok(cf::Choice::Take(side)),
            None => refuse(format!("take '{t}' is neither local nor remote.")),
        },
        (None, Some(fields)) => Ok(cf::Choice::Fields(fields)),
        (None, None) => refuse("Say what to keep: {\"take\": \"local\"} or \"remote\", or {\"fields\": {…}}.".into()),
    }
}

#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", operation_id = "resolve_conflict", params(("id" = i64, Path)), request_body = ResolveInput, security(("bearer" = [])),
    responses((status = 200, body = ConflictJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resolve(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>, bytes: Bytes) -> Result<Json<ConflictJson>, ApiError> {
    let id = id_of(&id)?;
    let choice = read_choice(&bytes)?;
    let resolved = {
        let mut pooled = state.pool.get().await?;
        cf::resolve(&mut pooled.conn(), caller.actor(), id, &caller.by().actor, choice).await?
    };
    state.engine.settled(resolved.booking_id).await;
    Ok(Json(ConflictJson::of(&resolved)))
}

#[utoipa::path(post, path = "/api/v1/conflicts/{id}/undo", operation_id = "undo_conflict_resolution", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ConflictJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn undo(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>) -> Result<Json<ConflictJson>, ApiError> {
    let id = id_of(&id)?;
    let undone = {
        let mut pooled = state.pool.get().await?;
        cf::undo(&mut pooled.conn(), caller.actor(), id, &caller.by().actor).await?
    };
    state.engine.settled(undone.booking_id).await;
    Ok(Json(ConflictJson::of(&undone)))
}
