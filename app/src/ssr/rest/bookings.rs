//! `/api/v1/bookings`: meetings the booking side makes for a member, checked against the
//! member's availability first (a clash is 409 naming what is in the way).
use super::{body, rfc3339, rfc3339_naive, ApiError, ApiUser, ErrorBody, Message};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::{availability as av, bookings as bk, FieldMessage};
use utoipa::{IntoParams, ToSchema};

/// A booking.
#[derive(Debug, Serialize, ToSchema)]
pub struct BookingJson {
    pub id: i64,
    /// The member's email.
    pub user: String,
    /// The team it was booked for (its member picked from it).
    pub team: Option<String>,
    pub title: String,
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
    /// The zone it was booked (and recurs) in.
    pub time_zone: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub attendees: Vec<String>,
    /// `RRULE:…`
    pub recurrence: Option<String>,
    /// `confirmed` or `cancelled`
    pub status: String,
    pub notify_attendees: bool,
    pub version: i64,
    /// The occurrences of a recurring booking that differ from its series, by original start
    /// (RFC 3339, UTC): change one with `PATCH …/occurrences/{recurrence_id}`.
    pub occurrences: std::collections::BTreeMap<String, super::occurrences::OccurrenceJson>,
    /// The copies written to the member's calendars: one per calendar written to.
    pub copies: Vec<CopyJson>,
    /// Only in the answer to a create or a change: the member's calendars calsync could not
    /// check the booking against (Failed, Stale or Never synced, as in availability's
    /// `degraded`), each with its `warning`; empty when all were checked (or the times did not
    /// change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<Vec<super::availability::DegradedJson>>,
    pub created_by: String,
    pub created_at: String,
    pub modified_at: String,
}

/// A booking's copy in one of the member's calendars.
#[derive(Debug, Serialize, ToSchema)]
pub struct CopyJson {
    /// The calendar record's name (`null` once the record was removed).
    pub integration: Option<String>,
    /// The calendar's display name.
    pub calendar: String,
    /// The event's id in the calendar, once written.
    pub external_id: Option<String>,
    #[schema(value_type = String, example = "written")]
    /// `pending`, `written` or `failed`
    pub state: vocab::CopyState,
    /// Why the last write failed.
    pub error: Option<String>,
    /// Why the copy is no longer kept up to date, or that it was deleted with the booking.
    pub note: Option<String>,
    /// When a failed write is tried again (RFC 3339).
    pub next_try: Option<String>,
}

impl CopyJson {
    fn of(c: &server::domain::push_queue::CopyView) -> Self {
        CopyJson {
            integration: c.integration.clone(),
            calendar: c.calendar.clone(),
            external_id: c.external_id.clone(),
            state: c.state,
            error: c.error.clone(),
            note: c.note.clone(),
            next_try: c.due_at.filter(|_| c.state == vocab::CopyState::Failed).map(rfc3339_naive),
        }
    }
}

/// Bookings with their copies, as the API answers them.
async fn with_copies(conn: &mut server::db::Conn<'_>, items: &[bk::Booking]) -> Result<Vec<BookingJson>, ApiError> {
    let ids: Vec<i64> = items.iter().map(|b| b.id).collect();
    let copies = server::domain::push_queue::of(conn, &ids).await?;
    Ok(items
        .iter()
        .map(|b| {
            let mut j = BookingJson::of(b);
            j.copies = copies.iter().filter(|c| c.booking_id == b.id).map(CopyJson::of).collect();
            j
        })
        .collect())
}

pub(super) async fn one(state: &AppState, actor: server::domain::Actor, id: i64) -> Result<BookingJson, ApiError> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let b = bk::get(&mut conn, actor, id).await?;
    Ok(with_copies(&mut conn, std::slice::from_ref(&b)).await?.remove(0))
}

