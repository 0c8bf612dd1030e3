//! REST API v1 (`/api/v1`): bearer tokens, one JSON error envelope, OpenAPI at
//! `/api/v1/openapi.json`. Conventions: shared/docs/api.md. Handlers are thin: authenticate,
//! read the body into a domain `Patch`, call one domain function, shape the JSON.
mod availability;
mod body;
mod bookings;
mod conflicts;
mod exports;
mod health;
mod history;
mod integrations;
mod occurrences;
pub mod openapi;
mod slots;
mod sync;
mod teams;
mod working_hours;

use super::AppState;
use axum::{
    extract::FromRequestParts,
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;
use server::domain::{self, Actor, FieldMessage};
use utoipa::ToSchema;

/// Every route of the API, as (method, path) in OpenAPI form; the OpenAPI test checks the
/// document against this list and this list against the router.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/integrations"),
    ("post", "/api/v1/integrations"),
    ("get", "/api/v1/integrations/{name}"),
    ("patch", "/api/v1/integrations/{name}"),
    ("delete", "/api/v1/integrations/{name}"),
    ("post", "/api/v1/integrations/{name}/make-primary"),
    ("post", "/api/v1/integrations/{name}/sync"),
    ("post", "/api/v1/integrations/{name}/apply-held"),
    ("get", "/api/v1/integrations/{name}/runs"),
    ("get", "/api/v1/integrations/{name}/busy-preview"),
    ("get", "/api/v1/availability"),
    ("post", "/api/v1/availability/check"),
    ("get", "/api/v1/admin/sync-health"),
    ("get", "/api/v1/exports"),
    ("post", "/api/v1/exports"),
    ("delete", "/api/v1/exports/{id}"),
    ("get", "/api/v1/bookings"),
    ("post", "/api/v1/bookings"),
    ("get", "/api/v1/bookings/{id}"),
    ("patch", "/api/v1/bookings/{id}"),
    ("post", "/api/v1/bookings/{id}/cancel"),
    ("patch", "/api/v1/bookings/{id}/occurrences/{recurrence_id}"),
    ("post", "/api/v1/bookings/{id}/occurrences/{recurrence_id}/cancel"),
    ("get", "/api/v1/conflicts"),
    ("get", "/api/v1/conflicts/{id}"),
    ("post", "/api/v1/conflicts/{id}/resolve"),
    ("post", "/api/v1/conflicts/{id}/undo"),
    ("get", "/api/v1/history"),
    ("get", "/api/v1/users/{email}/availability-settings"),
    ("put", "/api/v1/users/{email}/availability-settings"),
    ("get", "/api/v1/users/{email}/date-overrides"),
    ("put", "/api/v1/users/{email}/date-overrides/{date}"),
    ("delete", "/api/v1/users/{email}/date-overrides/{date}"),
    ("get", "/api/v1/teams"),
    ("post", "/api/v1/teams"),
    ("get", "/api/v1/teams/{name}"),
    ("patch", "/api/v1/teams/{name}"),
    ("delete", "/api/v1/teams/{name}"),
    ("get", "/api/v1/slots"),
];

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/integrations", get(integrations::list).post(integrations::create))
        .route("/integrations/{name}", get(integrations::read).patch(integrations::update).delete(integrations::delete))
        .route("/integrations/{name}/make-primary", post(integrations::make_primary))
        .route("/integrations/{name}/sync", post(sync::sync_now))
        .route("/integrations/{name}/apply-held", post(sync::apply_held))
        .route("/integrations/{name}/runs", get(sync::runs))
        .route("/integrations/{name}/busy-preview", get(integrations::busy_preview))
        .route("/availability", get(availability::availability))
        .route("/availability/check", post(availability::check))
        .route("/admin/sync-health", get(health::sync_health))
        .route("/exports", get(exports::list).post(exports::create))
        .route("/exports/{id}", axum::routing::delete(exports::delete))
        .route("/bookings", get(bookings::list).post(bookings::create))
        .route("/bookings/{id}", get(bookings::read_one).patch(bookings::update))
        .route("/bookings/{id}/cancel", post(bookings::cancel))
        .route("/bookings/{id}/occurrences/{recurrence_id}", axum::routing::patch(occurrences::update))
        .route("/bookings/{id}/occurrences/{recurrence_id}/cancel", post(occurrences::cancel))
        .route("/conflicts", get(conflicts::list))
        .route("/conflicts/{id}", get(conflicts::read_one))
        .route("/conflicts/{id}/resolve", post(conflicts::resolve))
        .route("/conflicts/{id}/undo", post(conflicts::undo))
        .route("/history", get(history::history))
        .route("/users/{email}/availability-settings", get(working_hours::read).put(working_hours::put))
        .route("/users/{email}/date-overrides", get(working_hours::overrides))
        .route("/users/{email}/date-overrides/{date}", axum::routing::put(working_hours::put_override).delete(working_hours::delete_override))
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{name}", get(teams::read_one).patch(teams::update).delete(teams::delete))
        .route("/slots", get(slots::find))
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
}

/// Datetimes out: RFC 3339 in UTC, whole seconds (`2026-05-04T13:00:00Z`).
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The same for the naive UTC times the database stores.
pub fn rfc3339_naive(t: chrono::NaiveDateTime) -> String {
    rfc3339(t.and_utc())
}

/// `{"field": …, "message": …}`
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub field: Option<String>,
    pub message: String,
}

/// The one error envelope: `{"errors": […], "warnings": […]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<Message>,
    pub warnings: Vec<Message>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorBody { errors: vec![Message { field: field.map(str::to_string), message: message.into() }], warnings: vec![] } }
    }
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, "Authentication required.")
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "Not found.")
    }
    pub fn invalid(errors: Vec<FieldMessage>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: ErrorBody { errors: errors.into_iter().map(|m| Message { field: m.field, message: m.message }).collect(), warnings: vec![] },
        }
    }
}

impl From<domain::Error> for ApiError {
    fn from(e: domain::Error) -> Self {
        use domain::Error as E;
        match e {
            E::Invalid(report) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: ErrorBody {
                    errors: report.errors.into_iter().map(|m| Message { field: m.field, message: m.message }).collect(),
                    warnings: report.warnings.into_iter().map(|w| Message { field: w.field, message: w.message }).collect(),
                },
            },
            E::NotFound => ApiError::not_found(),
            E::Unauthenticated(m) => ApiError::new(StatusCode::UNAUTHORIZED, None, m),
            E::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, None, m),
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, None, m),
            E::TooManyAttempts(m) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, None, m),
            E::Internal(detail) => {
                tracing::error!(error = %detail, "REST request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, "Something went wrong. It has been logged.")
            }
        }
    }
}

impl From<server::db::DbError> for ApiError {
    fn from(e: server::db::DbError) -> Self {
        domain::Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The caller, from `Authorization: Bearer <token>`.
pub struct ApiUser {
    pub user: domain::users::User,
}

impl ApiUser {
    pub fn actor(&self) -> Actor {
        Actor::of(&self.user)
    }

    /// Who acts, for the audit trail (through the API, with a token).
    pub fn by(&self) -> domain::audit::By {
        domain::audit::By::user(&format!("{} (API token)", self.user.email), None)
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or_else(ApiError::unauthorized)?;
        let mut pooled = state.pool.get().await?;
        match domain::api_tokens::authenticate(&mut pooled.conn(), token).await? {
            Some(user) => {
                tracing::Span::current().record("user_id", user.id);
                Ok(ApiUser { user })
            }
            None => Err(ApiError::unauthorized()),
        }
    }
}
