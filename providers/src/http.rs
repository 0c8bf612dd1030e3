//! One exchange with a provider's JSON API, shared by the adapters that speak HTTP to an API
//! (Google, Outlook, CalDAV next): the client, the paced and retried request, Retry-After,
//! transport failures and the request metrics. What a refusal means stays with each adapter
//! (its `refusal` function); how a request is sent, waited for and counted is here only.
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::RequestBuilder;
use serde::de::DeserializeOwned;

use crate::pace::Pacer;
use crate::{ErrorKind, ProviderError};

/// A client for the providers' APIs (operator-set addresses: trusted).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION"))).build().unwrap_or_default()
}

/// A `Retry-After` value in seconds; the HTTP-date form is rare from these APIs and read as
/// absent (the back-off applies instead).
pub fn seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The `Retry-After` of an answer.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok().and_then(seconds)
}

/// An API calsync talks to.
#[derive(Clone, Copy)]
pub struct Api {
    /// Its label in the request metrics.
    pub label: &'static str,
    /// Its name in messages ("Google Calendar").
    pub name: &'static str,
    /// What a refusal means: status, Retry-After, body.
    pub refusal: fn(u16, Option<Duration>, &str) -> ProviderError,
}

/// An answer as it came.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// The body says it is JSON.
    pub json: bool,
    pub body: String,
}

impl Answer {
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Api {
    /// A request that got no answer.
    pub fn transport(&self, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::new(ErrorKind::Timeout, format!("{} did not answer in time. The next sync will try again.", self.name))
        } else {
            ProviderError::new(ErrorKind::Server, format!("Could not reach {}. The next sync will try again.", self.name))
        }
    }

    /// Sends once, reports it to the observer and reads the answer, at most `limit` bytes.
    pub async fn exchange(&self, request: RequestBuilder, limit: usize) -> Result<Answer, ProviderError> {
        let started = Instant::now();
        let sent = request.send().await;
        crate::observe::request(self.label, sent.as_ref().ok().map(|r| r.status().as_u16()), started.elapsed());
        let response = sent.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let json = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        if body.len() > limit {
            return Err(ProviderError::new(ErrorKind::Malformed, format!("{} sent an answer larger than {} MB.", self.name, limit >> 20)));
        }
        Ok(Answer { status, retry_after, json, body: String::from_utf8_lossy(&body).into_owned() })
    }

    /// A success's JSON body as `T` (an empty body reads as JSON `null`); a refusal is the
    /// error `refusal` makes of it. `what` names the answer in the message when it is unreadable.
    pub fn read<T: DeserializeOwned>(&self, answer: &Answer, what: &str) -> Result<T, ProviderError> {
        if !answer.success() {
            return Err((self.refusal)(answer.status, answer.retry_after, &answer.body));
        }
        let body = if answer.body.trim().is_empty() { "null" } else { answer.body.as_str() };
        serde_json::from_str(body).map_err(|e| ProviderError::new(ErrorKind::Malformed, format!("{}'s {what} could not be read ({e}).", self.name)))
    }

    /// A success whose body is not JSON (a proxy's page, a truncated answer) is refused as
    /// malformed, so the run is tried again rather than reading it.
    pub fn expect_json(&self, answer: &Answer) -> Result<(), ProviderError> {
        if answer.success() && !answer.json {
            return Err(ProviderError::new(
                ErrorKind::Malformed,
                format!("{} answered {} with something that is not JSON. The next sync will try again.", self.name, answer.status),
            ));
        }
        Ok(())
    }

    /// One request, once (setting up a connection: nothing to pace yet).
    pub async fn once<T: DeserializeOwned>(&self, request: RequestBuilder, what: &str) -> Result<T, ProviderError> {
        self.read(&self.exchange(request, MAX_ANSWER).await?, what)
    }

    /// One request, paced and retried by the run's `pacer`; `make` builds it afresh for each
    /// attempt (a retried create is safe: it carries its idempotency key).
    pub async fn paced<T: DeserializeOwned>(&self, pacer: &Pacer, make: impl Fn() -> RequestBuilder, what: &str) -> Result<T, ProviderError> {
        pacer.run(|| async { self.read(&self.exchange(make(), MAX_ANSWER).await?, what) }).await
    }
}

/// The largest answer read (a page of events is far smaller).
pub const MAX_ANSWER: usize = 32 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_leaves_dates_out() {
        assert_eq!(seconds(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
    }
}
