//! Two-way push: writing bookings' copies into their members' primary calendars. The change
//! that marks a copy pending wakes the pushers (`push_queue`'s signal), which write it at once;
//! the request waits briefly for that. What fails for a passing reason is retried with growing
//! waits. No database transaction is held across the provider call: the claim (a lease on the
//! copy) and the result are two short ones.
use crate::domain::merge::Fields;
use chrono::Duration;

use super::Engine;
use crate::domain::bookings::{self, Booking};
use crate::domain::push_queue::{self, Finish, Job};
use crate::domain::{
    integrations::{self, Integration, IntegrationType, SyncDirection},
    Actor,
};
use crate::domain::{now, Result};
use crate::providers::write::{Before, Draft, Put};
use crate::providers::{ErrorKind, ProviderError};

/// How long a claimed copy is left alone by other pushers.
const LEASE_MINUTES: i64 = 5;
/// How long a request that changed a booking waits for its push before answering `pending`.
const REQUEST_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How many copies one scheduler pass writes.
const BATCH: i64 = 100;

/// The wait before the next try after `attempts` failures in a row: 1, 5, 15, then 60 minutes.
fn backoff(attempts: i32, asked: Option<std::time::Duration>) -> Duration {
    let steps = [1, 5, 15, 60];
    let mine = Duration::minutes(steps[(attempts.max(0) as usize).min(steps.len() - 1)]);
    match asked.and_then(|a| Duration::from_std(a).ok()) {
        Some(a) if a > mine => a,
        _ => mine,
    }
}

/// A booking as the provider-neutral draft of its copy.
pub fn draft(b: &Booking) -> Draft {
    Draft {
        title: b.title.clone(),
        description: b.description.clone(),
        location: b.location.clone(),
        attendees: b.attendees.clone(),
        start: b.start.and_utc(),
        end: b.end.and_utc(),
        time_zone: b.tz(),
        recurrence: b.recurrence.clone(),
        notify: b.notify_attendees,
        marker: b.id.to_string(),
        occurrences: if b.recurrence.is_some() { b.exceptions.clone() } else { Default::default() },
    }
}

/// The fields a copy was written with: the base a later three-way merge compares against.
fn base_of(d: &Draft) -> Fields {
    Fields {
        title: d.title.clone(),
        start: d.start,
        end: d.end,
        location: d.location.clone(),
        description: d.description.clone(),
        attendees: d.attendees.clone(),
        occurrences: d.occurrences.clone(),
        recurrence: crate::domain::merge::rule(d.recurrence.as_deref()),
    }
}

/// Why a calendar is no longer written to, or `None` when it still is.
fn not_target(i: &Integration) -> Option<String> {
    let name = &i.integration_name;
    if !i.is_active {
        Some(format!("Not updated: '{name}' is inactive; the copy stays in it."))
    } else if !i.is_primary {
        Some(format!("Not updated: '{name}' is no longer the primary calendar; the copy stays in it."))
    } else if i.sync_direction != SyncDirection::TwoWay || i.integration_type == IntegrationType::Ical {
        Some(format!("Not updated: '{name}' is One-way (Read Only); the copy stays in it."))
    } else {
        None
    }
}

impl Engine {
    /// Writes the copies of one booking that wait, here and now (the pusher does it for
    /// requests; tests and tools that run no pusher call this).
    pub async fn push_booking(&self, booking_id: i64) -> Result<()> {
        let ids = {
            let mut pooled = self.conn().await?;
            push_queue::waiting(&mut pooled.conn(), booking_id).await?
        };
        for id in ids {
            self.push_copy(id).await?;
        }
        Ok(())
    }

