//! The scheduler: claiming due calendars on the shared slots, waking for pushes and follow-ups,
//! and the background loops that prune runs and push bookings' copies.
use super::*;

impl Engine {
    /// A calendar was queued again while its sync ran: wake the scheduler for it.
    pub(super) fn wake_for_follow_up(&self) {
        if std::sync::atomic::AtomicBool::load(&self.inner.look_at_queue, std::sync::atomic::Ordering::SeqCst) {
            self.inner.wake.notify_one();
        }
    }

    pub(super) fn look_at_queue(&self) -> bool {
        let queued_here = self.inner.look_at_queue.swap(false, std::sync::atomic::Ordering::SeqCst);
        let mut last = self.inner.last_queue_look.lock().unwrap_or_else(|e| e.into_inner());
        if queued_here || last.elapsed() >= self.inner.settings.tick {
            *last = std::time::Instant::now();
            return true;
        }
        false
    }

    /// Claims up to `limit` calendars that `mode` takes and opens their runs.
    pub(super) async fn claim(&self, mode: Claim, limit: usize) -> Result<Vec<(Integration, Run)>> {
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
        // Copies are written wherever the slots run (the scheduler of another process need
        // not); retention and due calendars only by the scheduler.
        tokio::spawn(self.clone().keep_pushing(shutdown.clone()));
        if mode == Claim::Due {
            tokio::spawn(self.clone().keep_pruned(shutdown.clone()));
            // A calendar added, re-activated or made due sooner in any process wakes this one.
            self.hear(&crate::db::signal::DUE, self.inner.wake.clone(), shutdown.clone());
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
    pub(super) async fn keep_pruned(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
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

    /// Two-way push, while the slots run: the copies a booking's change marked pending (woken
    /// by the change's signal), and every tick the ones that wait (a push that failed for a
    /// passing reason, one a crashed process left).
    pub async fn keep_pushing(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        self.hear(&crate::db::signal::COPIES, self.inner.copies_wake.clone(), shutdown.clone());
        let mut ticker = tokio::time::interval(self.inner.settings.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.inner.copies_wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.push_due().await {
                tracing::warn!(error = %e, "writing bookings' copies failed; tried again at the next tick");
            }
        }
    }

    /// Until shutdown, `signal` sent by any process wakes `wake` (PostgreSQL; on SQLite the
    /// sender wakes it directly).
    fn hear(&self, signal: &'static crate::db::signal::Signal, wake: std::sync::Arc<tokio::sync::Notify>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let pool = self.inner.pool.clone();
        tokio::spawn(async move {
            crate::db::signal::listen(&pool, signal, wake, async move {
                let _ = stop.changed().await;
            })
            .await
        });
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

    pub(super) async fn interrupt(&self) -> Result<usize> {
        let worker = self.inner.worker.clone();
        let mut pooled = self.conn().await?;
        pooled.conn().write_tx(move |mut c| Box::pin(async move { runs::interrupt(&mut c, &worker, now()).await })).await
    }

    /// How long until the next calendar falls due, if one is scheduled.
    pub(super) async fn until_next_due(&self) -> Option<std::time::Duration> {
        let mut pooled = self.conn().await.ok()?;
        let next = runs::next_due(&mut pooled.conn()).await.ok()??;
        // A little after, so the claim's `due_at <= now` holds. Due already but not claimed (a
        // race with another process): look again shortly, not in a tight loop.
        Some(match (next - now()).to_std() {
            Ok(wait) => wait + std::time::Duration::from_millis(5),
            Err(_) => std::time::Duration::from_millis(100),
        })
    }
}
