//! Sync runs and leases: who may sync which calendar now, and the record of every attempt.
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

pub use crate::db::dialect::{Claim, Claimed};
use crate::db::schema::{calendar_integrations as ci, sync_runs as sr, sync_states as ss};
use crate::db::{dialect, Conn};
pub use crate::domain::stored_events::Counts;
use crate::domain::{integrations::SyncStatus, Error, Result};
use crate::run;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Scheduler,
    Manual,
    Webhook,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduler => "scheduler",
            Trigger::Manual => "manual",
            Trigger::Webhook => "webhook",
        }
    }
}

pub const RUN_IN_PROGRESS: &str = "In Progress";
pub const RUN_SUCCESS: &str = "Success";
pub const RUN_FAILED: &str = "Failed";
pub const MSG_RUNNING: &str = "A sync is already running for this calendar. Wait for it to finish.";
pub const MSG_QUEUED: &str = "This calendar is already queued to sync; it starts as soon as a sync slot is free.";
pub const MSG_LEASE_EXPIRED: &str = "The sync stopped before it finished (the process running it ended or stalled); it was taken over by the next run.";

/// One sync attempt as pages and the API show it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = sr)]
pub struct Run {
    pub id: i64,
    #[serde(skip)]
    pub integration_id: i64,
    pub trigger: String,
    pub status: String,
    #[serde(skip)]
    pub worker: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub duration_ms: Option<i64>,
    pub created_count: i32,
    pub updated_count: i32,
    pub deleted_count: i32,
    pub unchanged_count: i32,
    pub error: Option<String>,
    pub warnings: Option<String>,
    /// Held by the deletion guard: it would have removed most of the calendar's events.
    pub held: bool,
    /// Who lifted the deletion guard for this run.
    pub applied_by: Option<String>,
    /// How long it waited for rate limits.
    pub throttled_ms: i64,
}

/// Claims up to `limit` calendars that `mode` takes for `worker` until `until`.
/// `queue`: look at the queue too (`Claim::Queued` looks at nothing else).
pub async fn claim(conn: &mut Conn<'_>, mode: Claim, queue: bool, worker: &str, at: NaiveDateTime, until: NaiveDateTime, limit: i64) -> Result<Vec<Claimed>> {
    Ok(dialect::claim(conn, mode, queue, worker, at, until, limit).await?)
}

/// When the next calendar falls due (active, auto-sync on, not running), if any is scheduled.
pub async fn next_due(conn: &mut Conn<'_>) -> Result<Option<NaiveDateTime>> {
    Ok(run!(conn, |c| ss::table
        .filter(ss::scheduled.eq(true).and(ss::lease_until.is_null()))
        .select(diesel::dsl::min(ss::due_at))
        .first::<Option<NaiveDateTime>>(c)
        .await)?)
}

pub const MSG_INTERRUPTED: &str = "The sync was interrupted: calsync was stopping. The next sync runs it again.";

/// Closes the runs `worker` still has open as interrupted and releases their leases (due at
/// once, so another process takes them now). Returns how many.
pub async fn interrupt(conn: &mut Conn<'_>, worker: &str, at: NaiveDateTime) -> Result<usize> {
    let ids: Vec<i64> = run!(conn, |c| ss::table.filter(ss::lease_owner.eq(worker)).select(ss::integration_id).load(c).await)?;
    if ids.is_empty() {
        return Ok(0);
    }
    run!(conn, |c| diesel::update(sr::table.filter(sr::integration_id.eq_any(&ids)).filter(sr::status.eq(RUN_IN_PROGRESS)))
        .set((sr::status.eq(RUN_FAILED), sr::finished_at.eq(Some(at)), sr::error.eq(Some(MSG_INTERRUPTED))))
        .execute(c)
        .await)?;
    run!(conn, |c| diesel::update(ss::table.filter(ss::integration_id.eq_any(&ids)))
        .set((ss::lease_owner.eq(None::<String>), ss::lease_until.eq(None::<NaiveDateTime>), ss::due_at.eq(Some(at))))
        .execute(c)
        .await)?;
    run!(conn, |c| diesel::update(ci::table.filter(ci::id.eq_any(&ids)))
        .set((ci::sync_status.eq(SyncStatus::Failed.as_str()), ci::sync_error_log.eq(Some(MSG_INTERRUPTED))))
        .execute(c)
        .await)?;
    Ok(ids.len())
}

