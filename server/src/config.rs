//! Typed configuration, read once from the environment (and an optional `.env`) and passed down.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Listen address unless `serve --addr` overrides it.
    pub addr: SocketAddr,
    pub public_url: String,
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

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError {
            var: name,
            message: format!("cannot read {v:?}"),
        }),
    }
}

impl Config {
    /// Reads `.env` (if present) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let data_dir = PathBuf::from(var("CALSYNC_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("calsync.db").display()));
        let addr = match var("CALSYNC_ADDR").or_else(|| var("LEPTOS_SITE_ADDR")) {
            Some(a) => a.parse().map_err(|_| ConfigError {
                var: "CALSYNC_ADDR",
                message: format!("{a:?} is not an address like 127.0.0.1:3000"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let public_url = var("CALSYNC_PUBLIC_URL")
            .unwrap_or_else(|| "http://127.0.0.1:3000".into())
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError {
                var: "CALSYNC_PUBLIC_URL",
                message: "must start with http:// or https://".into(),
            });
        }
        let default_tz = match var("CALSYNC_DEFAULT_TZ") {
            None => chrono_tz::UTC,
            Some(tz) => tz.parse().map_err(|_| ConfigError {
                var: "CALSYNC_DEFAULT_TZ",
                message: format!("{tz:?} is not an IANA time zone such as Europe/Berlin"),
            })?,
        };
        let log_json = match var("CALSYNC_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "CALSYNC_LOG_FORMAT",
                    message: format!("{other:?} is neither text nor json"),
                })
            }
        };
        Ok(Config {
            database_url,
            data_dir,
            addr,
            public_url,
            default_tz,
            log_json,
            session_idle: Duration::from_secs(60 * parse("CALSYNC_SESSION_IDLE_MINUTES", 720u64)?),
            session_max_age: Duration::from_secs(
                24 * 3600 * parse("CALSYNC_SESSION_MAX_DAYS", 14u64)?,
            ),
            secret_keys: var("CALSYNC_SECRET_KEYS").map(crate::crypto::Secret::new),
            password_cost: crate::password::Cost::Standard,
        })
    }

    /// Cookies get `Secure` when the public address is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
