//! Fetching a feed over HTTP: `webcal://` as `https://`, conditional GET, gzip, and limits on
//! size, time and redirects. Redirects are followed here, one hop at a time, so every hop is
//! checked by the address guard.
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{header, StatusCode};
use url::Url;

use super::guard::{forbidden, Guarded, Refused, Resolver, SystemResolver};
use super::{ErrorKind, ProviderError};

#[derive(Debug, Clone)]
pub struct FeedLimits {
    pub max_bytes: u64,
    pub timeout: Duration,
    pub max_redirects: usize,
    /// `CALSYNC_ICAL_ALLOW_PRIVATE=1`: private and loopback addresses may be fetched.
    pub allow_private: bool,
    /// Tests only: addresses treated as public servers (a stand-in for the outside world on a
    /// loopback address, so tests never send packets beyond loopback). Empty in production.
    pub public_stand_ins: Vec<std::net::IpAddr>,
    /// Ports feeds may be fetched from (`CALSYNC_ICAL_ALLOWED_PORTS`), as inclusive ranges;
    /// any port when private addresses are allowed.
    pub allowed_ports: Vec<(u16, u16)>,
}

/// The ports of web servers: feeds live there, internal services mostly do not.
pub const DEFAULT_PORTS: &str = "80,443,8000-8999";

/// `80,443,8000-8999` → ranges; `None` when unreadable.
pub fn parse_ports(list: &str) -> Option<Vec<(u16, u16)>> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)).filter(|(a, b)| a <= b),
            None => p.parse().ok().map(|n| (n, n)),
        })
        .collect()
}

impl Default for FeedLimits {
    fn default() -> Self {
        FeedLimits {
            max_bytes: 20 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            allow_private: false,
            public_stand_ins: Vec::new(),
            allowed_ports: parse_ports(DEFAULT_PORTS).unwrap_or_default(),
        }
    }
}

/// Validators from the previous fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    /// 304: the feed has not changed since the validators were given.
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
        content_type: Option<String>,
    },
}

/// Every way a fetch fails, each with a message that says what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("The feed address is not a valid URL ({0}). Check it in the calendar's settings.")]
    InvalidUrl(String),
    #[error("Only http://, https:// and webcal:// feed addresses can be synced, not {0}://.")]
    Scheme(String),
    #[error("Refused to fetch the feed: {0}. calsync does not fetch addresses inside its own network; use the feed's public address.")]
    Refused(Refused),
    #[error("Refused to fetch the feed: port {0} is not one feeds are fetched from ({1}). Use the feed's address on a web port.")]
    Port(u16, String),
    #[error("The feed's host {0} could not be found. Check the address for typos.")]
    UnknownHost(String),
    #[error("Could not connect to {0}: {1}. The feed server may be down; the next sync will try again.")]
    Connect(String, String),
    #[error("The feed did not answer within {0} seconds. The server may be slow or down; the next sync will try again.")]
    Timeout(u64),
    #[error("The feed is larger than the {0} MB limit, so it was not read. Ask the feed's owner for a smaller feed, or ask your administrator to raise CALSYNC_ICAL_MAX_BYTES.")]
    TooLarge(u64),
    #[error("The feed redirected more than {0} times. Use the final address of the feed.")]
    TooManyRedirects(usize),
    #[error("The feed server answered {0}. It redirected without saying where to.")]
    NoLocation(String),
    #[error("The feed server answered {}. {}", describe(*.code), advice(*.code))]
    Status { code: StatusCode, retry_after: Option<Duration> },
    #[error("Reading the feed failed: {0}. The next sync will try again.")]
    Read(String),
}

pub struct FeedClient {
    client: reqwest::Client,
    limits: FeedLimits,
}

impl FeedClient {
    pub fn new(limits: FeedLimits) -> Self {
        Self::with_resolver(limits, Arc::new(SystemResolver))
    }

