//! The sync engine, provider-neutral (DESIGN.md "Sync"): pick due integrations → mark In
//! Progress → check the token → fetch the window (incrementally when the provider can) →
//! bring the stored copies in line → record the run and the integration's status.
//!
//! No database transaction is held across a provider call: the claim and the result are two
//! short transactions, and the lease keeps a second process away in between.
pub mod adapters;
pub mod budget;
mod follow;
pub mod push;
pub mod retention;
pub mod runs;

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;

use crate::crypto::{Keyring, Secret};
use crate::db::schema::sync_cursors as sc;
use crate::db::{Conn, Pool};
use crate::domain::stored_events::{self, MassDelete, Origin};
use crate::domain::{
    integrations::{self, Integration},
    Actor,
};
use crate::domain::{now, Error, Result};
use crate::providers::fetch::{FeedClient, FeedLimits};
use crate::providers::ical_feed::ReadLimits;
use crate::providers::{Cursor, ErrorKind, Fetch, Outcome, ProviderError, Secrets, Window};
use crate::run;
use adapters::Adapters;
mod channels;
mod cursor;
mod run;
mod scheduler;
mod settings;
use cursor::*;
pub use runs::{Claim, Counts, Ending, Run, Trigger};
pub use settings::*;

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    adapters: Adapters,
    settings: Settings,
    worker: String,
    /// One permit per sync this process may run at once: scheduled and "Sync now" alike.
    slots: Arc<tokio::sync::Semaphore>,
    /// Wakes an idle scheduler ("Sync now" queued a calendar, a calendar fell due sooner).
    wake: Arc<tokio::sync::Notify>,
    /// Wakes the pusher: a booking's copy was marked pending (in this process, or any on
    /// PostgreSQL).
    copies_wake: Arc<tokio::sync::Notify>,
    /// Told whenever a push finished, for requests that wait for their booking's copies.
    pushed: Arc<tokio::sync::Notify>,
    /// This process queued a calendar since the last look at the queue. Otherwise a claim
    /// looks at the queue once a tick (another process may have queued one), not every time.
    look_at_queue: Arc<std::sync::atomic::AtomicBool>,
    last_queue_look: std::sync::Mutex<std::time::Instant>,
}

/// What "Sync now" did.
// One per request, answered and dropped.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Started {
    /// A slot was free: the run is under way.
    Running(Run),
    /// Every slot was busy: the calendar waits in the queue since then.
    Queued(NaiveDateTime),
}

pub const MSG_INACTIVE: &str = "This calendar is inactive. Activate it to sync it.";
pub const MSG_NOTHING_HELD: &str = "No sync of this calendar is waiting to be applied.";

/// Why a run was held by the deletion guard, and how to let it through.
pub fn held_message(remove: usize, of: usize, name: &str) -> String {
    format!("This sync would remove {remove} of {of} events. {}", apply_hint(name))
}

/// The same when the removal would cancel bookings: how many, and which (the first ten).
pub fn held_cancel_message(cancels: &[(String, NaiveDateTime)], name: &str) -> String {
    const NAMED: usize = 10;
    let mut which: Vec<String> = cancels.iter().take(NAMED).map(|(title, at)| format!("'{title}' ({})", at.format("%a %Y-%m-%d %H:%M UTC"))).collect();
    if cancels.len() > NAMED {
        which.push(format!("and {} more", cancels.len() - NAMED));
    }
    format!("This sync would cancel {} bookings whose events were deleted in the calendar: {}. {}", cancels.len(), which.join(", "), apply_hint(name))
}

fn apply_hint(name: &str) -> String {
    format!("If that is intended, press Apply on the Sync page (or run `calsync sync --once --integration {name} --allow-mass-delete`, or POST /api/v1/integrations/{name}/apply-held).")
}

impl Engine {
    /// `keys` open the secrets of the calendars that sign in.
    pub fn new(pool: Pool, keys: Keyring, settings: Settings) -> Engine {
        let feeds = Arc::new(FeedClient::new(settings.feeds.clone()));
        Self::with_feed_client(pool, keys, feeds, settings)
    }