/// Puts a calendar in the queue ("Sync now" while every slot is busy); `Conflict` when a sync
/// of it runs or it is queued already. `applied_by` lifts the deletion guard for that sync.
pub async fn enqueue(conn: &mut Conn<'_>, id: i64, at: NaiveDateTime, applied_by: Option<&str>) -> Result<()> {
    let state: Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)> =
        run!(conn, |c| ss::table.find(id).select((ss::lease_until, ss::queued_at)).first(c).await.optional())?;
    match state {
        Some((Some(lease), _)) if lease >= at => return Err(Error::Conflict(MSG_RUNNING.into())),
        Some((_, Some(_))) => return Err(Error::Conflict(MSG_QUEUED.into())),
        _ => {}
    }
    run!(conn, |c| diesel::update(ss::table.find(id)).set((ss::queued_at.eq(Some(at)), ss::queued_by.eq(applied_by))).execute(c).await)?;
    run!(conn, |c| diesel::update(ci::table.find(id)).set(ci::sync_status.eq(SyncStatus::Pending.as_str())).execute(c).await)?;
    Ok(())
}

/// Claims one integration now, due or not; `Conflict` when a live lease is held. Answers
/// whether the lease it replaced had lapsed.
pub async fn claim_one(conn: &mut Conn<'_>, id: i64, worker: &str, at: NaiveDateTime, until: NaiveDateTime) -> Result<bool> {
    // Running it now answers a queued request too.
    let lapsed = run!(conn, |c| diesel::update(ss::table.find(id))
        .filter(ss::lease_until.is_null().or(ss::lease_until.lt(at)))
        .set((
            ss::lease_lapsed.eq(ss::lease_until.is_not_null()),
            ss::lease_owner.eq(worker),
            ss::lease_until.eq(until),
            ss::queued_at.eq(None::<NaiveDateTime>),
            ss::queued_by.eq(None::<String>),
        ))
        .returning(ss::lease_lapsed)
        .get_result::<bool>(c)
        .await
        .optional())?;
    lapsed.ok_or_else(|| Error::Conflict(MSG_RUNNING.into()))
}

/// Opens the run record of a claimed integration and shows the sync as in progress. When the
/// claim replaced a lapsed lease, runs left "In Progress" by its holder are closed as failed
/// first.
pub async fn open(
    conn: &mut Conn<'_>,
    id: i64,
    trigger: Trigger,
    worker: &str,
    at: NaiveDateTime,
    applied_by: Option<&str>,
    lease_lapsed: bool,
) -> Result<Run> {
    if lease_lapsed {
        run!(conn, |c| diesel::update(sr::table)
            .filter(sr::integration_id.eq(id).and(sr::status.eq(RUN_IN_PROGRESS)))
            .set((sr::status.eq(RUN_FAILED), sr::finished_at.eq(Some(at)), sr::error.eq(Some(MSG_LEASE_EXPIRED))))
            .execute(c)
            .await)?;
    }
    let run = run!(conn, |c| diesel::insert_into(sr::table)
        .values((
            sr::integration_id.eq(id),
            sr::trigger.eq(trigger.as_str()),
            sr::status.eq(RUN_IN_PROGRESS),
            sr::worker.eq(worker),
            sr::started_at.eq(at),
            sr::applied_by.eq(applied_by),
        ))
        .returning(Run::as_returning())
        .get_result(c)
        .await)?;
    run!(conn, |c| diesel::update(ci::table.find(id)).set(ci::sync_status.eq(SyncStatus::InProgress.as_str())).execute(c).await)?;
    Ok(run)
}

/// Still ours? A worker that lost its lease (it stalled past expiry) must not write results,
/// nor results for a calendar deleted meanwhile. Call inside the results' write transaction:
/// it locks the calendar's row, so a delete waits for the results (and then deletes them) or
/// the results find the calendar gone. (SQLite's one writer is lock enough.)
pub async fn holds_lease(conn: &mut Conn<'_>, id: i64, worker: &str) -> Result<bool> {
    let owner = dialect::lock_integration(conn, id).await?;
    Ok(owner.flatten().as_deref() == Some(worker))
}

/// How a run ends.
#[derive(Debug, Default)]
pub struct Ending<'a> {
    pub counts: Counts,
    /// `None` for success.
    pub error: Option<&'a str>,
    pub warnings: &'a [String],
    /// The provider asked not to be called again before this much time has passed.
    pub retry_after: Option<Duration>,
    /// How many instances are stored now (after a success).
    pub event_count: Option<i32>,
    /// The deletion guard held it (with `error` saying so).
    pub held: bool,
    /// Set when the calendar was queued again while this run went on (the process then
    /// looks at the queue).
    pub follow_up: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// How long the run waited for rate limits.
    pub throttled: std::time::Duration,
    /// The failure is worth retrying without anyone changing anything (the provider was down,
    /// slow or rate-limited): the calendar is backing off, not broken.
    pub transient: bool,
}

