//! The error the browser sees: only text meant for people. Details stay in the server log.
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// A message for one form field (`field: None` for the form as a whole).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMessage {
    pub field: Option<String>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Validation failed: one message per field, shown under the fields.
    #[error("{}", first_message(.0))]
    Invalid(Vec<FieldMessage>),
    /// A refusal a person can act on, shown as it is.
    #[error("{0}")]
    Message(String),
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
            AppError::Invalid(list) => list
                .iter()
                .find(|m| m.field.as_deref() == Some(field))
                .map(|m| m.message.clone()),
            _ => None,
        }
    }

    /// Messages not attached to a field shown on the page (everything but field errors).
    pub fn general(&self) -> Option<String> {
        match self {
            AppError::Invalid(list) => {
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
            ServerFnErrorErr::Request(_) => {
                AppError::Transport("The server could not be reached. Check your connection and try again.".into())
            }
            _ => AppError::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<server::domain::Error> for AppError {
    fn from(e: server::domain::Error) -> Self {
        use server::domain::Error as E;
        match e {
            E::Invalid(list) => AppError::Invalid(
                list.into_iter().map(|m| FieldMessage { field: m.field, message: m.message }).collect(),
            ),
            E::NotFound => AppError::NotFound,
            E::Forbidden(m) | E::Conflict(m) | E::TooManyAttempts(m) => AppError::Message(m),
            E::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<server::db::DbError> for AppError {
    fn from(e: server::db::DbError) -> Self {
        server::domain::Error::from(e).into()
    }
}