    /// Waits up to `REQUEST_WAIT` until no copy of the booking waits to be written, so a request
    /// answers with the copy written when the calendar is quick, and pending when it is not
    /// (the pusher goes on, and retries what fails). The change itself scheduled the write
    /// (`push_queue::plan` signals the pushers); this only waits for it.
    pub async fn settled(&self, booking_id: i64) {
        let deadline = tokio::time::Instant::now() + REQUEST_WAIT;
        loop {
            // Enabled before the look, so a push finishing in between is not missed.
            let pushed = self.inner.pushed.notified();
            let mut pushed = std::pin::pin!(pushed);
            pushed.as_mut().enable();
            let waiting = match self.conn().await {
                Ok(mut pooled) => push_queue::waiting(&mut pooled.conn(), booking_id).await,
                Err(e) => Err(e),
            };
            match waiting {
                Ok(ids) if ids.is_empty() => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(booking = booking_id, error = %e, "looking at a booking's copies");
                    return;
                }
            }
            // Another process's pusher tells this one nothing: look again now and then.
            let look = tokio::time::sleep(std::time::Duration::from_millis(100));
            tokio::select! {
                _ = pushed => {}
                _ = look => {}
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    }

    /// One scheduler pass: every copy due now (pending, or failed and due for a retry).
    /// Answers how many were tried.
    pub async fn push_due(&self) -> Result<usize> {
        let ids = {
            let mut pooled = self.conn().await?;
            push_queue::due(&mut pooled.conn(), now(), BATCH).await?
        };
        // Claimed first, then written a calendar at a time: new copies for one calendar go
        // out together where the provider groups requests (Graph's $batch).
        let mut jobs: Vec<Job> = Vec::new();
        for &id in &ids {
            let mut pooled = self.conn().await?;
            if let Some(job) = push_queue::claim(&mut pooled.conn(), id, Duration::minutes(LEASE_MINUTES)).await? {
                jobs.push(job);
            }
        }
        let mut calendars: Vec<Option<i64>> = jobs.iter().map(|j| j.integration_id).collect();
        calendars.dedup();
        for calendar in calendars {
            let group: Vec<Job> = jobs.iter().filter(|j| j.integration_id == calendar).cloned().collect();
            jobs.retain(|j| j.integration_id != calendar);
            if let Err(e) = self.push_group(group).await {
                tracing::warn!(error = %e, "writing bookings' copies failed");
            }
            self.inner.pushed.notify_waiters();
        }
        Ok(ids.len())
    }

    /// Writes claimed copies of one calendar: the first attempts at new copies together, the
    /// rest one by one; a copy whose booking changed meanwhile is written again.
    async fn push_group(&self, jobs: Vec<Job>) -> Result<()> {
        let (fresh, mut single): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.action == push_queue::PUT && j.external_id.is_none() && j.attempts == 0 && !j.look_first);
        let mut done: Vec<(Job, String, Finish)> = Vec::new();
        match self.target_of(fresh.first()).await? {
            Some(integration) if fresh.len() > 1 => {
                let mut drafts = Vec::with_capacity(fresh.len());
                {
                    let mut pooled = self.conn().await?;
                    for job in &fresh {
                        drafts.push(draft(&bookings::get(&mut pooled.conn(), Actor::SYSTEM, job.booking_id).await?));
                    }
                }
                let puts: Vec<Put> = fresh
                    .iter()
                    .zip(&drafts)
                    .map(|(job, d)| Put { key: &job.key, external_id: None, retry: false, if_match: None, draft: d, before: None, look_first: false })
                    .collect();
                let pacer = std::sync::Arc::new(self.pacer_for(&integration));
                let answers = match self.provider(&integration, None, pacer).await {
                    Ok((provider, _)) => provider.put_many(&puts).await,
                    Err(e) => puts.iter().map(|_| Err(e.clone())).collect(),
                };
                for ((job, draft), answer) in fresh.iter().zip(&drafts).zip(answers) {
                    let how = match answer {
                        Ok(w) => Finish::Written { external_id: w.external_id, etag: w.etag, base: base_of(draft) },
                        // A refused token is refreshed on the single path.
                        Err(e) if e.kind == ErrorKind::Unauthorized => {
                            single.push(job.clone());
                            continue;
                        }
                        Err(e) => self.failed(&integration, job, e, draft).await?,
                    };
                    done.push((job.clone(), integration.integration_name.clone(), how));
                }
            }
            _ => single.extend(fresh),
        }
        for job in single {
            let (calendar, how) = self.write(&job).await?;
            done.push((job, calendar, how));
        }
        for (job, calendar, how) in done {
            let again = {
                let mut pooled = self.conn().await?;
                push_queue::finish(&mut pooled.conn(), &job, &calendar, how).await?
            };
            if again {
                self.push_copy(job.copy_id).await?;
            }
        }
        Ok(())
    }

