//! The one error every adapter answers with: what kind of failure it was (so the engine decides
//! retries and back-off in one place) and a message for the user that says what to do.
use std::time::Duration;

/// Every way a provider call fails, whatever the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401: the credentials are no longer accepted.
    Unauthorized,
    /// 403 (not a rate limit): the account may not do this.
    Forbidden,
    NotFound,
    /// 410: gone for good (a deleted calendar, an expired cursor).
    Gone,
    Conflict,
    /// 412: the version we had is not the current one.
    PreconditionFailed,
    /// 429, or a 403 that is a rate limit: wait `retry_after` when the provider said.
    RateLimited,
    /// 5xx, or a connection that failed.
    Server,
    Timeout,
    /// An answer that could not be read (not the expected format, broken data).
    Malformed,
    /// A request that was not made: an invalid or refused address, a size limit, a missing
    /// setting. Repeating it changes nothing until someone changes the calendar.
    Invalid,
}

impl ErrorKind {
    /// Worth trying again soon without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Timeout)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// How long the provider asked us to wait (Retry-After).
    pub retry_after: Option<Duration>,
    /// The event a refused create found already made in the calendar (its answer was lost,
    /// and the event changed there since): the copy from now on.
    pub event: Option<String>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError { kind, message: message.into(), retry_after: None, event: None }
    }

    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        ProviderError { kind: ErrorKind::RateLimited, message: message.into(), retry_after, event: None }
    }

    /// A create's event, made before calsync heard back, changed in the calendar since.
    pub fn made_and_changed(event: &str, message: impl Into<String>) -> Self {
        ProviderError { kind: ErrorKind::PreconditionFailed, message: message.into(), retry_after: None, event: Some(event.to_string()) }
    }
}