    /// With a feed client of the caller's (tests inject a resolver).
    pub fn with_feed_client(pool: Pool, keys: Keyring, feeds: Arc<FeedClient>, settings: Settings) -> Engine {
        crate::metrics::install();
        let worker = format!("{}-{}-{:04x}", hostname(), std::process::id(), rand::random::<u16>());
        let read = ReadLimits {
            max_instances: settings.max_instances,
            max_steps: settings.max_steps,
            deadline: settings.read_deadline,
            cursor_body_max: settings.cursor_body_max,
        };
        let adapters = Adapters::new(feeds, keys, read, &settings);
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
        let (look_at_queue, last_queue_look) = (Arc::new(true.into()), std::time::Instant::now().into());
        let (wake, copies_wake, pushed) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
        crate::db::signal::DUE.register(&wake);
        crate::db::signal::COPIES.register(&copies_wake);
        Engine { inner: Arc::new(Inner { pool, adapters, settings, worker, slots, wake, copies_wake, pushed, look_at_queue, last_queue_look }) }
    }

    /// Deletes a calendar record (its events stop blocking time). When it was the last
    /// calendar of its provider account, the account is disconnected too: its grant revoked at
    /// the provider and its tokens deleted. Answers the record, and a message when revoking
    /// failed (the account is removed all the same).
    pub async fn delete_calendar(&self, actor: Actor, name: &str) -> Result<(Integration, Option<String>)> {
        let mut pooled = self.conn().await?;
        let record = integrations::get(&mut pooled.conn(), actor, name).await?;
        self.stop_channels(&record).await;
        let gone = integrations::delete(&mut pooled.conn(), actor, name).await?;
        let mut warning = None;
        if let Some(account) = gone.account_id {
            if crate::domain::accounts::calendars(&mut pooled.conn(), account).await?.is_empty() {
                drop(pooled);
                warning = self.disconnect_account(Actor::SYSTEM, account).await?.1;
            }
        }
        Ok((gone, warning))
    }