/// Closes a run: the record, the integration's status fields and the schedule, and releases
/// the lease.
pub async fn close(conn: &mut Conn<'_>, run: &Run, at: NaiveDateTime, interval_minutes: i64, end: Ending<'_>) -> Result<Run> {
    let Ending { counts, error, warnings, retry_after, event_count, held, follow_up: end_follow_up, throttled, transient } = end;
    let id = run.integration_id;
    let duration = (at - run.started_at).num_milliseconds().max(0);
    let warnings = (!warnings.is_empty()).then(|| summarize(warnings));
    let status = if error.is_some() { RUN_FAILED } else { RUN_SUCCESS };
    let closed = run!(conn, |c| diesel::update(sr::table.find(run.id))
        .set((
            sr::status.eq(status),
            sr::finished_at.eq(Some(at)),
            sr::duration_ms.eq(Some(duration)),
            sr::created_count.eq(counts.created),
            sr::updated_count.eq(counts.updated),
            sr::deleted_count.eq(counts.deleted),
            sr::unchanged_count.eq(counts.unchanged),
            sr::error.eq(error),
            sr::warnings.eq(warnings),
            sr::held.eq(held),
            sr::throttled_ms.eq(throttled.as_millis() as i64),
        ))
        .returning(Run::as_returning())
        .get_result(c)
        .await)?;
    let (failures, due) = match error {
        None => (0, at + Duration::minutes(interval_minutes)),
        Some(_) => {
            // Only a failure needs the count so far (for the back-off).
            let failures: i32 = run!(conn, |c| ss::table.find(id).select(ss::failures).first(c).await.optional())?.unwrap_or(0);
            (failures + 1, at + backoff(interval_minutes, failures + 1).max(retry_after.unwrap_or_default()))
        }
    };
    let schedule = (
        ss::failures.eq(failures),
        ss::due_at.eq(Some(due)),
        ss::lease_owner.eq(None::<String>),
        ss::lease_until.eq(None::<NaiveDateTime>),
        ss::transient.eq(transient && error.is_some()),
    );
    let queued: Option<NaiveDateTime> = match event_count {
        Some(count) => {
            run!(conn, |c| diesel::update(ss::table.find(id)).set((schedule, ss::event_count.eq(count))).returning(ss::queued_at).get_result(c).await)?
        }
        None => run!(conn, |c| diesel::update(ss::table.find(id)).set(schedule).returning(ss::queued_at).get_result(c).await)?,
    };
    // Queued while it ran ("Sync now", a push notification): the process looks at the queue.
    if let (Some(_), Some(flag)) = (queued, &end_follow_up) {
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    match error {
        None => run!(conn, |c| diesel::update(ci::table.find(id))
            .set((ci::sync_status.eq(SyncStatus::Success.as_str()), ci::sync_error_log.eq(None::<String>), ci::last_sync.eq(Some(at))))
            .execute(c)
            .await)?,
        Some(message) => run!(conn, |c| diesel::update(ci::table.find(id))
            .set((ci::sync_status.eq(SyncStatus::Failed.as_str()), ci::sync_error_log.eq(Some(message))))
            .execute(c)
            .await)?,
    };
    Ok(closed)
}

/// Repeated failures wait longer: the interval, doubled per failure after the first, at most
/// six hours (and never less than the interval).
pub fn backoff(interval_minutes: i64, failures: i32) -> Duration {
    let doublings = (failures - 1).clamp(0, 16) as u32;
    let minutes = interval_minutes.max(1).saturating_mul(1 << doublings);
    Duration::minutes(minutes.min(6 * 60).max(interval_minutes))
}

fn summarize(warnings: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = warnings.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("\n");
    if warnings.len() > SHOWN {
        text.push_str(&format!("\n… and {} more", warnings.len() - SHOWN));
    }
    text
}

/// Is the newest finished run of an integration one the deletion guard held?
pub async fn held(conn: &mut Conn<'_>, id: i64) -> Result<bool> {
    Ok(latest(conn, id, 1, 0).await?.as_slice().first().is_some_and(|r| r.held))
}

/// The newest runs of one integration, newest first, with how many there are in all.
pub async fn recent(conn: &mut Conn<'_>, id: i64, limit: i64, offset: i64) -> Result<(Vec<Run>, i64)> {
    let total = run!(conn, |c| sr::table.filter(sr::integration_id.eq(id)).count().get_result::<i64>(c).await)?;
    Ok((latest(conn, id, limit, offset).await?, total))
}

/// The newest runs of one integration, newest first.
pub async fn latest(conn: &mut Conn<'_>, id: i64, limit: i64, offset: i64) -> Result<Vec<Run>> {
    Ok(run!(conn, |c| sr::table.filter(sr::integration_id.eq(id)).order(sr::id.desc()).limit(limit).offset(offset).select(Run::as_select()).load(c).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_exponentially_up_to_six_hours() {
        let minutes = |failures| backoff(15, failures).num_minutes();
        assert_eq!([minutes(1), minutes(2), minutes(3), minutes(4), minutes(6), minutes(40)], [15, 30, 60, 120, 360, 360]);
        // Never sooner than the interval itself, even when it is longer than the cap.
        assert_eq!(backoff(1440, 3).num_minutes(), 1440);
    }
}
