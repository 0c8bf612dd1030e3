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
use crate::domain::copies::{self, MassDelete, Origin};
use crate::domain::integrations::{self, Actor, Integration};
use crate::domain::{now, Error, Result};
use crate::providers::fetch::{FeedClient, FeedLimits};
use crate::providers::{Cursor, ErrorKind, Fetch, Outcome, ProviderError, Secrets, Window};
use crate::run;
use crate::providers::ical_feed::ReadLimits;
use adapters::Adapters;
pub use runs::{Claim, Counts, Ending, Run, Trigger};

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
    /// The most recurrence steps one feed may walk (before the window too).
    pub max_steps: usize,
    /// How long reading one feed (parsing and expanding) may take.
    pub read_deadline: std::time::Duration,
    /// The largest feed body kept for re-expanding after a 304 when the window moved.
    pub cursor_body_max: usize,
    /// On shutdown, how long running syncs may finish before they are interrupted.
    pub shutdown_grace: std::time::Duration,
    pub feeds: FeedLimits,
    /// The deletion guard's thresholds.
    pub mass_delete: MassDelete,
    /// Where Google is (`CALSYNC_GOOGLE_*_URL`).
    pub google: crate::providers::google::Endpoints,
    /// Where Microsoft is (`CALSYNC_MICROSOFT_*`).
    pub outlook: crate::providers::outlook::Endpoints,
    /// calsync's request budget per Microsoft mailbox (Outlook's documented limit).
    pub outlook_mailbox_rate: crate::providers::pace::Rate,
    /// The public address providers push notifications to (`…/webhooks/google`); `None`:
    /// no push channels, polling and the daily full sync only (`CALSYNC_WEBHOOKS`).
    pub webhook_base: Option<String>,
    /// How long one request to a provider's API may take.
    pub provider_timeout: std::time::Duration,
    /// A full sync of each provider calendar at least this often (the repair run).
    pub repair_every: std::time::Duration,
    /// calsync's request budgets at Google: the whole project's, and each account's.
    pub google_project_rate: crate::providers::pace::Rate,
    pub google_user_rate: crate::providers::pace::Rate,
    /// How long sync runs are kept (`CALSYNC_RETENTION_RUNS_DAYS`).
    pub runs_kept: Duration,
    /// How long change history is kept (`CALSYNC_RETENTION_HISTORY_DAYS`).
    pub history_kept: Duration,
    /// How often the scheduler prunes what is older.
    pub prune_every: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tick: std::time::Duration::from_secs(60),
            concurrency: 4,
            lease: Duration::minutes(10),
            max_instances: 100_000,
            max_steps: crate::ical::expand::DEFAULT_STEPS,
            read_deadline: std::time::Duration::from_secs(20),
            shutdown_grace: std::time::Duration::from_secs(20),
            cursor_body_max: 1024 * 1024,
            feeds: FeedLimits::default(),
            mass_delete: MassDelete::default(),
            google: crate::providers::google::Endpoints::default(),
            outlook: crate::providers::outlook::Endpoints::default(),
            outlook_mailbox_rate: crate::providers::pace::Rate { requests: 10_000, per: std::time::Duration::from_secs(600) },
            webhook_base: None,
            provider_timeout: std::time::Duration::from_secs(30),
            repair_every: std::time::Duration::from_secs(24 * 3600),
            google_project_rate: crate::providers::pace::Rate { requests: 10_000, per: std::time::Duration::from_secs(60) },
            google_user_rate: crate::providers::pace::Rate { requests: 600, per: std::time::Duration::from_secs(60) },
            runs_kept: Duration::days(90),
            history_kept: Duration::days(365),
            prune_every: std::time::Duration::from_secs(600),
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
    /// One permit per sync this process may run at once: scheduled and "Sync now" alike.
    slots: Arc<tokio::sync::Semaphore>,
    /// Wakes an idle scheduler ("Sync now" queued a calendar, a calendar fell due sooner).
    wake: Arc<tokio::sync::Notify>,
    /// This process queued a calendar since the last look at the queue. Otherwise a claim
    /// looks at the queue once a tick (another process may have queued one), not every time.
    look_at_queue: Arc<std::sync::atomic::AtomicBool>,
    last_queue_look: std::sync::Mutex<std::time::Instant>,
}