    /// "Disconnect account": deletes every calendar of the account, revokes its grant at the
    /// provider where it offers revocation and deletes its tokens. Answers the deleted records
    /// and a message when the provider did not confirm the revocation.
    pub async fn disconnect_account(&self, actor: Actor, account: i64) -> Result<(Vec<Integration>, Option<String>)> {
        use crate::domain::accounts;
        let mut pooled = self.conn().await?;
        let found = accounts::get(&mut pooled.conn(), actor, account).await?;
        let mut gone = Vec::new();
        for (name, _) in accounts::calendars(&mut pooled.conn(), found.id).await? {
            let record = integrations::get(&mut pooled.conn(), actor, &name).await?;
            self.stop_channels(&record).await;
            gone.push(integrations::delete(&mut pooled.conn(), actor, &name).await?);
        }
        let refresh = accounts::remove(&mut pooled.conn(), &self.inner.adapters.keys, actor, found.id).await?;
        drop(pooled);
        let warning = match (refresh, self.inner.adapters.oauth(found.provider)) {
            (Some(token), Some(oauth)) => match oauth.revoke(&self.inner.adapters.oauth_http, &token).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(account = found.id, error = %e, "revoking a disconnected account's grant");
                    Some(format!(
                        "{} The account was disconnected here; you can also remove calsync's access in your {} account settings.",
                        e.message,
                        found.provider.as_str()
                    ))
                }
            },
            _ => None,
        };
        Ok((gone, warning))
    }

    /// A good access token of a provider account (refreshed when it is about to expire), for
    /// the calendar picker.
    pub async fn account_token(&self, account: &crate::domain::accounts::Account) -> Result<std::result::Result<Secret, ProviderError>> {
        let mut pooled = self.conn().await?;
        self.inner.adapters.account_token(&mut pooled.conn(), account.provider, account.id, None).await
    }

    pub fn worker(&self) -> &str {
        &self.inner.worker
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    async fn conn(&self) -> Result<crate::db::PooledConn> {
        self.inner.pool.get().await.map_err(|e| Error::Internal(e.to_string()))
    }

    /// Claims a calendar the actor may see and opens its run; `Conflict` if one is running.
    /// `applied_by` lifts the deletion guard for this run and names who did.
    pub async fn start(&self, actor: Actor, name: &str, trigger: Trigger, applied_by: Option<String>) -> Result<(Integration, Run)> {
        let mut pooled = self.conn().await?;
        let mut conn = pooled.conn();
        let integration = active(integrations::get(&mut conn, actor, name).await?)?;
        let worker = self.inner.worker.clone();
        let lease = self.inner.settings.lease;
        let id = integration.id;
        let run = conn
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let at = now();
                    let lapsed = runs::claim_one(&mut c, id, &worker, at, at + lease).await?;
                    runs::open(&mut c, id, trigger, &worker, at, applied_by.as_deref(), lapsed).await
                })
            })
            .await?;
        Ok((integration, run))
    }

    /// "Sync now": starts the run at once when one of this process's sync slots is free (the
    /// run goes on in the background), and queues the calendar otherwise (a slot takes it as
    /// soon as one frees up, here or in another process). `Conflict` while it runs or waits.
    pub async fn sync_now(&self, actor: Actor, name: &str) -> Result<(Integration, Started)> {
        self.request(actor, name, None).await
    }

    /// "Apply" on a sync the deletion guard held: the same sync once more with the guard
    /// lifted, recorded as applied by `who`. `Conflict` when nothing is held.
    pub async fn apply_held(&self, actor: Actor, name: &str, who: &str) -> Result<(Integration, Started)> {
        let held = {
            let mut pooled = self.conn().await?;
            let mut conn = pooled.conn();
            let integration = integrations::get(&mut conn, actor, name).await?;
            runs::held(&mut conn, integration.id).await?
        };
        if !held {
            return Err(Error::Conflict(MSG_NOTHING_HELD.into()));
        }
        self.request(actor, name, Some(who.to_owned())).await
    }

    async fn request(&self, actor: Actor, name: &str, applied_by: Option<String>) -> Result<(Integration, Started)> {
        if let Ok(slot) = self.inner.slots.clone().try_acquire_owned() {
            let (integration, run) = self.start(actor, name, Trigger::Manual, applied_by).await?;
            let engine = self.clone();
            let (started, opened) = (integration.clone(), run.clone());
            tokio::spawn(async move {
                engine.perform(started, opened).await;
                drop(slot);
                engine.wake_for_follow_up();
            });
            return Ok((integration, Started::Running(run)));
        }
        let mut pooled = self.conn().await?;
        let mut conn = pooled.conn();
        let integration = active(integrations::get(&mut conn, actor, name).await?)?;
        let id = integration.id;
        let at = now();
        conn.write_tx(move |mut c| Box::pin(async move { runs::enqueue(&mut c, id, at, applied_by.as_deref()).await })).await?;
        self.inner.look_at_queue.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.wake.notify_one();
        // What the queue wrote, without reading the record again.
        let integration = Integration { queued_at: Some(at), sync_status: integrations::SyncStatus::Pending, ..integration };
        Ok((integration, Started::Queued(at)))
    }

    /// Syncs one calendar and waits for the result.
    pub async fn sync_and_wait(&self, actor: Actor, name: &str, trigger: Trigger) -> Result<Run> {
        self.sync_and_wait_applying(actor, name, trigger, None).await
    }

    /// The same, with the deletion guard lifted by `applied_by` when given.
    pub async fn sync_and_wait_applying(&self, actor: Actor, name: &str, trigger: Trigger, applied_by: Option<String>) -> Result<Run> {
        let (integration, run) = self.start(actor, name, trigger, applied_by).await?;
        Ok(self.perform(integration, run).await)
    }
}

/// Only active calendars sync.
fn active(integration: Integration) -> Result<Integration> {
    if integration.is_active {
        Ok(integration)
    } else {
        Err(Error::invalid("is_active", MSG_INACTIVE))
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "calsync".into())
}
