//! The sync engine, provider-neutral (DESIGN.md "Sync"): pick due integrations → mark In
//! Progress → check the token → fetch the window (incrementally when the provider can) →
//! bring the stored copies in line → record the run and the integration's status.
//!
//! No database transaction is held across a provider call: the claim and the result are two
//! short transactions, and the lease keeps a second process away in between.
pub mod adapters;
pub mod runs;

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;

use crate::crypto::Keyring;
use crate::db::schema::sync_cursors as sc;
use crate::db::{Conn, Pool};
use crate::domain::copies::{self, MassDelete, Origin};
use crate::domain::integrations::{self, Actor, Integration};
use crate::domain::{now, Error, Result};
use crate::providers::fetch::{FeedClient, FeedLimits};
use crate::providers::{Cursor, ErrorKind, Fetch, Outcome, ProviderError, Secrets, Window};
use crate::run;
use adapters::Adapters;
pub use runs::{Counts, Ending, Run, Trigger};

#[derive(Debug, Clone)]
pub struct Settings {
    /// How often the scheduler looks for due calendars.
    pub tick: std::time::Duration,
    /// How many calendars one process syncs at once.
    pub concurrency: usize,
    /// How long a claim lasts; a crashed process's claims are taken over after it.
    pub lease: Duration,
    /// The most instances one calendar may expand to.
    pub max_instances: usize,
    pub feeds: FeedLimits,
    /// The deletion guard's thresholds.
    pub mass_delete: MassDelete,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tick: std::time::Duration::from_secs(60),
            concurrency: 4,
            lease: Duration::minutes(10),
            max_instances: 100_000,
            feeds: FeedLimits::default(),
            mass_delete: MassDelete::default(),
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    adapters: Adapters,
    settings: Settings,
    worker: String,
}

pub const MSG_INACTIVE: &str = "This calendar is inactive. Activate it to sync it.";
pub const MSG_NOTHING_HELD: &str = "No sync of this calendar is waiting to be applied.";

/// Why a run was held by the deletion guard, and how to let it through.
pub fn held_message(remove: usize, of: usize, name: &str) -> String {
    format!(
        "This sync would remove {remove} of {of} events. If that is intended, press Apply on the Sync page (or run `calsync sync --once --integration {name} --allow-mass-delete`)."
    )
}

/// The sync window of an integration at `at`: whole UTC days, so it moves once a day.
pub fn window_for(integration: &Integration, at: NaiveDateTime) -> Window {
    window(at, integration.sync_past_days as i64, integration.sync_future_days as i64)
}

/// The window of a calendar with the spec's default settings.
pub fn default_window(at: NaiveDateTime) -> Window {
    use crate::domain::integrations::types::limits;
    window(at, limits::PAST_DAYS_DEFAULT, limits::FUTURE_DAYS_DEFAULT)
}

fn window(at: NaiveDateTime, past_days: i64, future_days: i64) -> Window {
    let day = |d: chrono::NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    Window { from: day(at.date() - Duration::days(past_days)), to: day(at.date() + Duration::days(future_days + 1)) }
}

impl Engine {
    /// `keys` open the secrets of the calendars that sign in.
    pub fn new(pool: Pool, keys: Keyring, settings: Settings) -> Engine {
        let feeds = Arc::new(FeedClient::new(settings.feeds.clone()));
        Self::with_feed_client(pool, keys, feeds, settings)
    }