/// What "Sync now" did.
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
        let wake = Arc::new(tokio::sync::Notify::new());
        crate::db::signal::register(&wake);
        Engine { inner: Arc::new(Inner { pool, adapters, settings, worker, slots, wake, look_at_queue, last_queue_look }) }
    }

    /// After a successful sync of a Google calendar: makes sure a push channel is open and
    /// not within a day of its end (a new one first, then the old one stopped). Failures are
    /// logged: polling carries on regardless.
    async fn keep_channel(&self, integration: &Integration) {
        use crate::domain::webhooks;
        let Some(base) = &self.inner.settings.webhook_base else { return };
        if !integration.integration_type.is_oauth() {
            return;
        }
        let result: std::result::Result<(), String> = async {
            let mut pooled = self.conn().await.map_err(|e| e.to_string())?;
            let channels = webhooks::of(&mut pooled.conn(), integration.id).await.map_err(|e| e.to_string())?;
            if channels.iter().next().is_some_and(|c| c.expires_at > now() + Duration::days(1)) {
                return Ok(());
            }
            let secrets = self.inner.adapters.secrets(&mut pooled.conn(), integration, None).await.map_err(|e| e.to_string())?.map_err(|e| e.message)?;
            let access = secrets.access_token.ok_or("no access token")?;
            let calendar = integration.calendar_id.clone().unwrap_or_default();
            let token = crate::crypto::random_id();
            drop(pooled);
            let channel = self.open_channel(integration, &access, &calendar, base, &token).await.map_err(|e| e.message)?;
            let mut pooled = self.conn().await.map_err(|e| e.to_string())?;
            webhooks::add(&mut pooled.conn(), integration.id, &channel.id, channel.resource_id.as_deref(), &token, channel.expires_at).await.map_err(|e| e.to_string())?;
            for old in channels {
                let _ = self.close_channel(integration, &access, &old).await;
                webhooks::remove(&mut pooled.conn(), &old.channel_id).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(integration = %integration.name, error = %e, "opening a push channel failed; the calendar is polled at its interval");
        }
    }

    /// Opens a push channel at the calendar's provider (Google: events.watch; Graph: a
    /// subscription, after its validation handshake with this server).
    async fn open_channel(&self, integration: &Integration, access: &Secret, calendar: &str, base: &str, token: &str) -> std::result::Result<crate::providers::google::Channel, ProviderError> {
        let (api, s) = (&self.inner.adapters.api, &self.inner.settings);
        match integration.integration_type {
            integrations::IntegrationType::Outlook => {
                let address = format!("{}/webhooks/microsoft", base.trim_end_matches('/'));
                crate::providers::outlook::subscribe(api, &s.outlook.graph, access, calendar, &address, token).await
            }
            _ => {
                let address = format!("{}/webhooks/google", base.trim_end_matches('/'));
                let id = format!("calsync-{}", crate::crypto::random_id());
                crate::providers::google::watch(api, &s.google.api, access, calendar, &id, &address, token).await
            }
        }
    }

    async fn close_channel(&self, integration: &Integration, access: &Secret, c: &crate::domain::webhooks::Channel) -> std::result::Result<(), ProviderError> {
        let (api, s) = (&self.inner.adapters.api, &self.inner.settings);
        match integration.integration_type {
            integrations::IntegrationType::Outlook => crate::providers::outlook::unsubscribe(api, &s.outlook.graph, access, &c.channel_id).await,
            _ => crate::providers::google::stop(api, &s.google.api, access, &c.channel_id, c.resource_id.as_deref()).await,
        }
    }

    /// Stops a calendar's push channels at the provider (before it is deleted).
    async fn stop_channels(&self, integration: &Integration) {
        use crate::domain::webhooks;
        let Ok(mut pooled) = self.conn().await else { return };
        let channels = webhooks::of(&mut pooled.conn(), integration.id).await.unwrap_or_default();
        if channels.is_empty() {
            return;
        }
        if let Ok(Ok(Secrets { access_token: Some(access), .. })) = self.inner.adapters.secrets(&mut pooled.conn(), integration, None).await {
            for c in &channels {
                if let Err(e) = self.close_channel(integration, &access, c).await {
                    tracing::warn!(channel = %c.channel_id, error = %e, "stopping a push channel");
                }
            }
        }
    }

    /// A push notification: `Heard::Queued` wakes the scheduler, which syncs the calendar next.
    /// `lifecycle`: a Graph lifecycle event (reauthorizationRequired, subscriptionRemoved, missed).
    pub async fn notified(&self, channel_id: &str, token: &str, change: bool) -> Result<crate::domain::webhooks::Heard> {
        self.notified_lifecycle(channel_id, token, change, None).await
    }

    pub async fn notified_lifecycle(&self, channel_id: &str, token: &str, change: bool, lifecycle: Option<&str>) -> Result<crate::domain::webhooks::Heard> {
        let mut pooled = self.conn().await?;
        let heard = match lifecycle {
            Some(event) => crate::domain::webhooks::lifecycle(&mut pooled.conn(), channel_id, token, event).await?,
            None => crate::domain::webhooks::heard(&mut pooled.conn(), channel_id, token, change).await?,
        };
        if matches!(heard, crate::domain::webhooks::Heard::Queued(_)) {
            self.inner.look_at_queue.store(true, std::sync::atomic::Ordering::SeqCst);
            self.inner.wake.notify_one();
        }
        Ok(heard)
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
                    Some(format!("{} The account was disconnected here; you can also remove calsync's access in your {} account settings.", e.message, found.provider.as_str()))
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

    /// A calendar was queued again while its sync ran: wake the scheduler for it.
    fn wake_for_follow_up(&self) {
        if std::sync::atomic::AtomicBool::load(&self.inner.look_at_queue, std::sync::atomic::Ordering::SeqCst) {
            self.inner.wake.notify_one();
        }
    }

    fn look_at_queue(&self) -> bool {
        let queued_here = self.inner.look_at_queue.swap(false, std::sync::atomic::Ordering::SeqCst);
        let mut last = self.inner.last_queue_look.lock().unwrap_or_else(|e| e.into_inner());
        if queued_here || last.elapsed() >= self.inner.settings.tick {
            *last = std::time::Instant::now();
            return true;
        }
        false
    }

    /// Claims up to `limit` calendars that `mode` takes and opens their runs.
    async fn claim(&self, mode: Claim, limit: usize) -> Result<Vec<(Integration, Run)>> {
        let worker = self.inner.worker.clone();
        let lease = self.inner.settings.lease;
        let queue = mode == Claim::Queued || self.look_at_queue();
        let mut pooled = self.conn().await?;
        pooled
            .conn()
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let at = now();
                    let claimed = runs::claim(&mut c, mode, queue, &worker, at, at + lease, limit as i64).await?;
                    let mut opened = Vec::with_capacity(claimed.len());
                    for one in claimed {
                        let id = one.integration_id;
                        let integration = integrations::get_by_id(&mut c, id).await?;
                        let trigger = if one.queued_at.is_some() { Trigger::Manual } else { Trigger::Scheduler };
                        let run = runs::open(&mut c, id, trigger, &worker, at, one.queued_by.as_deref(), one.lease_lapsed).await?;
                        opened.push((integration, run));
                    }
                    Ok::<_, Error>(opened)
                })
            })
            .await
    }

    /// Claims the due (and queued) calendars, at most `concurrency`, syncs them and returns the
    /// finished runs (`calsync sync --once`).
    pub async fn run_due(&self) -> Result<Vec<Run>> {
        let concurrency = self.inner.settings.concurrency.max(1);
        let claimed = self.claim(Claim::Due, concurrency).await?;
        let finished = futures_util::stream::iter(claimed)
            .map(|(integration, run)| self.perform(integration, run))
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await;
        Ok(finished)
    }

    /// The scheduler of `calsync serve`: syncs due and queued calendars with `concurrency`
    /// slots until `shutdown` turns true.
    pub async fn scheduler(self, shutdown: tokio::sync::watch::Receiver<bool>) {
        self.dispatch(Claim::Due, shutdown).await
    }

    /// A pool of sync slots: whenever one is free it takes the next calendar `mode` allows —
    /// it never waits for the slowest sync before starting the next. When nothing is due it
    /// sleeps until the tick, a "Sync now" or a finished sync wakes it. On shutdown it stops
    /// claiming and waits for the running syncs (at most one lease).
    pub async fn dispatch(self, mode: Claim, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        if mode == Claim::Due {
            tokio::spawn(self.clone().keep_pruned(shutdown.clone()));
            tokio::spawn(self.clone().keep_pushing(shutdown.clone()));
            // A calendar added, re-activated or made due sooner in any process wakes this one.
            let (pool, wake, mut stop) = (self.inner.pool.clone(), self.inner.wake.clone(), shutdown.clone());
            tokio::spawn(async move { crate::db::signal::listen(&pool, wake, async move { let _ = stop.changed().await; }).await });
        }
        let slots = self.inner.slots.clone();
        let mut ticker = tokio::time::interval(self.inner.settings.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot { Ok(s) => s, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            // Every free slot at once: one claim transaction for several calendars.
            let mut held = vec![first];
            while let Ok(more) = slots.clone().try_acquire_owned() {
                held.push(more);
            }
            match self.claim(mode, held.len()).await {
                Ok(claimed) if !claimed.is_empty() => {
                    for ((integration, run), slot) in claimed.into_iter().zip(held.drain(..)) {
                        let engine = self.clone();
                        tokio::spawn(async move {
                            let run = engine.perform(integration, run).await;
                            if run.status == runs::RUN_FAILED {
                                tracing::warn!(integration_id = run.integration_id, run = run.id, error = run.error.as_deref().unwrap_or(""), "sync failed");
                            }
                            drop(slot);
                            engine.wake_for_follow_up();
                        });
                    }
                    drop(held);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the scheduler could not claim calendars"),
            }
            drop(held);
            // Idle: until the next calendar falls due (so "next run" on the dashboard holds),
            // the tick (a queue another process filled), or a wake-up (a calendar due sooner).
            let until_due = match mode {
                Claim::Due => self.until_next_due().await,
                Claim::Queued => None,
            };
            let nap = async {
                match until_due {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = ticker.tick() => {}
                _ = nap => {}
                _ = shutdown.changed() => break,
            }
        }
        let all = self.inner.settings.concurrency.max(1) as u32;
        if tokio::time::timeout(self.inner.settings.shutdown_grace, slots.acquire_many(all)).await.is_err() {
            // Syncs still running after the grace period are given up: their runs are closed
            // as interrupted and their leases released, so another process takes them at once.
            match self.interrupt().await {
                Ok(n) => tracing::warn!(interrupted = n, "stopping: syncs still running after the grace period were interrupted"),
                Err(e) => tracing::error!(error = %e, "stopping: the running syncs could not be marked interrupted"),
            }
        }
    }

    /// Retention, while the scheduler runs: every `prune_every`, what is older than kept.
    async fn keep_pruned(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.inner.settings.prune_every);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            match self.prune().await {
                Ok((0, 0)) => {}
                Ok((runs, history)) => tracing::info!(runs, history, "retention: pruned old sync runs and history"),
                Err(e) => tracing::warn!(error = %e, "retention: pruning failed; it is tried again later"),
            }
        }
    }

    /// Two-way push, while the scheduler runs: every tick, the bookings' copies that wait
    /// (a push that failed for a passing reason, one a crashed process left).
    async fn keep_pushing(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.inner.settings.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.push_due().await {
                tracing::warn!(error = %e, "writing bookings' copies failed; tried again at the next tick");
            }
        }
    }

    /// Deletes the runs and history older than they are kept, a batch per statement with a
    /// pause between batches (other writers go first). Answers how many of each.
    pub async fn prune(&self) -> Result<(usize, usize)> {
        let s = &self.inner.settings;
        let (runs_cutoff, history_cutoff) = (now() - s.runs_kept, now() - s.history_kept);
        let (mut runs, mut history) = (0, 0);
        loop {
            let mut pooled = self.conn().await?;
            let (r, h) = (retention::prune_runs(&mut pooled.conn(), runs_cutoff).await?, retention::prune_history(&mut pooled.conn(), history_cutoff).await?);
            drop(pooled);
            runs += r;
            history += h;
            if (r as i64) < retention::BATCH && (h as i64) < retention::BATCH {
                return Ok((runs, history));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn interrupt(&self) -> Result<usize> {
        let worker = self.inner.worker.clone();
        let mut pooled = self.conn().await?;
        pooled.conn().write_tx(move |mut c| Box::pin(async move { runs::interrupt(&mut c, &worker, now()).await })).await
    }

    /// How long until the next calendar falls due, if one is scheduled.
    async fn until_next_due(&self) -> Option<std::time::Duration> {
        let mut pooled = self.conn().await.ok()?;
        let next = runs::next_due(&mut pooled.conn()).await.ok()??;
        // A little after, so the claim's `due_at <= now` holds. Due already but not claimed (a
        // race with another process): look again shortly, not in a tight loop.
        Some(match (next - now()).to_std() {
            Ok(wait) => wait + std::time::Duration::from_millis(5),
            Err(_) => std::time::Duration::from_millis(100),
        })
    }

    /// Fetches, stores and closes a claimed run. Never fails: every failure ends up in the run.
    pub async fn perform(&self, integration: Integration, run: Run) -> Run {
        let kind = integration.integration_type;
        let run = self.perform_run(integration, run).await;
        crate::metrics::run_finished(kind, &run);
        run
    }

    async fn perform_run(&self, integration: Integration, run: Run) -> Run {
        let at = now();
        let window = window_for(&integration, at);
        let cursor = match self.load_cursor(&integration).await {
            Ok(c) => c,
            Err(e) => return self.fail(&integration, &run, &ProviderError::new(ErrorKind::Server, format!("Reading the sync state failed: {e}"))).await,
        };
        let pacer = Arc::new(self.pacer_for(&integration));
        let mut fetched = self.fetch(&integration, window, &cursor, None, &pacer).await;
        // Refused access with a token of an account: refresh once and try again.
        if let (Err((e, Some(used))), Some(_)) = (&fetched, integration.account_id) {
            if e.kind == ErrorKind::Unauthorized {
                let used = used.clone();
                fetched = self.fetch(&integration, window, &cursor, Some(&used), &pacer).await;
            }
        }
        let fetched = fetched.map_err(|(e, _)| e);
        let throttled = pacer.throttled();
        match fetched {
            Ok(fetch) => match self.save(&integration, &run, &cursor, fetch, throttled).await {
                Ok(closed) => {
                    if closed.status == runs::RUN_SUCCESS {
                        self.keep_channel(&integration).await;
                        if let Err(e) = self.follow(&integration, window).await {
                            tracing::warn!(integration = %integration.name, error = %e, "following the calendar's changes to bookings failed");
                        }
                    }
                    closed
                }
                Err(e) => {
                    tracing::error!(integration = %integration.name, error = %e, "saving a sync failed");
                    let message = "Saving the synced events failed. It has been logged; the next sync will try again.";
                    self.fail_throttled(&integration, &run, &ProviderError::new(ErrorKind::Server, message), throttled).await
                }
            },
            Err(e) => self.fail_throttled(&integration, &run, &e, throttled).await,
        }
    }

    /// This run's pacing: Google's requests draw on the project's and the account's budgets.
    fn pacer_for(&self, integration: &Integration) -> crate::providers::pace::Pacer {
        use crate::providers::pace::{Budget, Pacer};
        let s = &self.inner.settings;
        match integration.integration_type {
            integrations::IntegrationType::Google => {
                let who = integration.account_id.map(|a| format!("account:{a}")).unwrap_or_else(|| format!("user:{}", integration.user_id));
                let budget: Arc<dyn Budget> = Arc::new(budget::DbBudget {
                    pool: self.inner.pool.clone(),
                    keys: vec![("google:project".into(), s.google_project_rate), (format!("google:{who}"), s.google_user_rate)],
                });
                Pacer::new("Google Calendar", Some(budget))
            }
            integrations::IntegrationType::Outlook => {
                let who = integration.account_id.map(|a| format!("account:{a}")).unwrap_or_else(|| format!("user:{}", integration.user_id));
                let budget: Arc<dyn Budget> = Arc::new(budget::DbBudget { pool: self.inner.pool.clone(), keys: vec![(format!("microsoft:{who}"), s.outlook_mailbox_rate)] });
                Pacer::new("Outlook", Some(budget))
            }
            other => Pacer::new(other.as_str(), None),
        }
    }

    async fn load_cursor(&self, integration: &Integration) -> Result<Cursor> {
        let mut pooled = self.conn().await?;
        load_cursor(&mut pooled.conn(), integration.id).await
    }

    /// Builds the adapter with the record's secrets (`refused`: the access token the provider
    /// just refused, to be refreshed) and fetches; a cursor the provider no longer knows is
    /// followed by a fetch without one. A failure says which access token it used.
    async fn fetch(&self, integration: &Integration, window: Window, cursor: &Cursor, refused: Option<&Secret>, pacer: &Arc<crate::providers::pace::Pacer>) -> std::result::Result<Fetch, (ProviderError, Option<Secret>)> {
        let (provider, used) = self.provider(integration, refused, pacer.clone()).await.map_err(|e| (e, None))?;
        let answer = match provider.fetch(window, cursor).await {
            // The cursor expired: once more without one, which answers a snapshot.
            Ok(Fetch { outcome: Outcome::StartOver, .. }) => match provider.fetch(window, &Cursor::default()).await {
                Ok(Fetch { outcome: Outcome::StartOver, .. }) => {
                    Err(ProviderError::new(ErrorKind::Malformed, "The calendar asked to start over twice in a row. The next sync will try again."))
                }
                other => other,
            },
            other => other,
        };
        answer.map_err(|e| (e, used))
    }

    /// The adapter of a calendar, built with its secrets (`refused`: the access token the
    /// provider just refused, to be refreshed), and the access token it uses.
    async fn provider(&self, integration: &Integration, refused: Option<&Secret>, pacer: Arc<crate::providers::pace::Pacer>) -> std::result::Result<(Box<dyn crate::providers::Provider>, Option<Secret>), ProviderError> {
        let loaded = async {
            let mut pooled = self.conn().await?;
            let mut conn = pooled.conn();
            let owner = crate::domain::integrations::owner_of(&mut conn, integration).await?;
            let secrets = match Adapters::needs_secrets(integration) {
                false => Ok(Secrets::default()),
                true => self.inner.adapters.secrets(&mut conn, integration, refused).await?,
            };
            Ok::<_, crate::domain::Error>((owner, secrets))
        };
        let (owner, secrets) = match loaded.await {
            Ok((owner, Ok(s))) => (owner, s),
            Ok((_, Err(e))) => return Err(e),
            Err(e) => return Err(ProviderError::new(ErrorKind::Server, format!("Reading the calendar's access failed: {e}"))),
        };
        let used = secrets.access_token.clone();
        Ok((self.inner.adapters.build(integration, secrets, owner, pacer)?, used))
    }

    async fn save(&self, integration: &Integration, run: &Run, previous: &Cursor, fetch: Fetch, throttled: std::time::Duration) -> Result<Run> {
        let mut pooled = self.conn().await?;
        let worker = self.inner.worker.clone();
        let id = integration.id;
        let interval = integration.sync_interval_minutes as i64;
        let run = run.clone();
        let previous = previous.clone();
        let name = integration.name.clone();
        let follow_up = self.inner.look_at_queue.clone();
        let guard = match run.applied_by {
            Some(_) => None,
            None => Some(self.inner.settings.mass_delete),
        };
        // Bookings whose copies were deleted there are cancelled under these policies.
        let follows_deletions = integration.integration_type != integrations::IntegrationType::Ical
            && matches!(integration.conflict_policy, integrations::ConflictPolicy::LastWriteWins | integrations::ConflictPolicy::PreferCalendar);
        let window = window_for(integration, now());
        pooled
            .conn()
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let c = &mut c;
                    if !runs::holds_lease(c, id, &worker).await? {
                        return Ok(run);
                    }
                    let origin = Origin { run_id: Some(run.id), applied_by: run.applied_by.clone(), at: now() };
                    // The guard first, for a full and an incremental sync alike: nothing is
                    // written when it holds, the cursor is kept, the next run fetches it again.
                    if let Some(guard) = guard {
                        let removal = match &fetch.outcome {
                            Outcome::Snapshot(snapshot) => copies::removed_by_snapshot(c, id, snapshot).await?,
                            Outcome::Changes(changes) => copies::removed_by_changes(c, id, changes).await?,
                            Outcome::Unchanged | Outcome::StartOver => copies::Removal::default(),
                        };
                        let cancels = match follows_deletions {
                            true => crate::domain::booking_copies::would_cancel(c, id, &removal.uids, window.from.naive_utc(), window.to.naive_utc()).await?,
                            false => Vec::new(),
                        };
                        let message = if guard.holds_cancels(cancels.len()) {
                            Some(held_cancel_message(&cancels, &name))
                        } else if guard.holds(removal.uids.len(), removal.of) {
                            Some(held_message(removal.uids.len(), removal.of, &name))
                        } else {
                            None
                        };
                        if let Some(message) = message {
                            let ending = Ending { error: Some(&message), held: true, follow_up: Some(follow_up), ..Ending::default() };
                            return runs::close(c, &run, now(), interval, ending).await;
                        }
                    }
                    let (counts, count) = match &fetch.outcome {
                        Outcome::Snapshot(snapshot) => {
                            let k = copies::apply_snapshot(c, id, &origin, snapshot).await?;
                            // What is stored now: what was there, plus created, minus deleted.
                            (k, k.created + k.updated + k.unchanged)
                        }
                        Outcome::Changes(changes) => (copies::apply_changes(c, id, &origin, changes).await?, copies::instance_count(c, id).await? as i32),
                        Outcome::Unchanged | Outcome::StartOver => {
                            let n = copies::instance_count(c, id).await? as i32;
                            (Counts { unchanged: n, ..Counts::default() }, n)
                        }
                    };
                    if fetch.cursor != previous {
                        save_cursor(c, id, &fetch.cursor).await?;
                    }
                    let mut warnings = fetch.warnings.clone();
                    if !throttled.is_zero() {
                        warnings.push(throttled_note(throttled));
                    }
                    if fetch.repair {
                        let fixed = counts.created + counts.updated + counts.deleted;
                        warnings.push(format!("Repair: the periodic full sync fixed {fixed} difference(s) the incremental syncs had missed."));
                    }
                    let ending = Ending { counts, warnings: &warnings, event_count: Some(count), follow_up: Some(follow_up), throttled, ..Ending::default() };
                    runs::close(c, &run, now(), interval, ending).await
                })
            })
            .await
    }

    async fn fail(&self, integration: &Integration, run: &Run, error: &ProviderError) -> Run {
        self.fail_throttled(integration, run, error, std::time::Duration::ZERO).await
    }

    async fn fail_throttled(&self, integration: &Integration, run: &Run, error: &ProviderError, throttled: std::time::Duration) -> Run {
        let closed = async {
            let mut pooled = self.conn().await?;
            let worker = self.inner.worker.clone();
            let id = integration.id;
            let interval = integration.sync_interval_minutes as i64;
            let run = run.clone();
            let message = match throttled.is_zero() {
                true => error.message.clone(),
                false => format!("{} {}", error.message, throttled_note(throttled)),
            };
            let retry_after = error.retry_after.and_then(|d| Duration::from_std(d).ok());
            let kind = error.kind;
            let follow_up = self.inner.look_at_queue.clone();
            pooled
                .conn()
                .write_tx(move |mut c| {
                    Box::pin(async move {
                        if !runs::holds_lease(&mut c, id, &worker).await? {
                            return Ok(run);
                        }
                        let transient = kind.is_transient();
                        runs::close(&mut c, &run, now(), interval, Ending { error: Some(&message), retry_after, follow_up: Some(follow_up), throttled, transient, ..Ending::default() }).await
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

/// What the run record says about waiting for rate limits.
fn throttled_note(d: std::time::Duration) -> String {
    format!("Throttled for {:.1} s: the provider asked calsync to slow down, or calsync's request budget was used up.", d.as_secs_f64())
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

/// Only active calendars sync.
fn active(integration: Integration) -> Result<Integration> {
    if integration.is_active { Ok(integration) } else { Err(Error::invalid("is_active", MSG_INACTIVE)) }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "calsync".into())
}
