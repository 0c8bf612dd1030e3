//! `/api/v1/integrations/{name}/sync` ("Sync now"), `/apply-held` (Apply on a sync the
//! deletion guard held) and `/runs` (the record of every attempt).
use super::{rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use server::{
    domain::integrations as ig,
    sync::{Run, Started},
};
use utoipa::{IntoParams, ToSchema};

/// A run just started, or queued because every sync slot is busy: follow it with `GET …/runs`
/// or the record's `sync_status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedJson {
    /// The run (null while queued).
    pub id: Option<i64>,
    /// The calendar's record name.
    pub integration: String,
    /// `manual`, `scheduler` or `webhook`
    pub trigger: String,
    /// null while queued
    pub started_at: Option<String>,
    /// `In Progress`, or `Queued`
    pub status: String,
}

/// One sync attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunJson {
    pub id: i64,
    pub integration: String,
    pub trigger: String,
    /// `In Progress`, `Success` or `Failed`
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// Instances created, updated, deleted and left unchanged.
    pub created: i32,
    pub updated: i32,
    pub deleted: i32,
    pub unchanged: i32,
    /// What went wrong, in plain words (failed runs).
    pub error: Option<String>,
    /// Lines of the feed that were skipped or repaired.
    pub warnings: Option<String>,
    /// Held by the deletion guard (it would have removed most of the calendar's events).
    pub held: bool,
    /// Who let a held removal through.
    pub applied_by: Option<String>,
}

impl RunJson {
    fn of(r: &Run, integration: &str) -> Self {
        RunJson {
            id: r.id,
            integration: integration.into(),
            trigger: r.trigger.clone(),
            status: r.status.clone(),
            started_at: rfc3339_naive(r.started_at),
            finished_at: r.finished_at.map(rfc3339_naive),
            duration_ms: r.duration_ms,
            created: r.created_count,
            updated: r.updated_count,
            deleted: r.deleted_count,
            unchanged: r.unchanged_count,
            error: r.error.clone(),
            warnings: r.warnings.clone(),
            held: r.held,
            applied_by: r.applied_by.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunListJson {
    pub items: Vec<RunJson>,
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Default 50, at most 1000
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/integrations/{name}/sync", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 202, body = StartedJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sync_now(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<(StatusCode, Json<StartedJson>), ApiError> {
    let (_, started) = state.engine.sync_now(caller.actor(), &name).await?;
    Ok((StatusCode::ACCEPTED, Json(started_json(started, name))))
}

/// "Apply": runs a sync the deletion guard held once more, with the guard lifted for that run
/// (recorded as applied by the token's owner). 409 when nothing is held.
#[utoipa::path(post, path = "/api/v1/integrations/{name}/apply-held", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 202, body = StartedJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn apply_held(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<(StatusCode, Json<StartedJson>), ApiError> {
    let who = format!("{} (API token)", caller.user.email);
    let (_, started) = state.engine.apply_held(caller.actor(), &name, &who).await?;
    Ok((StatusCode::ACCEPTED, Json(started_json(started, name))))
}

fn started_json(started: Started, name: String) -> StartedJson {
    match started {
        Started::Running(run) => {
            StartedJson { id: Some(run.id), integration: name, trigger: run.trigger, started_at: Some(rfc3339_naive(run.started_at)), status: run.status }
        }
        Started::Queued(_) => StartedJson { id: None, integration: name, trigger: "manual".into(), started_at: None, status: "Queued".into() },
    }
}

#[utoipa::path(get, path = "/api/v1/integrations/{name}/runs", params(("name" = String, Path), RunQuery), security(("bearer" = [])),
    responses((status = 200, body = RunListJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn runs(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>, Query(q): Query<RunQuery>) -> Result<Json<RunListJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let integration = ig::get(&mut conn, caller.actor(), &name).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let (items, total) = server::sync::runs::recent(&mut conn, integration.id, limit, q.offset.unwrap_or(0).max(0)).await?;
    Ok(Json(RunListJson { items: items.iter().map(|r| RunJson::of(r, &integration.name)).collect(), total }))
}