impl BookingJson {
    fn of(b: &bk::Booking) -> Self {
        BookingJson {
            id: b.id,
            user: b.user.clone(),
            team: b.team.clone(),
            title: b.title.clone(),
            start: rfc3339_naive(b.start),
            end: rfc3339_naive(b.end),
            time_zone: b.time_zone.clone(),
            description: b.description.clone(),
            location: b.location.clone(),
            attendees: b.attendees.clone(),
            recurrence: b.recurrence.clone(),
            status: b.status.clone(),
            notify_attendees: b.notify_attendees,
            version: b.version,
            occurrences: super::occurrences::OccurrenceJson::map(&b.exceptions),
            copies: Vec::new(),
            degraded: None,
            created_by: b.created_by.clone(),
            created_at: rfc3339_naive(b.created_at),
            modified_at: rfc3339_naive(b.modified_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BookingListJson {
    pub items: Vec<BookingJson>,
    pub total: usize,
}

/// A refused booking: one message per thing in the way, and the things in the availability
/// check's shape. An out-of-date fail-closed calendar is in the way too, its message saying
/// which and why ("'Work' has not synced since 09:12, and its policy is fail-closed: …").
#[derive(Debug, Serialize, ToSchema)]
pub struct ClashJson {
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
    pub conflicts: Vec<super::availability::ConflictJson>,
    /// The member's calendars calsync could not check (Failed, Stale or Never synced).
    pub degraded: Vec<super::availability::DegradedJson>,
}

/// `{"user"? | "team"?, "title", "start", "end", "time_zone", "description"?, "location"?,
/// "attendees"?, "recurrence"?, "allow_conflict"?, "notify_attendees"?}`. With `team`, calsync
/// picks the member: free for the whole meeting by their rules, the one whose last booking of
/// the team is oldest; none free is 409 naming why for each. The handler reads the body as
/// this type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingInput {
    #[serde(default, deserialize_with = "body::de::text")]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "body::de::text")]
    pub team: Option<String>,
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub title: Option<String>,
    /// RFC 3339, or a wall-clock time read in `time_zone`.
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub start: Option<String>,
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub end: Option<String>,
    /// IANA name.
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "body::de::text")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "body::de::text")]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "body::de::addresses")]
    pub attendees: Option<Vec<String>>,
    /// `RRULE:…`
    #[serde(default, deserialize_with = "body::de::text")]
    pub recurrence: Option<String>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub allow_conflict: Option<bool>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub notify_attendees: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookingQuery {
    /// The member's email (default: you; admins may name anyone).
    pub user: Option<String>,
    /// RFC 3339, or a date in the member's zone (default: today).
    pub from: Option<String>,
    /// Default: 90 days after `from`.
    pub to: Option<String>,
}

fn read(bytes: &[u8]) -> Result<bk::NewBooking, ApiError> {
    let i: BookingInput = body::read(bytes)?;
    let Some(time_zone) = i.time_zone else {
        return Err(ApiError::invalid(vec![FieldMessage::new("time_zone", "time_zone is required: an IANA name such as Europe/Berlin.")]));
    };
    Ok(bk::NewBooking {
        user: i.user,
        team: i.team,
        title: i.title.unwrap_or_default(),
        start: i.start.unwrap_or_default(),
        end: i.end.unwrap_or_default(),
        time_zone,
        description: i.description,
        location: i.location,
        recurrence: i.recurrence,
        attendees: i.attendees.unwrap_or_default(),
        allow_conflict: i.allow_conflict.unwrap_or(false),
        notify_attendees: i.notify_attendees.unwrap_or(false),
    })
}

#[utoipa::path(post, path = "/api/v1/bookings", operation_id = "create_booking", request_body = BookingInput, security(("bearer" = [])),
    responses((status = 201, body = BookingJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ClashJson), (status = 422, body = ErrorBody)))]
pub async fn create(State(state): State<AppState>, caller: ApiUser, bytes: Bytes) -> Result<Response, ApiError> {
    let new = read(&bytes)?;
    let booked = {
        let mut pooled = state.pool.get().await?;
        bk::create_with_warnings(&mut pooled.conn(), caller.actor(), &caller.by().actor, new).await?
    };
    booked_or_busy(&state, caller.actor(), booked, StatusCode::CREATED).await
}

/// A booking made or changed (its copies briefly waited for, then answered with its copies and the calendars it
/// could not be checked against), or 409 with what is in the way.
pub(super) async fn booked_or_busy(state: &AppState, actor: server::domain::Actor, answer: bk::Answer, status: StatusCode) -> Result<Response, ApiError> {
    let bk::Answer { outcome, unchecked } = answer;
    match outcome {
        bk::Outcome::Booked(b) => {
            state.engine.settled(b.id).await;
            let mut body = one(state, actor, b.id).await?;
            body.degraded = Some(super::availability::DegradedJson::unchecked(&unchecked));
            Ok((status, Json(body)).into_response())
        }
        bk::Outcome::Busy(clashes) => {
            let body = ClashJson {
                errors: clashes.iter().map(|c| Message { field: None, message: c.message.clone() }).collect(),
                warnings: Vec::new(),
                conflicts: clashes
                    .iter()
                    .filter(|c| c.kind != "rule")
                    .map(|c| super::availability::ConflictJson {
                        start: rfc3339(c.start),
                        end: rfc3339(c.end),
                        integration: c.integration.clone(),
                        integration_name: c.integration_name.clone(),
                        summary: c.summary.clone(),
                        kind: c.kind.into(),
                        rule: c.rule.map(str::to_owned),
                    })
                    .collect(),
                degraded: super::availability::DegradedJson::list(unchecked.into_iter().map(|u| u.calendar).collect()),
            };
            Ok((StatusCode::CONFLICT, Json(body)).into_response())
        }
    }
}

