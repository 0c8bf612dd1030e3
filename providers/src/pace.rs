//! How a run's requests to a provider are paced: calsync's own request budgets (shared by
//! every process through the database, behind the `Budget` trait so adapters know nothing of
//! it), the provider's Retry-After, and retries with exponential back-off and jitter for
//! server errors and timeouts — a few per run, short ones only: a long wait ends the run and
//! the scheduler waits instead of holding a sync slot.
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ErrorKind, ProviderError};

/// Takes one request from the budgets: `None` go now, `Some(wait)` over budget for that long.
#[async_trait::async_trait]
pub trait Budget: Send + Sync {
    async fn take(&self) -> Result<Option<Duration>, String>;
}

/// Retries one run may make in all.
pub const MAX_RETRIES: u32 = 4;
/// The longest wait inside a run; anything longer ends the run with its retry-after.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

pub struct Pacer {
    provider: &'static str,
    budget: Option<Arc<dyn Budget>>,
    throttled: Mutex<Duration>,
    retries: AtomicU32,
}

impl Pacer {
    pub fn new(provider: &'static str, budget: Option<Arc<dyn Budget>>) -> Pacer {
        Pacer { provider, budget, throttled: Mutex::new(Duration::ZERO), retries: AtomicU32::new(0) }
    }

    /// How long this run waited because of rate limits (the provider's or calsync's).
    pub fn throttled(&self) -> Duration {
        *self.throttled.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waited(&self, d: Duration) {
        *self.throttled.lock().unwrap_or_else(|e| e.into_inner()) += d;
    }

    /// Before each request: within the budgets, or waits a little, or ends the run.
    pub async fn admit(&self) -> Result<(), ProviderError> {
        let Some(budget) = &self.budget else { return Ok(()) };
        for _ in 0..3 {
            match budget.take().await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) if wait <= MAX_WAIT => {
                    tokio::time::sleep(wait).await;
                    self.waited(wait);
                }
                Ok(Some(wait)) => {
                    return Err(ProviderError::rate_limited(
                        format!("calsync's request budget for {} is used up for now; the next sync waits {} s.", self.provider, wait.as_secs().max(1)),
                        Some(wait),
                    ))
                }
                Err(e) => {
                    // A budget that cannot be read does not stop syncing; the provider's own
                    // limits still hold.
                    tracing::warn!(error = %e, "reading the request budget");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Runs `attempt` within the budgets, again after a server error, a timeout or a short
    /// Retry-After, as long as the run has retries left.
    pub async fn run<T, F, Fut>(&self, attempt: F) -> Result<T, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut tried = 0;
        loop {
            self.admit().await?;
            match attempt().await {
                Err(e) if self.retry(&e, tried).await => tried += 1,
                other => return other,
            }
        }
    }

    /// After a failed request (`attempt` from 0): waits and answers true when it is worth
    /// trying again in this run.
    pub async fn retry(&self, e: &ProviderError, attempt: u32) -> bool {
        if !e.kind.is_transient() || self.retries.fetch_add(1, Ordering::SeqCst) >= MAX_RETRIES {
            return false;
        }
        let wait = match e.retry_after {
            Some(w) if w > MAX_WAIT => return false,
            Some(w) => w,
            None => backoff(attempt),
        };
        tokio::time::sleep(wait).await;
        if e.kind == ErrorKind::RateLimited {
            self.waited(wait);
        }
        true
    }
}

/// 250 ms, 500 ms, 1 s, 2 s … (at most 8 s), each plus up to 250 ms of jitter so that
/// processes retrying together spread out.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250u64 << attempt.min(5)).min(Duration::from_secs(8));
    base + Duration::from_millis(rand::random::<u64>() % 250)
}

/// A request budget: `requests` per `per` (`CALSYNC_GOOGLE_USER_RATE=600/60s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub requests: u64,
    pub per: Duration,
}

impl Rate {
    /// `600/60s`, `100/100s`, `10000/10m`.
    pub fn parse(s: &str) -> Option<Rate> {
        let (n, per) = s.trim().split_once('/')?;
        let requests = n.trim().parse().ok().filter(|n| *n > 0)?;
        let per = per.trim();
        let (num, unit) = per.split_at(per.find(|c: char| !c.is_ascii_digit()).unwrap_or(per.len()));
        let num: u64 = if num.is_empty() { 1 } else { num.parse().ok()? };
        let secs = match unit {
            "s" | "" => num,
            "m" => num * 60,
            "h" => num * 3600,
            _ => return None,
        };
        (secs > 0).then(|| Rate { requests, per: Duration::from_secs(secs) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_people_write_them() {
        assert_eq!(Rate::parse("600/60s"), Some(Rate { requests: 600, per: Duration::from_secs(60) }));
        assert_eq!(Rate::parse("100/100s"), Some(Rate { requests: 100, per: Duration::from_secs(100) }));
        assert_eq!(Rate::parse("10000/10m"), Some(Rate { requests: 10_000, per: Duration::from_secs(600) }));
        assert_eq!(Rate::parse("5/s"), Some(Rate { requests: 5, per: Duration::from_secs(1) }));
        for bad in ["", "600", "0/60s", "x/60s", "600/60d", "600/0s"] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        assert!(backoff(0) >= Duration::from_millis(250) && backoff(0) < Duration::from_millis(500));
        assert!(backoff(2) >= Duration::from_secs(1) && backoff(2) < Duration::from_millis(1250));
        assert!(backoff(30) < Duration::from_millis(8250));
    }
}
