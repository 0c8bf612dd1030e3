//! `/api/v1/slots`: when a member or a team can meet, and who is free for each slot.
use super::{rfc3339, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    extract::{Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::slots;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotJson {
    pub start: String,
    pub end: String,
    /// Who is free for it, by email (sorted).
    pub members: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotsJson {
    pub slots: Vec<SlotJson>,
    /// The members' calendars whose busy time cannot be trusted, each with its member.
    pub degraded: Vec<super::availability::DegradedJson>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// A member's email (yours, or anyone's for an admin) …
    pub user: Option<String>,
    /// … or a team's name.
    pub team: Option<String>,
    /// `any` (round robin: at least one member free; default) or `all` (everyone free).
    pub mode: Option<String>,
    /// RFC 3339, or a date read in your zone.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Meeting length in minutes (default 30).
    pub duration: Option<String>,
    /// Minutes between slot starts (default 15).
    pub step: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/slots", operation_id = "find_slots", params(SlotsQuery), security(("bearer" = [])),
    responses((status = 200, body = SlotsJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn find(State(state): State<AppState>, caller: ApiUser, Query(q): Query<SlotsQuery>) -> Result<Json<SlotsJson>, ApiError> {
    let query = slots::Query { user: q.user, team: q.team, mode: q.mode, from: q.from, to: q.to, duration: q.duration, step: q.step };
    let mut pooled = state.pool.get().await?;
    let found = slots::find(&mut pooled.conn(), caller.actor(), &query).await?;
    let emails: Vec<&str> = found.members.iter().map(|m| m.email.as_str()).collect();
    Ok(Json(SlotsJson {
        slots: found
            .slots
            .iter()
            .map(|s| SlotJson { start: rfc3339(s.start), end: rfc3339(s.end), members: s.members.iter().map(|k| emails[*k].to_string()).collect() })
            .collect(),
        degraded: super::availability::DegradedJson::of_members(found.degraded),
    }))
}