#[utoipa::path(get, path = "/api/v1/bookings", operation_id = "list_bookings", params(BookingQuery), security(("bearer" = [])),
    responses((status = 200, body = BookingListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: ApiUser, Query(q): Query<BookingQuery>) -> Result<Json<BookingListJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let member = av::subject(&mut conn, caller.actor(), q.user.as_deref()).await?;
    let tz = member.tz();
    let from = match q.from.as_deref() {
        Some(f) => av::parse_bound("from", f, tz)?,
        None => av::parse_bound("from", &chrono::Utc::now().with_timezone(&tz).date_naive().to_string(), tz)?,
    };
    let to = match q.to.as_deref() {
        Some(t) => av::parse_bound("to", t, tz)?,
        None => from + chrono::Duration::days(90),
    };
    if to <= from {
        return Err(server::domain::Error::invalid("to", "to must be after from.").into());
    }
    let items = bk::list(&mut conn, caller.actor(), Some(&member.email), from, to).await?;
    Ok(Json(BookingListJson { total: items.len(), items: with_copies(&mut conn, &items).await? }))
}

pub(super) fn id_of(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

#[utoipa::path(get, path = "/api/v1/bookings/{id}", operation_id = "read_booking", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = BookingJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read_one(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>) -> Result<Json<BookingJson>, ApiError> {
    Ok(Json(one(&state, caller.actor(), id_of(&id)?).await?))
}

#[utoipa::path(post, path = "/api/v1/bookings/{id}/cancel", operation_id = "cancel_booking", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = BookingJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>) -> Result<Json<BookingJson>, ApiError> {
    let id = id_of(&id)?;
    {
        let mut pooled = state.pool.get().await?;
        bk::cancel(&mut pooled.conn(), caller.actor(), id, &caller.by().actor).await?;
    }
    state.engine.settled(id).await;
    Ok(Json(one(&state, caller.actor(), id).await?))
}

/// `{"version", "title"?, "start"?, "end"?, "time_zone"?, "description"?, "location"?,
/// "attendees"?, "recurrence"?, "notify_attendees"?, "allow_conflict"?}`: the fields sent
/// change, the others stay; `null` clears description, location and recurrence. The handler
/// reads the body as this type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingChanges {
    /// The version you read; a booking changed since is 409.
    #[serde(default, deserialize_with = "body::de::version")]
    #[schema(required = true, value_type = i64)]
    pub version: Option<i64>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub start: Option<String>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub end: Option<String>,
    #[serde(default, deserialize_with = "body::de::string")]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "body::de::clearable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "body::de::clearable")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    #[serde(default, deserialize_with = "body::de::addresses")]
    pub attendees: Option<Vec<String>>,
    #[serde(default, deserialize_with = "body::de::clearable")]
    #[schema(value_type = Option<String>)]
    pub recurrence: Option<Option<String>>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub notify_attendees: Option<bool>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub allow_conflict: Option<bool>,
}

fn read_changes(bytes: &[u8]) -> Result<bk::Changes, ApiError> {
    let c: BookingChanges = body::read(bytes)?;
    let Some(version) = c.version else {
        return Err(ApiError::invalid(vec![FieldMessage::new("version", body::MSG_VERSION_REQUIRED)]));
    };
    Ok(bk::Changes {
        version,
        title: c.title,
        start: c.start,
        end: c.end,
        time_zone: c.time_zone,
        description: c.description,
        location: c.location,
        recurrence: c.recurrence,
        attendees: c.attendees,
        notify_attendees: c.notify_attendees,
        allow_conflict: c.allow_conflict.unwrap_or(false),
    })
}

#[utoipa::path(patch, path = "/api/v1/bookings/{id}", operation_id = "update_booking", params(("id" = i64, Path)), request_body = BookingChanges, security(("bearer" = [])),
    responses((status = 200, body = BookingJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ClashJson), (status = 422, body = ErrorBody)))]
pub async fn update(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>, bytes: Bytes) -> Result<Response, ApiError> {
    let id = id_of(&id)?;
    let changes = read_changes(&bytes)?;
    let outcome = {
        let mut pooled = state.pool.get().await?;
        bk::update_with_warnings(&mut pooled.conn(), caller.actor(), id, &caller.by().actor, changes).await?
    };
    booked_or_busy(&state, caller.actor(), outcome, StatusCode::OK).await
}
