//! `/api/v1/admin/sync-health`: the admin's sync-health list, for monitoring scripts.
use super::{rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    extract::{Query, State},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::health;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// A calendar that needs attention.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthItemJson {
    /// The calendar's record name.
    pub integration: String,
    pub integration_name: String,
    /// The owner's email.
    pub user: String,
    pub integration_type: String,
    /// `Failed`, `Expiring`, `Backing off`, `Write failing`, `Conflicts waiting`, `Stale` or
    /// `Never synced`
    pub kind: String,
    /// Broken since (the last success, else when it was added); for `Expiring`, when it ends;
    /// for `Write failing`, when the oldest copy not written last changed (its last attempt,
    /// or since it waits); for `Conflicts waiting`, when the oldest open conflict arose.
    pub since: String,
    /// The first line of the last error, or what is expiring; for `Write failing`, how many
    /// bookings are not written and the oldest's error; for `Conflicts waiting`, how many wait.
    pub error: Option<String>,
    /// The next scheduled try (null: automatic sync is off).
    pub next_run: Option<String>,
    /// A sync of it runs or is queued now.
    pub running: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthJson {
    /// Longest broken first, a page of them (`limit`, `offset`).
    pub items: Vec<HealthItemJson>,
    /// How many match the filters in all.
    pub total: usize,
    /// Per kind, after the user, provider and text filters.
    pub counts: BTreeMap<String, usize>,
    /// Active calendars looked at.
    pub checked: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    /// `Failed`, `Expiring`, `Backing off`, `Write failing`, `Conflicts waiting`, `Stale` or
    /// `Never synced`
    pub kind: Option<String>,
    /// The owner's email.
    pub user: Option<String>,
    /// `Google Calendar`, `Outlook Calendar` or `iCal`
    pub provider: Option<String>,
    /// Words in the error (any case).
    pub text: Option<String>,
    /// Default 100, at most 1000.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/admin/sync-health", params(HealthQuery), security(("bearer" = [])),
    responses((status = 200, body = HealthJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sync_health(State(state): State<AppState>, caller: ApiUser, Query(q): Query<HealthQuery>) -> Result<Json<HealthJson>, ApiError> {
    if !caller.user.is_admin() {
        return Err(ApiError::not_found());
    }
    let kind = match q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(health::Kind::parse(k).ok_or_else(|| {
            server::domain::Error::invalid("kind", format!("'{k}' is not one of {}.", health::Kind::ALL.map(health::Kind::as_str).join(", ")))
        })?),
    };
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(_) => return Err(server::domain::Error::invalid("limit", "limit must be a whole number from 1 to 1000.").into()),
    };
    let offset = q.offset.unwrap_or(0).max(0) as usize;
    let filter = health::Filter { kind, user: q.user, provider: q.provider, text: q.text };
    let mut pooled = state.pool.get().await?;
    let report = health::report(&mut pooled.conn(), &filter, server::domain::now(), state.config.sync.webhook_base.is_some()).await?;
    Ok(Json(HealthJson {
        total: report.items.len(),
        items: report
            .items
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|i| HealthItemJson {
                integration: i.integration,
                integration_name: i.integration_name,
                user: i.user,
                integration_type: i.integration_type,
                kind: i.kind.as_str().into(),
                since: rfc3339_naive(i.since),
                error: i.error,
                next_run: i.next_run.map(rfc3339_naive),
                running: i.running,
            })
            .collect(),
        counts: report.counts.into_iter().map(|(k, n)| (k.as_str().to_string(), n)).collect(),
        checked: report.checked,
    }))
}