    /// The calendar a job writes to, while it is still the target.
    async fn target_of(&self, job: Option<&Job>) -> Result<Option<Integration>> {
        let Some(id) = job.and_then(|j| j.integration_id) else { return Ok(None) };
        let mut pooled = self.conn().await?;
        match integrations::get_by_id(&mut pooled.conn(), id).await {
            Ok(i) => Ok(Some(i).filter(|i| not_target(i).is_none())),
            Err(crate::domain::Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Claims a copy and writes it, again while the booking keeps changing meanwhile.
    pub(super) async fn push_copy(&self, copy_id: i64) -> Result<()> {
        for _ in 0..3 {
            let job = {
                let mut pooled = self.conn().await?;
                push_queue::claim(&mut pooled.conn(), copy_id, Duration::minutes(LEASE_MINUTES)).await?
            };
            let Some(job) = job else { return Ok(()) };
            let (calendar, how) = self.write(&job).await?;
            let mut pooled = self.conn().await?;
            if !push_queue::finish(&mut pooled.conn(), &job, &calendar, how).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The provider call of one job, and how it ended (with the calendar's name).
    async fn write(&self, job: &Job) -> Result<(String, Finish)> {
        let (booking, integration, member_disabled) = {
            let mut pooled = self.conn().await?;
            let mut c = pooled.conn();
            let booking = bookings::get(&mut c, Actor::SYSTEM, job.booking_id).await?;
            let member_disabled = crate::domain::users::get(&mut c, booking.user_id).await?.disabled;
            let integration = match job.integration_id {
                Some(id) => match integrations::get_by_id(&mut c, id).await {
                    Ok(i) => Some(i),
                    Err(crate::domain::Error::NotFound) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            (booking, integration, member_disabled)
        };
        let Some(integration) = integration else {
            return Ok((String::new(), Finish::Left { note: "Not updated: the calendar was removed from calsync; the copy stays in it.".into() }));
        };
        let calendar = integration.integration_name.clone();
        if let Some(note) = not_target(&integration) {
            return Ok((calendar, Finish::Left { note }));
        }
        if member_disabled {
            let note = format!("Not updated: {} is disabled; the copy stays in '{calendar}'.", booking.user);
            return Ok((calendar, Finish::Left { note }));
        }
        let draft = draft(&booking);
        let mut refused = None;
        // Twice at most: once more with a refreshed token after a 401.
        for _ in 0..2 {
            let answer = self.write_once(job, &integration, &booking, &draft, refused.as_ref()).await;
            let how = match answer {
                Ok(how) => how,
                Err((e, used)) if e.kind == ErrorKind::Unauthorized && refused.is_none() && integration.account_id.is_some() && used.is_some() => {
                    refused = used;
                    continue;
                }
                Err((e, _)) => self.failed(&integration, job, e, &draft).await?,
            };
            return Ok((calendar, how));
        }
        Ok((calendar, Finish::Failed { error: "The calendar refused calsync's access twice.".into(), retry_at: None, sent: None }))
    }

    async fn write_once(
        &self,
        job: &Job,
        integration: &Integration,
        booking: &Booking,
        draft: &Draft,
        refused: Option<&crate::crypto::Secret>,
    ) -> std::result::Result<Finish, (ProviderError, Option<crate::crypto::Secret>)> {
        let pacer = std::sync::Arc::new(self.pacer_for(integration));
        let (provider, used) = self.provider(integration, refused, pacer).await.map_err(|e| (e, None))?;
        if job.action == push_queue::REMOVE {
            return match &job.external_id {
                None => Ok(Finish::Removed),
                Some(id) => provider.remove(id, draft.notify).await.map(|_| Finish::Removed).map_err(|e| (e, used)),
            };
        }
        // Written before, or a create retried: what calsync wrote or sent is the base. An
        // occurrence of a series since moved or cut short is gone with it: nothing to write.
        let written: std::collections::BTreeMap<String, crate::domain::merge::Occurrence> = job
            .base
            .as_ref()
            .map(|b| b.occurrences.iter().filter(|(k, _)| booking.has_occurrence(k)).map(|(k, o)| (k.clone(), o.clone())).collect())
            .unwrap_or_default();
        let before = job.base.as_ref().filter(|_| job.external_id.is_some() || job.attempts > 0).map(|b| Before {
            title: &b.title,
            start: b.start,
            end: b.end,
            location: b.location.as_deref(),
            description: b.description.as_deref(),
            occurrences: &written,
        });
        let put = Put {
            key: &job.key,
            external_id: job.external_id.as_deref(),
            retry: job.attempts > 0,
            if_match: job.etag.as_deref(),
            draft,
            before,
            look_first: job.look_first,
        };
        match provider.put(&put).await {
            Ok(w) => Ok(Finish::Written { external_id: w.external_id, etag: w.etag, base: base_of(draft) }),
            Err(e) => Err((e, used)),
        }
    }

    /// Queues a sync of a calendar for the scheduler (never runs it here: a sync follows the
    /// calendar, which may push, which must not wait for another sync).
    async fn queue_sync(&self, integration_id: i64) -> Result<()> {
        let at = now();
        let mut pooled = self.conn().await?;
        pooled.conn().write_tx(move |mut c| Box::pin(async move { super::runs::enqueue(&mut c, integration_id, at, None).await })).await?;
        self.inner.look_at_queue.store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// A refused write: retried later when the failure may pass; a calendar that may not be
    /// written is switched to One-way, with a message saying why.
    async fn failed(&self, integration: &Integration, job: &Job, e: ProviderError, draft: &Draft) -> Result<Finish> {
        let creating = job.action == push_queue::PUT && job.external_id.is_none();
        // The copy changed or went in the calendar since calsync wrote it: nothing is
        // overwritten; a sync brings the calendar's version in and the policy merges.
        let changed_there = e.kind == ErrorKind::PreconditionFailed
            || (job.external_id.is_some() && job.action == push_queue::PUT && matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone));
        if changed_there {
            if let Err(err) = self.queue_sync(integration.id).await {
                tracing::warn!(integration_id = integration.id, error = %err, "could not start the sync that merges a changed copy");
            }
            // A create whose event was changed there before calsync heard back: that event is
            // the copy from now on.
            let external_id = e.event.clone().filter(|_| creating);
            return Ok(Finish::Stale { error: format!("{} The next sync of '{}' merges both changes.", e.message, integration.integration_name), external_id });
        }
        if e.kind == ErrorKind::Forbidden {
            let message = format!(
                "calsync could not write to '{}': {} It was switched to One-way (Read Only); bookings are no longer written to it. Make another calendar primary, or fix the access and switch it back to Two-way.",
                integration.integration_name, e.message
            );
            let mut pooled = self.conn().await?;
            integrations::make_read_only(&mut pooled.conn(), integration.id, &message).await?;
            tracing::warn!(integration_id = integration.id, "a calendar refused a write and was switched to one-way");
            return Ok(Finish::Failed { error: message, retry_at: None, sent: None });
        }
        let retry_at = e.kind.is_transient().then(|| now() + backoff(job.attempts, e.retry_after));
        // The calendar may hold what a create sent though its answer was lost.
        let sent = creating.then(|| Fields { occurrences: Default::default(), ..base_of(draft) });
        Ok(Finish::Failed { error: e.message, retry_at, sent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert_eq!(backoff(0, None), Duration::minutes(1));
        assert_eq!(backoff(2, None), Duration::minutes(15));
        assert_eq!(backoff(9, None), Duration::minutes(60));
        assert_eq!(backoff(0, Some(std::time::Duration::from_secs(600))), Duration::minutes(10));
    }
}
