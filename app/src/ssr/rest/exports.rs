//! `/api/v1/exports`: export links (.ics feeds of a user's calendars). The address is answered
//! once, when the link is created; afterwards only its first characters are shown.
use super::{body, rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::exports;
use utoipa::{IntoParams, ToSchema};

/// An export link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportJson {
    pub id: i64,
    /// The owner's email.
    pub user: String,
    /// `private` or `freebusy`
    pub kind: String,
    /// Record names; null: all of the user's active calendars.
    pub integrations: Option<Vec<String>>,
    pub include_bookings: bool,
    /// The token's first characters.
    pub prefix: String,
    pub created_at: String,
    pub last_fetched_at: Option<String>,
    /// The feed's address: only in the answer to the create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The same as `webcal://`, which calendar apps subscribe to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webcal_url: Option<String>,
}

impl ExportJson {
    fn of(l: &exports::Link) -> Self {
        ExportJson {
            id: l.id,
            user: l.user.clone(),
            kind: l.kind.as_str().into(),
            integrations: l.integrations.clone(),
            include_bookings: l.include_bookings,
            prefix: l.prefix.clone(),
            created_at: rfc3339_naive(l.created_at),
            last_fetched_at: l.last_fetched_at.map(rfc3339_naive),
            url: None,
            webcal_url: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportListJson {
    pub items: Vec<ExportJson>,
    pub total: usize,
}

/// `{"user"?, "kind", "integrations"?, "include_bookings"?}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// The owner's email (default: you).
    #[serde(default, deserialize_with = "body::de::text")]
    pub user: Option<String>,
    /// `private` or `freebusy`
    #[serde(default, deserialize_with = "body::de::text")]
    #[schema(required = true)]
    pub kind: Option<String>,
    /// Record names (default: all calendars).
    #[serde(default, deserialize_with = "body::de::record_names")]
    pub integrations: Option<Vec<String>>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub include_bookings: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// The owner's email (default: you; admins may name anyone).
    pub user: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/exports", operation_id = "create_export", request_body = ExportInput, security(("bearer" = [])),
    responses((status = 201, body = ExportJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(state): State<AppState>, caller: ApiUser, bytes: Bytes) -> Result<(StatusCode, Json<ExportJson>), ApiError> {
    let input: ExportInput = body::read(&bytes)?;
    let new =
        exports::NewLink { user: input.user, kind: input.kind, integrations: input.integrations, include_bookings: input.include_bookings.unwrap_or(false) };
    let mut pooled = state.pool.get().await?;
    let (link, token) = exports::create(&mut pooled.conn(), caller.actor(), new, &caller.by()).await?;
    let (url, webcal) = exports::urls(&state.config.public_url, &token);
    Ok((StatusCode::CREATED, Json(ExportJson { url: Some(url), webcal_url: Some(webcal), ..ExportJson::of(&link) })))
}

#[utoipa::path(get, path = "/api/v1/exports", operation_id = "list_exports", params(ExportQuery), security(("bearer" = [])),
    responses((status = 200, body = ExportListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: ApiUser, Query(q): Query<ExportQuery>) -> Result<Json<ExportListJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let links = exports::list(&mut pooled.conn(), caller.actor(), q.user.as_deref()).await?;
    Ok(Json(ExportListJson { total: links.len(), items: links.iter().map(ExportJson::of).collect() }))
}

#[utoipa::path(delete, path = "/api/v1/exports/{id}", operation_id = "revoke_export", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ExportJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: ApiUser, Path(id): Path<String>) -> Result<Json<ExportJson>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let mut pooled = state.pool.get().await?;
    let gone = exports::delete(&mut pooled.conn(), caller.actor(), id, &caller.by()).await?;
    Ok(Json(ExportJson::of(&gone)))
}
