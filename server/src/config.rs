//! Typed configuration, read once from the environment (and an optional `.env`) and passed down.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Listen address unless `serve --addr` overrides it.
    pub addr: SocketAddr,
    /// The address people open (`CALSYNC_PUBLIC_URL`); writes from any other origin are refused.
    pub public_url: String,
    /// Whether `CALSYNC_PUBLIC_URL` was set; if not, `serve` takes the listen address.
    pub public_url_set: bool,
    pub default_tz: chrono_tz::Tz,
    pub log_json: bool,
    /// Sessions end after this long without a request.
    pub session_idle: Duration,
    /// Sessions end this long after sign-in, however active.
    pub session_max_age: Duration,
    /// `CALSYNC_SECRET_KEYS` (`id:base64key,…`, newest first); without it, the key file.
    pub secret_keys: Option<crate::crypto::Secret>,
    /// Argon2 cost; tests lower it.
    pub password_cost: crate::password::Cost,
    /// The sync engine and scheduler, with the feed reader's limits.
    pub sync: crate::sync::Settings,
    /// `CALSYNC_MAX_CALENDARS_PER_USER` (50).
    pub max_calendars_per_user: usize,
    /// `CALSYNC_SCHEDULER=0` turns the scheduler in `serve` off (another process runs it).
    pub scheduler: bool,
    /// `CALSYNC_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `CALSYNC_WEBHOOKS`: push notifications from the providers.
    pub webhooks: Webhooks,
    /// `CALSYNC_METRICS`: who may read `/metrics`.
    pub metrics: MetricsAccess,
}

/// Who may read `/metrics` (`CALSYNC_METRICS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAccess {
    /// Anyone who reaches the address.
    Open,
    /// Loopback clients (after `CALSYNC_TRUSTED_PROXIES`) and admin API tokens.
    Protected,
    /// Not served.
    Off,
}

/// Whether calendars get push channels (`CALSYNC_WEBHOOKS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Webhooks {
    /// Only when the public address is https (providers refuse plain http).
    Auto,
    On,
    /// Polling and the daily full sync only.
    Off,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A request budget such as `600/60s` (see `providers::pace::Rate`).
fn rate(name: &'static str, default: &str) -> Result<crate::providers::pace::Rate, ConfigError> {
    let text = var(name).unwrap_or_else(|| default.to_string());
    crate::providers::pace::Rate::parse(&text)
        .ok_or(ConfigError { var: name, message: format!("cannot read {text:?}: expected requests per time, such as 600/60s or 100/100s") })
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError { var: name, message: format!("cannot read {v:?}") }),
    }
}

/// A share between 0 and 1.
fn ratio(name: &'static str, default: f64) -> Result<f64, ConfigError> {
    let value: f64 = parse(name, default)?;
    if !(0.0..=1.0).contains(&value) {
        return Err(ConfigError { var: name, message: format!("{value} is not a share between 0 and 1 (0.5 is half)") });
    }
    Ok(value)
}

/// `1`/`true`/`yes` or `0`/`false`/`no`; unset is false.
fn flag(name: &'static str) -> Result<bool, ConfigError> {
    match var(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => Err(ConfigError { var: name, message: format!("{other:?} is neither 1 nor 0") }),
    }
}

