//! `/api/v1/availability`: a user's busy time, and whether one slot is free.
use super::{body, rfc3339, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::availability as av;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceJson {
    /// `event`, `booking` or `out-of-date`
    pub kind: String,
    /// For an event: its kind (`declined`, `unanswered`, `out_of_office`,
    /// `working_elsewhere`, `free`, `tentative`, `all_day`, `busy`), which the calendar's
    /// `busy_rules` made block.
    pub rule: Option<String>,
    /// The calendar's record name.
    pub integration: String,
    pub integration_name: String,
    pub summary: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusyJson {
    pub start: String,
    pub end: String,
    pub sources: Vec<SourceJson>,
}

/// An active calendar whose busy time cannot be trusted: the answer may be incomplete.
#[derive(Debug, Serialize, ToSchema)]
pub struct DegradedJson {
    /// The calendar's record name.
    pub integration: String,
    pub integration_name: String,
    /// `Failed`, `Stale` or `Never synced`
    pub kind: String,
    /// The last successful sync (null: never).
    pub last_sync: Option<String>,
    /// `fail-open`: its last known busy time counts; `fail-closed`: the whole range is busy.
    pub stale_policy: String,
    /// Only in a slot search: whose calendar it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Only in a booking's answer: what a person is told ("Booked, but 'Work (Google)' has not
    /// synced since 09:12 — a clash there would not be seen"; the time in the member's zone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl DegradedJson {
    fn of(d: &server::domain::health::Item) -> DegradedJson {
        DegradedJson {
            integration: d.integration.clone(),
            integration_name: d.integration_name.clone(),
            kind: d.kind.as_str().into(),
            last_sync: d.last_sync.map(super::rfc3339_naive),
            stale_policy: d.stale_policy.clone(),
            user: None,
            warning: None,
        }
    }

    pub fn list(items: Vec<server::domain::health::Item>) -> Vec<DegradedJson> {
        items.iter().map(DegradedJson::of).collect()
    }

    /// The same, each naming its member.
    pub fn of_members(items: Vec<server::domain::health::Item>) -> Vec<DegradedJson> {
        items.iter().map(|d| DegradedJson { user: Some(d.user.clone()), ..DegradedJson::of(d) }).collect()
    }

    /// The calendars a booking could not be checked against, each with its warning.
    pub fn unchecked(items: &[server::domain::bookings::Unchecked]) -> Vec<DegradedJson> {
        items.iter().map(|u| DegradedJson { warning: Some(u.warning.clone()), ..DegradedJson::of(&u.calendar) }).collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityJson {
    pub user: String,
    pub from: String,
    pub to: String,
    pub busy: Vec<BusyJson>,
    pub degraded: Vec<DegradedJson>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// The user's email (default: you; admins may name anyone).
    pub user: Option<String>,
    /// RFC 3339, or a date read in the user's time zone.
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConflictJson {
    pub start: String,
    pub end: String,
    pub integration: String,
    pub integration_name: String,
    pub summary: String,
    /// `event`, `booking` or `out-of-date`
    pub kind: String,
    /// For an event: the kind of event whose rule made it block.
    pub rule: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckJson {
    pub free: bool,
    pub conflicts: Vec<ConflictJson>,
    pub degraded: Vec<DegradedJson>,
}

/// `{"user", "start", "end"}`; `user` defaults to you.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInput {
    #[serde(default, deserialize_with = "body::de::text")]
    pub user: Option<String>,
    /// A time (RFC 3339) or a date, in the user's zone.
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub start: Option<String>,
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub end: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/availability", params(AvailabilityQuery), security(("bearer" = [])),
    responses((status = 200, body = AvailabilityJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn availability(State(state): State<AppState>, caller: ApiUser, Query(q): Query<AvailabilityQuery>) -> Result<Json<AvailabilityJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let user = av::subject(&mut conn, caller.actor(), q.user.as_deref()).await?;
    let (from, to) = av::parse_range(q.from.as_deref(), q.to.as_deref(), user.tz(), ("from", "to"))?;
    let (busy, degraded) = av::busy(&mut conn, &user, from, to).await?;
    Ok(Json(AvailabilityJson {
        user: user.email,
        from: rfc3339(from),
        to: rfc3339(to),
        busy: busy
            .into_iter()
            .map(|b| BusyJson {
                start: rfc3339(b.start),
                end: rfc3339(b.end),
                sources: b
                    .sources
                    .into_iter()
                    .map(|s| SourceJson {
                        kind: s.kind.into(),
                        rule: s.rule.map(str::to_owned),
                        integration: s.integration.to_string(),
                        integration_name: s.integration_name.to_string(),
                        summary: s.summary,
                    })
                    .collect(),
            })
            .collect(),
        degraded: DegradedJson::list(degraded),
    }))
}

#[utoipa::path(post, path = "/api/v1/availability/check", request_body = CheckInput, security(("bearer" = [])),
    responses((status = 200, body = CheckJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn check(State(state): State<AppState>, caller: ApiUser, bytes: Bytes) -> Result<Json<CheckJson>, ApiError> {
    let CheckInput { user, start, end } = body::read(&bytes)?;
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let user = av::subject(&mut conn, caller.actor(), user.as_deref()).await?;
    let (start, end) = av::parse_range(start.as_deref(), end.as_deref(), user.tz(), ("start", "end"))?;
    let (conflicts, degraded) = av::conflicts(&mut conn, &user, start, end).await?;
    Ok(Json(CheckJson {
        free: conflicts.is_empty(),
        conflicts: conflicts
            .into_iter()
            .map(|b| ConflictJson {
                start: rfc3339(b.start),
                end: rfc3339(b.end),
                integration: b.integration.to_string(),
                integration_name: b.integration_name.to_string(),
                summary: b.summary,
                kind: b.kind.into(),
                rule: b.rule.map(str::to_owned),
            })
            .collect(),
        degraded: DegradedJson::list(degraded),
    }))
}
