//! `/api/v1/teams`: teams (the spec's departments) whose members bookings are assigned to.
//! Admins create, change and remove them; a member sees the teams they are in.
use super::{body, rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::teams;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamJson {
    pub name: String,
    /// Emails, sorted.
    pub members: Vec<String>,
    pub created_at: String,
    pub modified_at: String,
}

impl TeamJson {
    fn of(t: &teams::Team) -> TeamJson {
        TeamJson { name: t.name.clone(), members: t.emails(), created_at: rfc3339_naive(t.created_at), modified_at: rfc3339_naive(t.modified_at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamListJson {
    pub items: Vec<TeamJson>,
}

/// `{"name", "members": [emails]}`; a change sends either or both (`created_at` and
/// `modified_at` from a read are ignored). The handler reads the body as this type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    #[serde(default, deserialize_with = "body::de::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "members")]
    pub members: Option<Vec<String>>,
    /// Sent back from a read: ignored.
    #[serde(default, rename = "created_at")]
    #[schema(ignore)]
    _created_at: serde::de::IgnoredAny,
    #[serde(default, rename = "modified_at")]
    #[schema(ignore)]
    _modified_at: serde::de::IgnoredAny,
}

/// A team's members: a list of email addresses (not `null`).
fn members<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match body::de::addresses(d)? {
        Some(list) => Ok(Some(list)),
        None => Err(serde::de::Error::custom("must be a list of email addresses")),
    }
}

fn read(bytes: &[u8]) -> Result<teams::Patch, ApiError> {
    let t: TeamInput = body::read(bytes)?;
    Ok(teams::Patch { name: t.name, members: t.members })
}

#[utoipa::path(get, path = "/api/v1/teams", operation_id = "list_teams", security(("bearer" = [])),
    responses((status = 200, body = TeamListJson), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: ApiUser) -> Result<Json<TeamListJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let items = teams::list(&mut pooled.conn(), caller.actor()).await?;
    Ok(Json(TeamListJson { items: items.iter().map(TeamJson::of).collect() }))
}

#[utoipa::path(post, path = "/api/v1/teams", operation_id = "create_team", request_body = TeamInput, security(("bearer" = [])),
    responses((status = 201, body = TeamJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(state): State<AppState>, caller: ApiUser, bytes: Bytes) -> Result<Response, ApiError> {
    let p = read(&bytes)?;
    let mut pooled = state.pool.get().await?;
    let team = teams::create(&mut pooled.conn(), caller.actor(), p.name.as_deref().unwrap_or_default(), &p.members.unwrap_or_default()).await?;
    Ok((StatusCode::CREATED, Json(TeamJson::of(&team))).into_response())
}

#[utoipa::path(get, path = "/api/v1/teams/{name}", operation_id = "read_team", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = TeamJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read_one(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<Json<TeamJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    Ok(Json(TeamJson::of(&teams::get(&mut pooled.conn(), caller.actor(), &name).await?)))
}

#[utoipa::path(patch, path = "/api/v1/teams/{name}", operation_id = "update_team", params(("name" = String, Path)), request_body = TeamInput, security(("bearer" = [])),
    responses((status = 200, body = TeamJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>, bytes: Bytes) -> Result<Json<TeamJson>, ApiError> {
    let p = read(&bytes)?;
    let mut pooled = state.pool.get().await?;
    Ok(Json(TeamJson::of(&teams::update(&mut pooled.conn(), caller.actor(), &name, p).await?)))
}

#[utoipa::path(delete, path = "/api/v1/teams/{name}", operation_id = "delete_team", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<Response, ApiError> {
    let mut pooled = state.pool.get().await?;
    teams::delete(&mut pooled.conn(), caller.actor(), &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
