//! The rules of calsync, with their user-facing messages. No HTTP, no Leptos here.
mod calendars;
mod identity;
mod operations;
mod scheduling;

pub use calendars::{accounts, busy_rules, exports, integrations, stored_events, webhooks};
pub use identity::{api_tokens, audit, sign_in, users};
pub use operations::{health, history, schedule};
pub use scheduling::{availability, bookings, conflicts, hours, merge, push_queue, slots, teams, working_hours};

use serde::{Deserialize, Serialize};

/// Who is acting: admins (System Managers) act on every user's calendars, others on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub is_admin: bool,
}

impl Actor {
    /// calsync itself (the CLI and the scheduler): sees every calendar.
    pub const SYSTEM: Actor = Actor { user_id: 0, is_admin: true };

    pub fn of(user: &users::User) -> Actor {
        Actor { user_id: user.id, is_admin: user.is_admin() }
    }
}

/// One message attached to a field (or to the record as a whole when `field` is `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMessage {
    pub field: Option<String>,
    pub message: String,
}

impl FieldMessage {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldMessage { field: Some(field.to_string()), message: message.into() }
    }
    pub fn general(message: impl Into<String>) -> Self {
        FieldMessage { field: None, message: message.into() }
    }
}

/// A warning: never blocks a save. `danger` marks the ones shown in red (an expired token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub field: Option<String>,
    pub message: String,
    pub danger: bool,
}

/// Why input was refused: errors (which block) and the warnings found along the way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub errors: Vec<FieldMessage>,
    pub warnings: Vec<Warning>,
}

impl Report {
    pub fn errors(errors: Vec<FieldMessage>) -> Self {
        Report { errors, warnings: Vec::new() }
    }
}

/// What a domain function can answer besides success. Every variant but `Internal` carries
/// text a user may read; `Internal` is logged and shown as a generic message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid input")]
    Invalid(Report),
    #[error("not found")]
    NotFound,
    /// Wrong credentials.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyAttempts(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid(Report::errors(vec![FieldMessage::new(field, message)]))
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Error::NotFound,
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for Error {
    fn from(e: crate::db::DbError) -> Self {
        match e {
            crate::db::DbError::Query(q) => q.into(),
            other => Error::Internal(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The current instant as stored: UTC, microsecond precision (what both backends keep).
pub fn now() -> chrono::NaiveDateTime {
    let n = chrono::Utc::now().naive_utc();
    n.with_nanosecond_trunc()
}

trait TruncMicros {
    fn with_nanosecond_trunc(self) -> Self;
}
impl TruncMicros for chrono::NaiveDateTime {
    fn with_nanosecond_trunc(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(self.nanosecond() / 1000 * 1000).unwrap_or(self)
    }
}

/// Is this a unique-constraint violation (a taken name, a duplicate email)?
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
