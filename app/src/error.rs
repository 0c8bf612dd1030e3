//! The error the browser sees: only text meant for people. Details stay in the server log.
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// A message for one form field (`field: None` for the form as a whole). `danger` marks a
/// warning shown in red (an expired token); errors are always red.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMessage {
    pub field: Option<String>,
    pub message: String,
    #[serde(default)]
    pub danger: bool,
}

impl FieldMessage {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldMessage { field: Some(field.to_string()), message: message.into(), danger: false }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Validation failed: errors under their fields, and the warnings found along the way.
    #[error("{}", first_message(errors))]
    Invalid { errors: Vec<FieldMessage>, warnings: Vec<FieldMessage> },
    /// A refusal a person can act on, shown as it is; `status` is its HTTP status (400 a garbled
    /// value, 401 wrong credentials, 403 not allowed, 409 conflict, 429 too many attempts).
    #[error("{message}")]
    Refused { status: u16, message: String },
    #[error("Please sign in to continue.")]
    Unauthorized,
    #[error("This page does not exist.")]
    NotFound,
    #[error("Something went wrong. It has been logged.")]
    Internal,
    /// The request never got an answer the app could read (network, a garbled form).
    #[error("{0}")]
    Transport(String),
}

fn first_message(list: &[FieldMessage]) -> &str {
    list.first().map(|m| m.message.as_str()).unwrap_or("Please check the form.")
}

impl AppError {
    /// The message for `field`, if any.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid { errors: list, .. } => list.iter().find(|m| m.field.as_deref() == Some(field)).map(|m| m.message.clone()),
            _ => None,
        }
    }

    /// The warnings that came with a refusal.
    pub fn warnings(&self) -> Vec<FieldMessage> {
        match self {
            AppError::Invalid { warnings, .. } => warnings.clone(),
            _ => Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::Refused { status: 400, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::Refused { status: 403, message: message.into() }
    }

    /// The HTTP status a server function answers with: user errors are 4xx, only what really
    /// broke is 500.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid { .. } => 422,
            AppError::Refused { status, .. } => *status,
            AppError::Unauthorized => 401,
            AppError::NotFound => 404,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid { errors: vec![FieldMessage::new(field, message)], warnings: Vec::new() }
    }

    /// Messages not attached to a field shown on the page (everything but field errors).
    pub fn general(&self) -> Option<String> {
        match self {
            AppError::Invalid { errors: list, .. } => {
                let rest: Vec<&str> = list.iter().filter(|m| m.field.is_none()).map(|m| m.message.as_str()).collect();
                (!rest.is_empty()).then(|| rest.join(" "))
            }
            other => Some(other.to_string()),
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) | ServerFnErrorErr::Deserialization(_) => {
                AppError::Transport("The form could not be read. Please check the values and try again.".into())
            }
            ServerFnErrorErr::Request(_) => AppError::Transport("The server could not be reached. Check your connection and try again.".into()),
            _ => AppError::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<server::domain::Error> for AppError {
    fn from(e: server::domain::Error) -> Self {
        use server::domain::Error as E;
        match e {
            E::Invalid(report) => AppError::Invalid {
                errors: report.errors.into_iter().map(|m| FieldMessage { field: m.field, message: m.message, danger: true }).collect(),
                warnings: report.warnings.into_iter().map(warning).collect(),
            },
            E::NotFound => AppError::NotFound,
            E::Unauthenticated(m) => AppError::Refused { status: 401, message: m },
            E::Forbidden(m) => AppError::Refused { status: 403, message: m },
            E::Conflict(m) => AppError::Refused { status: 409, message: m },
            E::TooManyAttempts(m) => AppError::Refused { status: 429, message: m },
            E::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
pub fn warning(w: server::domain::Warning) -> FieldMessage {
    FieldMessage { field: w.field, message: w.message, danger: w.danger }
}

#[cfg(feature = "ssr")]
impl From<server::db::DbError> for AppError {
    fn from(e: server::db::DbError) -> Self {
        server::domain::Error::from(e).into()
    }
}
