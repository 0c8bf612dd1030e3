//! One sync run: the provider's fetch with the stored cursor, then the snapshot or changes saved
//! in one transaction with the run record, or the failure recorded with its back-off.
use super::*;

impl Engine {
    /// Fetches, stores and closes a claimed run. Never fails: every failure ends up in the run.
    pub async fn perform(&self, integration: Integration, run: Run) -> Run {
        let kind = integration.integration_type;
        let run = self.perform_run(integration, run).await;
        crate::metrics::run_finished(kind, &run);
        run
    }

    pub(super) async fn perform_run(&self, integration: Integration, run: Run) -> Run {
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
    pub(super) fn pacer_for(&self, integration: &Integration) -> crate::providers::pace::Pacer {
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
                let budget: Arc<dyn Budget> =
                    Arc::new(budget::DbBudget { pool: self.inner.pool.clone(), keys: vec![(format!("microsoft:{who}"), s.outlook_mailbox_rate)] });
                Pacer::new("Outlook", Some(budget))
            }
            other => Pacer::new(other.as_str(), None),
        }
    }

    pub(super) async fn load_cursor(&self, integration: &Integration) -> Result<Cursor> {
        let mut pooled = self.conn().await?;
        load_cursor(&mut pooled.conn(), integration.id).await
    }

    /// Builds the adapter with the record's secrets (`refused`: the access token the provider
    /// just refused, to be refreshed) and fetches; a cursor the provider no longer knows is
    /// followed by a fetch without one. A failure says which access token it used.
    pub(super) async fn fetch(
        &self,
        integration: &Integration,
        window: Window,
        cursor: &Cursor,
        refused: Option<&Secret>,
        pacer: &Arc<crate::providers::pace::Pacer>,
    ) -> std::result::Result<Fetch, (ProviderError, Option<Secret>)> {
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
    pub(super) async fn provider(
        &self,
        integration: &Integration,
        refused: Option<&Secret>,
        pacer: Arc<crate::providers::pace::Pacer>,
    ) -> std::result::Result<(Box<dyn crate::providers::Provider>, Option<Secret>), ProviderError> {
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

    pub(super) async fn save(&self, integration: &Integration, run: &Run, previous: &Cursor, fetch: Fetch, throttled: std::time::Duration) -> Result<Run> {
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
                            Outcome::Snapshot(snapshot) => stored_events::removed_by_snapshot(c, id, snapshot).await?,
                            Outcome::Changes(changes) => stored_events::removed_by_changes(c, id, changes).await?,
                            Outcome::Unchanged | Outcome::StartOver => stored_events::Removal::default(),
                        };
                        let cancels = match follows_deletions {
                            true => crate::domain::push_queue::would_cancel(c, id, &removal.uids, window.from.naive_utc(), window.to.naive_utc()).await?,
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
                            let k = stored_events::apply_snapshot(c, id, &origin, snapshot).await?;
                            // What is stored now: what was there, plus created, minus deleted.
                            (k, k.created + k.updated + k.unchanged)
                        }
                        Outcome::Changes(changes) => {
                            (stored_events::apply_changes(c, id, &origin, changes).await?, stored_events::instance_count(c, id).await? as i32)
                        }
                        Outcome::Unchanged | Outcome::StartOver => {
                            let n = stored_events::instance_count(c, id).await? as i32;
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

    pub(super) async fn fail(&self, integration: &Integration, run: &Run, error: &ProviderError) -> Run {
        self.fail_throttled(integration, run, error, std::time::Duration::ZERO).await
    }

    pub(super) async fn fail_throttled(&self, integration: &Integration, run: &Run, error: &ProviderError, throttled: std::time::Duration) -> Run {
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
                        runs::close(
                            &mut c,
                            &run,
                            now(),
                            interval,
                            Ending { error: Some(&message), retry_after, follow_up: Some(follow_up), throttled, transient, ..Ending::default() },
                        )
                        .await
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
pub(super) fn throttled_note(d: std::time::Duration) -> String {
    format!("Throttled for {:.1} s: the provider asked calsync to slow down, or calsync's request budget was used up.", d.as_secs_f64())
}