    pub fn with_resolver(limits: FeedLimits, resolver: Arc<dyn Resolver>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Guarded { inner: resolver, allow_private: limits.allow_private, stand_ins: limits.public_stand_ins.clone() }))
            // A proxy would resolve names itself, past the guard.
            .no_proxy()
            .connect_timeout(limits.timeout)
            .user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        FeedClient { client, limits }
    }

    pub fn limits(&self) -> &FeedLimits {
        &self.limits
    }

    /// GETs the feed at `address`, following redirects, within the total time limit.
    pub async fn get(&self, address: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        let seconds = self.limits.timeout.as_secs();
        match tokio::time::timeout(self.limits.timeout, self.get_inner(address, validators)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(seconds)),
        }
    }

    async fn get_inner(&self, address: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut url = feed_url(address)?;
        for hop in 0..=self.limits.max_redirects {
            self.check_port(&url)?;
            self.check_literal(&url)?;
            let mut request = self.client.get(url.clone()).header(header::ACCEPT, "text/calendar, */*;q=0.5");
            if let Some(etag) = &validators.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(modified) = &validators.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, modified);
            }
            let started = std::time::Instant::now();
            let sent = request.send().await;
            crate::observe::request("ical", sent.as_ref().ok().map(|r| r.status().as_u16()), started.elapsed());
            let response = sent.map_err(|e| self.send_error(&url, e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok());
                let Some(location) = location else {
                    return Err(FetchError::NoLocation(describe(status)));
                };
                if hop == self.limits.max_redirects {
                    break;
                }
                url = url.join(location).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
                check_scheme(&url)?;
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if !status.is_success() {
                let retry_after = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(crate::http::seconds);
                return Err(FetchError::Status { code: status, retry_after });
            }
            return self.read_body(response).await;
        }
        Err(FetchError::TooManyRedirects(self.limits.max_redirects))
    }

    fn check_port(&self, url: &Url) -> Result<(), FetchError> {
        let port = url.port_or_known_default().unwrap_or(0);
        if self.limits.allow_private || self.limits.allowed_ports.iter().any(|&(a, b)| (a..=b).contains(&port)) {
            return Ok(());
        }
        let list = self.limits.allowed_ports.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}–{b}") }).collect::<Vec<_>>().join(", ");
        Err(FetchError::Port(port, list))
    }

    fn check_literal(&self, url: &Url) -> Result<(), FetchError> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.into(),
            Some(url::Host::Ipv6(ip)) => ip.into(),
            _ => return Ok(()),
        };
        if self.limits.public_stand_ins.contains(&ip) {
            return Ok(());
        }
        match forbidden(ip, self.limits.allow_private) {
            Some(reason) => Err(FetchError::Refused(Refused { host: url.host_str().unwrap_or_default().to_owned(), ip, reason })),
            None => Ok(()),
        }
    }

    fn send_error(&self, url: &Url, e: reqwest::Error) -> FetchError {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<Refused>() {
                return FetchError::Refused(refused.clone());
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::NotFound || io.to_string().contains("failed to lookup address") {
                    return FetchError::UnknownHost(host);
                }
            }
            source = err.source();
        }
        if e.is_timeout() {
            return FetchError::Timeout(self.limits.timeout.as_secs());
        }
        FetchError::Connect(host, root_cause(&e))
    }

    async fn read_body(&self, response: reqwest::Response) -> Result<Fetched, FetchError> {
        let max = self.limits.max_bytes;
        let too_large = FetchError::TooLarge(max.div_ceil(1024 * 1024));
        if response.content_length().is_some_and(|n| n > max) {
            return Err(too_large);
        }
        let header = |name: header::HeaderName| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let validators = Validators { etag: header(header::ETAG), last_modified: header(header::LAST_MODIFIED) };
        let content_type = header(header::CONTENT_TYPE);
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Read(root_cause(&e)))?;
            if bytes.len() as u64 + chunk.len() as u64 > max {
                return Err(too_large);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body { bytes, validators, content_type })
    }
}

/// The URL a feed address is fetched from: `webcal://` is `https://`.
pub fn feed_url(address: &str) -> Result<Url, FetchError> {
    let address = address.trim();
    let rewritten = match address.get(..9) {
        Some(p) if p.eq_ignore_ascii_case("webcal://") => format!("https://{}", &address[9..]),
        _ => address.to_owned(),
    };
    let url = Url::parse(&rewritten).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
    check_scheme(&url)?;
    if url.host().is_none() {
        return Err(FetchError::InvalidUrl("it has no host".into()));
    }
    Ok(url)
}

fn check_scheme(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        other => Err(FetchError::Scheme(other.to_owned())),
    }
}

impl FetchError {
    /// The provider-neutral error the engine decides on.
    pub fn into_provider_error(self) -> ProviderError {
        let message = self.to_string();
        let kind = match &self {
            FetchError::InvalidUrl(_)
            | FetchError::Scheme(_)
            | FetchError::Refused(_)
            | FetchError::Port(..)
            | FetchError::TooLarge(_)
            | FetchError::TooManyRedirects(_)
            | FetchError::NoLocation(_) => ErrorKind::Invalid,
            FetchError::UnknownHost(_) => ErrorKind::NotFound,
            FetchError::Connect(..) | FetchError::Read(_) => ErrorKind::Server,
            FetchError::Timeout(_) => ErrorKind::Timeout,
            FetchError::Status { code, retry_after } => match code.as_u16() {
                401 => ErrorKind::Unauthorized,
                403 => ErrorKind::Forbidden,
                404 => ErrorKind::NotFound,
                410 => ErrorKind::Gone,
                409 => ErrorKind::Conflict,
                412 => ErrorKind::PreconditionFailed,
                429 => return ProviderError::rate_limited(message, *retry_after),
                500..=599 => ErrorKind::Server,
                _ => ErrorKind::Invalid,
            },
        };
        ProviderError::new(kind, message)
    }
}

fn describe(status: StatusCode) -> String {
    format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""))
}

fn advice(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 | 403 => "The feed is private or the link has expired: copy a fresh feed address from the calendar's sharing settings.",
        404 | 410 => "The feed may have been moved or unpublished: check the URL in the calendar's settings.",
        429 => "The feed server is limiting requests; the next sync will try again.",
        500..=599 => "The feed server has a problem; the next sync will try again.",
        _ => "Check the URL in the calendar's settings.",
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webcal_is_https() {
        assert_eq!(feed_url("webcal://example.com/a.ics").unwrap().as_str(), "https://example.com/a.ics");
        assert_eq!(feed_url("WEBCAL://example.com/a.ics").unwrap().scheme(), "https");
        assert!(matches!(feed_url("ftp://example.com/a.ics"), Err(FetchError::Scheme(_))));
        assert!(matches!(feed_url("not a url"), Err(FetchError::InvalidUrl(_))));
    }
}