impl Config {
    /// Reads `.env` (if present) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let data_dir = PathBuf::from(var("CALSYNC_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL").unwrap_or_else(|| format!("sqlite://{}", data_dir.join("calsync.db").display()));
        let addr = match var("CALSYNC_ADDR").or_else(|| var("LEPTOS_SITE_ADDR")) {
            Some(a) => a.parse().map_err(|_| ConfigError { var: "CALSYNC_ADDR", message: format!("{a:?} is not an address like 127.0.0.1:3000") })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let public_url_set = var("CALSYNC_PUBLIC_URL").is_some();
        let public_url = var("CALSYNC_PUBLIC_URL").unwrap_or_else(|| default_public_url(addr)).trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) || origin_of(&public_url).is_none() {
            return Err(ConfigError {
                var: "CALSYNC_PUBLIC_URL",
                message: format!("{public_url:?} is not an address like https://calsync.example.com (http:// or https://)"),
            });
        }
        let default_tz = match var("CALSYNC_DEFAULT_TZ") {
            None => chrono_tz::UTC,
            Some(tz) => {
                tz.parse().map_err(|_| ConfigError { var: "CALSYNC_DEFAULT_TZ", message: format!("{tz:?} is not an IANA time zone such as Europe/Berlin") })?
            }
        };
        let log_json = match var("CALSYNC_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => return Err(ConfigError { var: "CALSYNC_LOG_FORMAT", message: format!("{other:?} is neither text nor json") }),
        };
        Ok(Config {
            database_url,
            data_dir,
            addr,
            public_url,
            public_url_set,
            default_tz,
            log_json,
            session_idle: Duration::from_secs(60 * parse("CALSYNC_SESSION_IDLE_MINUTES", 720u64)?),
            session_max_age: Duration::from_secs(24 * 3600 * parse("CALSYNC_SESSION_MAX_DAYS", 14u64)?),
            secret_keys: var("CALSYNC_SECRET_KEYS").map(crate::crypto::Secret::new),
            password_cost: crate::password::Cost::Standard,
            sync: crate::sync::Settings {
                tick: Duration::from_secs(parse("CALSYNC_SYNC_TICK_SECONDS", 60u64)?.max(1)),
                concurrency: parse("CALSYNC_SYNC_CONCURRENCY", 4usize)?.max(1),
                lease: chrono::Duration::seconds(parse("CALSYNC_SYNC_LEASE_SECONDS", 600i64)?.max(30)),
                max_instances: parse("CALSYNC_SYNC_MAX_INSTANCES", 100_000usize)?.max(1),
                max_steps: parse("CALSYNC_SYNC_MAX_STEPS", crate::ical::expand::DEFAULT_STEPS)?.max(1),
                read_deadline: Duration::from_secs(parse("CALSYNC_SYNC_READ_SECONDS", 20u64)?.max(1)),
                shutdown_grace: Duration::from_secs(parse("CALSYNC_SHUTDOWN_GRACE_SECONDS", 20u64)?),
                cursor_body_max: parse("CALSYNC_ICAL_KEEP_BODY_BYTES", 1024usize * 1024)?,
                feeds: crate::providers::fetch::FeedLimits {
                    max_bytes: parse("CALSYNC_ICAL_MAX_BYTES", 20u64 * 1024 * 1024)?,
                    timeout: Duration::from_secs(parse("CALSYNC_ICAL_TIMEOUT_SECONDS", 30u64)?.max(1)),
                    max_redirects: parse("CALSYNC_ICAL_MAX_REDIRECTS", 5usize)?,
                    allow_private: flag("CALSYNC_ICAL_ALLOW_PRIVATE")?,
                    public_stand_ins: Vec::new(),
                    allowed_ports: {
                        let list = var("CALSYNC_ICAL_ALLOWED_PORTS").unwrap_or_else(|| crate::providers::fetch::DEFAULT_PORTS.into());
                        crate::providers::fetch::parse_ports(&list).ok_or(ConfigError {
                            var: "CALSYNC_ICAL_ALLOWED_PORTS",
                            message: format!("cannot read {list:?}: expected ports and ranges such as 80,443,8000-8999"),
                        })?
                    },
                },
                mass_delete: crate::domain::stored_events::MassDelete {
                    ratio: ratio("CALSYNC_SYNC_MASS_DELETE_RATIO", 0.5)?,
                    min: parse("CALSYNC_SYNC_MASS_DELETE_MIN", 20usize)?,
                    cancel_min: parse("CALSYNC_SYNC_MASS_CANCEL_MIN", 5usize)?,
                },
                google: {
                    let real = crate::providers::google::Endpoints::default();
                    crate::providers::google::Endpoints {
                        auth: var("CALSYNC_GOOGLE_AUTH_URL").unwrap_or(real.auth),
                        token: var("CALSYNC_GOOGLE_TOKEN_URL").unwrap_or(real.token),
                        revoke: var("CALSYNC_GOOGLE_REVOKE_URL").unwrap_or(real.revoke),
                        api: var("CALSYNC_GOOGLE_API_URL").unwrap_or(real.api),
                        client_id: var("CALSYNC_GOOGLE_CLIENT_ID"),
                        client_secret: var("CALSYNC_GOOGLE_CLIENT_SECRET").map(crate::crypto::Secret::new),
                    }
                },
                outlook: {
                    let real = crate::providers::outlook::Endpoints::default();
                    crate::providers::outlook::Endpoints {
                        login: var("CALSYNC_MICROSOFT_LOGIN_URL").unwrap_or(real.login),
                        tenant: var("CALSYNC_MICROSOFT_TENANT").unwrap_or(real.tenant),
                        graph: var("CALSYNC_MICROSOFT_GRAPH_URL").unwrap_or(real.graph),
                        client_id: var("CALSYNC_MICROSOFT_CLIENT_ID"),
                        client_secret: var("CALSYNC_MICROSOFT_CLIENT_SECRET").map(crate::crypto::Secret::new),
                    }
                },
                outlook_mailbox_rate: rate("CALSYNC_MICROSOFT_MAILBOX_RATE", "10000/10m")?,
                provider_timeout: Duration::from_secs(parse("CALSYNC_PROVIDER_TIMEOUT_SECONDS", 30u64)?.max(1)),
                webhook_base: None,
                repair_every: Duration::from_secs(3600 * parse("CALSYNC_SYNC_REPAIR_HOURS", 24u64)?.max(1)),
                google_project_rate: rate("CALSYNC_GOOGLE_PROJECT_RATE", "10000/60s")?,
                google_user_rate: rate("CALSYNC_GOOGLE_USER_RATE", "600/60s")?,
                runs_kept: chrono::Duration::days(parse("CALSYNC_RETENTION_RUNS_DAYS", 90i64)?.clamp(1, 36_500)),
                history_kept: chrono::Duration::days(parse("CALSYNC_RETENTION_HISTORY_DAYS", 365i64)?.clamp(1, 36_500)),
                prune_every: std::time::Duration::from_secs(600),
            },
            webhooks: match var("CALSYNC_WEBHOOKS").as_deref().map(str::trim) {
                None | Some("auto") => Webhooks::Auto,
                Some("on") => Webhooks::On,
                Some("off") => Webhooks::Off,
                Some(other) => return Err(ConfigError { var: "CALSYNC_WEBHOOKS", message: format!("{other:?} is none of auto, on, off") }),
            },
            metrics: match var("CALSYNC_METRICS").as_deref().map(str::trim) {
                None | Some("protected") => MetricsAccess::Protected,
                Some("open") => MetricsAccess::Open,
                Some("off") => MetricsAccess::Off,
                Some(other) => return Err(ConfigError { var: "CALSYNC_METRICS", message: format!("{other:?} is none of open, protected, off") }),
            },
            scheduler: var("CALSYNC_SCHEDULER").is_none_or(|v| v.trim() != "0"),
            max_calendars_per_user: parse("CALSYNC_MAX_CALENDARS_PER_USER", 50usize)?.max(1),
            trusted_proxies: match var("CALSYNC_TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(list) => parse_networks(&list).map_err(|bad| ConfigError {
                    var: "CALSYNC_TRUSTED_PROXIES",
                    message: format!("{bad:?} is neither an address nor a network such as 10.0.0.0/8"),
                })?,
            },
        })
    }

    /// `scheme://host[:port]` of the public address: what a browser on one of its pages sends
    /// as `Origin`.
    pub fn public_origin(&self) -> String {
        origin_of(&self.public_url).unwrap_or_else(|| self.public_url.clone())
    }

    /// Where providers push notifications, if they may (see `Webhooks`).
    pub fn webhook_base(&self) -> Option<String> {
        match self.webhooks {
            Webhooks::Off => None,
            Webhooks::On => Some(self.public_url.clone()),
            Webhooks::Auto => self.public_url.starts_with("https://").then(|| self.public_url.clone()),
        }
    }

    /// Cookies get `Secure` when the public address is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The origin (`scheme://host[:port]`, default port left out) of an absolute http(s) URL, as
/// browsers write it in `Origin`.
pub fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.host().is_some()).then(|| u.origin().ascii_serialization())
}

/// Without `CALSYNC_PUBLIC_URL`: the listen address (loopback when listening on every address).
pub fn default_public_url(addr: SocketAddr) -> String {
    let shown = if addr.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    format!("http://{shown}")
}

/// `10.0.0.1, 172.16.0.0/12, ::1`: addresses and networks; the first entry that is neither is
/// the error.
pub fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<ipnet::IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|_| s.to_string()))
        .collect()
}