    /// With a feed client of the caller's (tests inject a resolver).
    pub fn with_feed_client(pool: Pool, keys: Keyring, feeds: Arc<FeedClient>, settings: Settings) -> Engine {
        let worker = format!("{}-{}-{:04x}", hostname(), std::process::id(), rand::random::<u16>());
        let adapters = Adapters { feeds, keys, max_instances: settings.max_instances };
        Engine { inner: Arc::new(Inner { pool, adapters, settings, worker }) }
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
        let integration = integrations::get(&mut conn, actor, name).await?;
        if !integration.is_active {
            return Err(Error::invalid("is_active", MSG_INACTIVE));
        }
        let worker = self.inner.worker.clone();
        let lease = self.inner.settings.lease;
        let id = integration.id;
        let run = conn
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let at = now();
                    runs::claim_one(&mut c, id, &worker, at, at + lease).await?;
                    runs::open(&mut c, id, trigger, &worker, at, applied_by.as_deref()).await
                })
            })
            .await?;
        Ok((integration, run))
    }

    /// "Sync now": starts the run and returns at once (with the calendar it is for); the run
    /// goes on in the background.
    pub async fn sync_now(&self, actor: Actor, name: &str) -> Result<(Integration, Run)> {
        let (integration, run) = self.start(actor, name, Trigger::Manual, None).await?;
        Ok(self.in_background(integration, run))
    }

    /// "Apply" on a sync the deletion guard held: the same sync once more with the guard
    /// lifted, recorded as applied by `who`. `Conflict` when nothing is held.
    pub async fn apply_held(&self, actor: Actor, name: &str, who: &str) -> Result<(Integration, Run)> {
        let held = {
            let mut pooled = self.conn().await?;
            let mut conn = pooled.conn();
            let integration = integrations::get(&mut conn, actor, name).await?;
            runs::held(&mut conn, integration.id).await?
        };
        if !held {
            return Err(Error::Conflict(MSG_NOTHING_HELD.into()));
        }
        let (integration, run) = self.start(actor, name, Trigger::Manual, Some(who.to_owned())).await?;
        Ok(self.in_background(integration, run))
    }

    fn in_background(&self, integration: Integration, run: Run) -> (Integration, Run) {
        let engine = self.clone();
        let (started, opened) = (integration.clone(), run.clone());
        tokio::spawn(async move { engine.perform(started, opened).await });
        (integration, run)
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

    /// Claims the due calendars (at most `concurrency`) and syncs them, at most `concurrency`
    /// at a time. Returns the finished runs.
    pub async fn run_due(&self) -> Result<Vec<Run>> {
        let settings = &self.inner.settings;
        let worker = self.inner.worker.clone();
        let lease = settings.lease;
        let limit = settings.concurrency.max(1) as i64;
        let mut pooled = self.conn().await?;
        let claimed = pooled
            .conn()
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let at = now();
                    let ids = runs::claim_due(&mut c, &worker, at, at + lease, limit).await?;
                    let mut opened = Vec::new();
                    for id in ids {
                        let integration = integrations::get_by_id(&mut c, id).await?;
                        let run = runs::open(&mut c, id, Trigger::Scheduler, &worker, at, None).await?;
                        opened.push((integration, run));
                    }
                    Ok::<_, Error>(opened)
                })
            })
            .await?;
        drop(pooled);
        let finished = futures_util::stream::iter(claimed)
            .map(|(integration, run)| self.perform(integration, run))
            .buffer_unordered(settings.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        Ok(finished)
    }

    /// Runs the due syncs every tick until `shutdown` turns true.
    pub async fn scheduler(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.inner.settings.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    match self.run_due().await {
                        Ok(runs) => for run in runs.iter().filter(|r| r.status == runs::RUN_FAILED) {
                            tracing::warn!(integration_id = run.integration_id, run = run.id, error = run.error.as_deref().unwrap_or(""), "sync failed");
                        },
                        Err(e) => tracing::warn!(error = %e, "the scheduler could not claim due calendars"),
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }

    /// Fetches, stores and closes a claimed run. Never fails: every failure ends up in the run.
    pub async fn perform(&self, integration: Integration, run: Run) -> Run {
        let at = now();
        let window = window_for(&integration, at);
        let (cursor, secrets) = match self.prepare(&integration).await {
            Ok(loaded) => loaded,
            Err(e) => return self.fail(&integration, &run, &ProviderError::new(ErrorKind::Server, format!("Reading the sync state failed: {e}"))).await,
        };
        let fetched = match self.inner.adapters.build(&integration, secrets) {
            Ok(provider) => match provider.fetch(window, &cursor).await {
                // The cursor expired: once more without one, which answers a snapshot.
                Ok(Fetch { outcome: Outcome::StartOver, .. }) => match provider.fetch(window, &Cursor::default()).await {
                    Ok(Fetch { outcome: Outcome::StartOver, .. }) => Err(ProviderError::new(
                        ErrorKind::Malformed,
                        "The calendar asked to start over twice in a row. The next sync will try again.",
                    )),
                    other => other,
                },
                other => other,
            },
            Err(e) => Err(e),
        };
        match fetched {
            Ok(fetch) => match self.save(&integration, &run, &cursor, fetch).await {
                Ok(closed) => closed,
                Err(e) => {
                    tracing::error!(integration = %integration.name, error = %e, "saving a sync failed");
                    let message = "Saving the synced events failed. It has been logged; the next sync will try again.";
                    self.fail(&integration, &run, &ProviderError::new(ErrorKind::Server, message)).await
                }
            },
            Err(e) => self.fail(&integration, &run, &e).await,
        }
    }

    /// The adapter's cursor and, for the providers that sign in, the record's secrets.
    async fn prepare(&self, integration: &Integration) -> Result<(Cursor, Secrets)> {
        let mut pooled = self.conn().await?;
        let mut conn = pooled.conn();
        let cursor = load_cursor(&mut conn, integration.id).await?;
        let secrets = match Adapters::needs_secrets(integration) {
            true => self.inner.adapters.secrets(&mut conn, integration).await?,
            false => Secrets::default(),
        };
        Ok((cursor, secrets))
    }

    async fn save(&self, integration: &Integration, run: &Run, previous: &Cursor, fetch: Fetch) -> Result<Run> {
        let mut pooled = self.conn().await?;
        let worker = self.inner.worker.clone();
        let id = integration.id;
        let interval = integration.sync_interval_minutes as i64;
        let run = run.clone();
        let previous = previous.clone();
        let name = integration.name.clone();
        let guard = match run.applied_by {
            Some(_) => None,
            None => Some(self.inner.settings.mass_delete),
        };
        pooled
            .conn()
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let c = &mut c;
                    if !runs::holds_lease(c, id, &worker).await? {
                        return Ok(run);
                    }
                    let origin = Origin { run_id: Some(run.id), applied_by: run.applied_by.clone(), at: now() };
                    let (counts, count) = match &fetch.outcome {
                        Outcome::Snapshot(snapshot) => match copies::apply_snapshot(c, id, &origin, snapshot, guard).await? {
                            // What is stored now: what was there, plus created, minus deleted.
                            Ok(k) => (k, k.created + k.updated + k.unchanged),
                            // Nothing written, the cursor kept: the next run fetches it all again.
                            Err(held) => {
                                let message = held_message(held.remove, held.of, &name);
                                let ending = Ending { error: Some(&message), held: true, ..Ending::default() };
                                return runs::close(c, &run, now(), interval, ending).await;
                            }
                        },
                        Outcome::Changes(changes) => (copies::apply_changes(c, id, &origin, changes).await?, copies::instance_count(c, id).await? as i32),
                        Outcome::Unchanged | Outcome::StartOver => {
                            let n = copies::instance_count(c, id).await? as i32;
                            (Counts { unchanged: n, ..Counts::default() }, n)
                        }
                    };
                    if fetch.cursor != previous {
                        save_cursor(c, id, &fetch.cursor).await?;
                    }
                    let ending = Ending { counts, warnings: &fetch.warnings, event_count: Some(count), ..Ending::default() };
                    runs::close(c, &run, now(), interval, ending).await
                })
            })
            .await
    }

    async fn fail(&self, integration: &Integration, run: &Run, error: &ProviderError) -> Run {
        let closed = async {
            let mut pooled = self.conn().await?;
            let worker = self.inner.worker.clone();
            let id = integration.id;
            let interval = integration.sync_interval_minutes as i64;
            let run = run.clone();
            let message = error.message.clone();
            let retry_after = error.retry_after.and_then(|d| Duration::from_std(d).ok());
            pooled
                .conn()
                .write_tx(move |mut c| {
                    Box::pin(async move {
                        if !runs::holds_lease(&mut c, id, &worker).await? {
                            return Ok(run);
                        }
                        runs::close(&mut c, &run, now(), interval, Ending { error: Some(&message), retry_after, ..Ending::default() }).await
                    })
                })
                .await
        };
        match closed.await {
            Ok(run) => run,
            Err(e) => {
                tracing::error!(integration = %integration.name, error = %e, "recording a failed sync failed");
                Run { status: runs::RUN_FAILED.into(), error: Some(error.message.clone()), ..run.clone() }
            }
        }
    }
}

async fn load_cursor(conn: &mut Conn<'_>, id: i64) -> Result<Cursor> {
    let state: Option<String> = run!(conn, |c| sc::table.find(id).select(sc::state).first(c).await.optional())?;
    Ok(Cursor(state))
}

async fn save_cursor(conn: &mut Conn<'_>, id: i64, cursor: &Cursor) -> Result<()> {
    match cursor.0.as_deref() {
        Some(state) => run!(conn, |c| diesel::insert_into(sc::table)
            .values((sc::integration_id.eq(id), sc::state.eq(state)))
            .on_conflict(sc::integration_id)
            .do_update()
            .set(sc::state.eq(state))
            .execute(c)
            .await)?,
        None => run!(conn, |c| diesel::delete(sc::table.find(id)).execute(c).await)?,
    };
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "calsync".into())
}
