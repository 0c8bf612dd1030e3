//! What calsync writes into a calendar (two-way push): a meeting as the booking side holds it,
//! and what the provider answered. Adapters turn a [`Draft`] into their own event body.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{ErrorKind, ProviderError};

/// A meeting to write, in the provider-neutral form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub attendees: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The zone it is shown and recurs in.
    pub time_zone: Tz,
    /// `RRULE:…`
    pub recurrence: Option<String>,
    /// Let the provider email the attendees.
    pub notify: bool,
    /// A back-reference kept with the copy (Google: a private extended property).
    pub marker: String,
}

impl Draft {
    /// The wall-clock start and end in the draft's zone, `YYYY-MM-DDTHH:MM:SS`.
    pub fn local(&self) -> (String, String) {
        let f = |t: DateTime<Utc>| t.with_timezone(&self.time_zone).format("%Y-%m-%dT%H:%M:%S").to_string();
        (f(self.start), f(self.end))
    }
}

/// One write of a copy.
#[derive(Debug, Clone)]
pub struct Put<'a> {
    /// The idempotency key chosen for this copy before its first attempt (Google's event id,
    /// Graph's `transactionId`).
    pub key: &'a str,
    /// The provider's id once a write succeeded; `None`: create it.
    pub external_id: Option<&'a str>,
    /// An earlier attempt may have committed without calsync hearing the answer.
    pub retry: bool,
    /// The version of the copy calsync last wrote or accepted: an update is refused
    /// (`PreconditionFailed`) when the calendar's copy changed since, so no edit made there is
    /// overwritten unseen.
    pub if_match: Option<&'a str>,
    pub draft: &'a Draft,
}

/// What the provider holds after a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The id the copy is known by in the calendar (and in synced events, its uid).
    pub external_id: String,
    /// The provider's version tag (Google's etag, Graph's changeKey).
    pub etag: Option<String>,
}

/// The answer of an adapter that cannot write (iCal feeds).
pub fn read_only() -> ProviderError {
    ProviderError::new(ErrorKind::Forbidden, "This calendar is read-only: calsync cannot write to it.")
}

/// One write request, paced and retried like reads (a retried create is safe: it carries the
/// idempotency key). `make` builds the request afresh for each attempt; `error_of` reads a
/// refusal. Answers the status and the JSON body (`Null` when empty).
pub(crate) async fn send(
    pacer: &super::pace::Pacer,
    provider: &'static str,
    make: impl Fn() -> reqwest::RequestBuilder,
    error_of: impl Fn(u16, Option<std::time::Duration>, &str) -> ProviderError,
    transport: fn(reqwest::Error) -> ProviderError,
) -> Result<(u16, serde_json::Value), ProviderError> {
    let mut attempt = 0;
    loop {
        pacer.admit().await?;
        let once = async {
            let started = std::time::Instant::now();
            let sent = make().send().await;
            crate::metrics::provider_request(provider, sent.as_ref().ok().map(|r| r.status().as_u16()), started.elapsed());
            let response = sent.map_err(transport)?;
            let status = response.status().as_u16();
            let wait = response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok()).map(std::time::Duration::from_secs);
            let text = response.text().await.map_err(transport)?;
            if !(200..300).contains(&status) {
                return Err(error_of(status, wait, &text));
            }
            if text.trim().is_empty() {
                return Ok((status, serde_json::Value::Null));
            }
            serde_json::from_str(&text).map(|v| (status, v)).map_err(|e| ProviderError::new(ErrorKind::Malformed, format!("The calendar's answer to a write could not be read ({e}).")))
        };
        match once.await {
            Err(e) if pacer.retry(&e, attempt).await => attempt += 1,
            other => return other,
        }
    }
}
