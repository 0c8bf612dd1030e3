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
use server::domain::{teams, FieldMessage};
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

/// `{"name", "members": [emails]}`; a change sends either or both.
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamInput {
    pub name: Option<String>,
    pub members: Option<Vec<String>>,
}

fn read(bytes: &[u8]) -> Result<teams::Patch, ApiError> {
    let object = body::object(bytes)?;
    let mut errors = Vec::new();
    let mut p = teams::Patch::default();
    for (key, v) in &object {
        match key.as_str() {
            "name" => p.name = body::string(key, v, &mut errors),
            "members" => match v.as_array().and_then(|m| m.iter().map(|x| x.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()) {
                Some(list) => p.members = Some(list),
                None => errors.push(FieldMessage::new(key, "members must be a list of email addresses.")),
            },
            "created_at" | "modified_at" => {}
            other => errors.push(FieldMessage::new(other, format!("Unknown field '{other}'."))),
        }
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(ApiError::invalid(errors))
    }
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
