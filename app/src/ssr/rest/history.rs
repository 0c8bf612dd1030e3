//! `/api/v1/history`: the timeline of a booking, a calendar record (with its events), or one
//! synced event — who or what changed it, when, before and after.
use super::{rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    extract::{Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::history::{self as h, Subject};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntryJson {
    pub id: i64,
    /// RFC 3339, UTC
    pub at: String,
    /// Who or what made the change, as recorded.
    pub actor: String,
    /// `user`, `sync`, `webhook`, `merge`, `conflict resolution`, `undo` or `push`
    pub source: String,
    /// `booking`, `integration`, `series` or `instance`
    pub entity: String,
    pub key: String,
    pub action: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryListJson {
    /// Newest first.
    pub items: Vec<HistoryEntryJson>,
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// A booking's id.
    pub booking: Option<i64>,
    /// A calendar record's name: its settings and all its events.
    pub integration: Option<String>,
    /// With `integration`: one event's uid (its series and occurrences).
    pub event: Option<String>,
    /// At most 500 (default 100).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/history", operation_id = "history", params(HistoryQuery), security(("bearer" = [])),
    responses((status = 200, body = HistoryListJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn history(State(state): State<AppState>, caller: ApiUser, Query(q): Query<HistoryQuery>) -> Result<Json<HistoryListJson>, ApiError> {
    let subject = match (q.booking, q.integration, q.event) {
        (Some(id), None, None) => Subject::Booking(id),
        (None, Some(name), None) => Subject::Integration(name),
        (None, Some(name), Some(uid)) => Subject::Event(name, uid),
        _ => return Err(server::domain::Error::invalid("booking", "Name one timeline: booking=ID, integration=NAME, or integration=NAME&event=UID.").into()),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) || q.offset.is_some_and(|o| o < 0) {
        return Err(server::domain::Error::invalid("limit", "limit must be 1 to 500 and offset 0 or more.").into());
    }
    let mut pooled = state.pool.get().await?;
    let (items, total) = h::list(&mut pooled.conn(), caller.actor(), &subject, limit, q.offset.unwrap_or(0)).await?;
    Ok(Json(HistoryListJson {
        total,
        items: items
            .into_iter()
            .map(|e| HistoryEntryJson {
                id: e.id,
                at: rfc3339_naive(e.at),
                actor: e.actor,
                source: e.source.into(),
                entity: e.entity,
                key: e.key,
                action: e.action,
                before: e.before,
                after: e.after,
            })
            .collect(),
    }))
}
