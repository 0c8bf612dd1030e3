//! The copies of bookings written into members' calendars (two-way push), as a small queue:
//! a booking's change marks its copy pending (in the same transaction), a pusher claims it
//! with a lease, writes it, and records what the calendar answered. Only a member's active,
//! Two-way, primary Google or Outlook calendar is written to. A copy in a calendar that is no
//! longer that (another primary, one-way, removed) stays where it is, and says so.
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;
pub use vocab::CopyState;

use crate::db::schema::{booking_copies as bc, bookings as b, calendar_integrations as ci, event_series as es};
use crate::db::Conn;
use crate::domain::integrations::{IntegrationType, SyncDirection};
use crate::domain::{now, Error, Result};
use crate::run;

pub const PENDING: &str = CopyState::Pending.as_str();
pub const WRITTEN: &str = CopyState::Written.as_str();
pub const FAILED: &str = CopyState::Failed.as_str();
pub const PUT: &str = "put";
pub const REMOVE: &str = "remove";

/// One copy as the booking shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyView {
    pub booking_id: i64,
    /// The calendar record's name (`None` once it was removed).
    pub integration: Option<String>,
    /// The calendar's display name when last written.
    pub calendar: String,
    pub external_id: Option<String>,
    pub state: CopyState,
    /// put, or remove (the booking was cancelled)
    pub action: String,
    pub error: Option<String>,
    /// Why the copy is no longer kept up to date.
    pub note: Option<String>,
    pub attempts: i32,
    pub due_at: Option<NaiveDateTime>,
}

/// The calendar a member's bookings are written to: their active Two-way primary calendar at
/// Google or Microsoft. `(id, display name)`.
pub async fn target(c: &mut Conn<'_>, user_id: i64) -> Result<Option<(i64, String)>> {
    let found: Option<(i64, String)> = run!(c, |cc| ci::table
        .filter(ci::user_id.eq(user_id).and(ci::is_primary.eq(true)).and(ci::is_active.eq(true)))
        .filter(ci::sync_direction.eq(SyncDirection::TwoWay.as_str()))
        .filter(ci::integration_type.eq_any([IntegrationType::Google.as_str(), IntegrationType::Outlook.as_str()]))
        .select((ci::id, ci::integration_name))
        .first(cc)
        .await
        .optional())?;
    Ok(found)
}

/// A fresh idempotency key: `cs` and 32 hex digits, which is base32hex as Google requires of
/// a client-chosen event id, and unique enough for Graph's `transactionId`.
fn new_key() -> String {
    let bytes: [u8; 16] = rand::random();
    format!("cs{}", hex::encode(bytes))
}

type Row = (i64, Option<i64>, String, Option<String>, i32);

/// After a booking changed (inside its write transaction): what must be written where. The
/// copy in the current target is marked pending (a new one made if there is none and the
/// booking is live); copies elsewhere keep what they hold and say why they are not updated.
pub async fn plan(c: &mut Conn<'_>, booking_id: i64, user_id: i64, cancelled: bool, at: NaiveDateTime) -> Result<()> {
    let target = target(c, user_id).await?;
    let copies: Vec<Row> = run!(c, |cc| bc::table
        .filter(bc::booking_id.eq(booking_id))
        .select((bc::id, bc::integration_id, bc::calendar_label, bc::external_id, bc::attempts))
        .load(cc)
        .await)?;
    let action = if cancelled { REMOVE } else { PUT };
    let mut has_target = false;
    let mut marked = false;
    for (id, integration, label, external, attempts) in copies {
        match (target.as_ref(), integration) {
            (Some((t, name)), Some(i)) if *t == i => {
                has_target = true;
                run!(c, |cc| diesel::update(bc::table.find(id))
                    // A copy never confirmed keeps counting its attempts: an earlier one may have
                    // made it, and the next must bring that event in line.
                    .set((
                        bc::state.eq(PENDING),
                        bc::action.eq(action),
                        bc::calendar_label.eq(name),
                        bc::error.eq(None::<String>),
                        bc::note.eq(None::<String>),
                        bc::attempts.eq(bc::attempts * i32::from(external.is_none())),
                        bc::due_at.eq(Some(at)),
                        bc::modified_at.eq(at)
                    ))
                    .execute(cc)
                    .await)?;
                marked = true;
            }
            _ if external.is_none() && attempts == 0 => {
                // Never tried: nothing to keep. (One that was tried may have been made by the
                // calendar without calsync hearing it, so it stays on record.)
                run!(c, |cc| diesel::delete(bc::table.find(id)).execute(cc).await)?;
            }
            (_, i) => {
                let note = match i {
                    None => format!("Not updated: the calendar '{label}' was removed from calsync; the copy stays in it."),
                    Some(_) => format!("Not updated: '{label}' is no longer the primary two-way calendar; the copy stays in it."),
                };
                run!(c, |cc| diesel::update(bc::table.find(id))
                    .set((bc::note.eq(Some(&note)), bc::due_at.eq(None::<NaiveDateTime>), bc::modified_at.eq(at)))
                    .execute(cc)
                    .await)?;
            }
        }
    }
    if let (Some((t, name)), false, false) = (target, has_target, cancelled) {
        let key = new_key();
        run!(c, |cc| diesel::insert_into(bc::table)
            .values((
                bc::booking_id.eq(booking_id),
                bc::integration_id.eq(Some(t)),
                bc::calendar_label.eq(&name),
                bc::client_key.eq(&key),
                bc::state.eq(PENDING),
                bc::action.eq(PUT),
                bc::due_at.eq(Some(at)),
                bc::created_at.eq(at),
                bc::modified_at.eq(at),
            ))
            .execute(cc)
            .await)?;
        marked = true;
    }
    if marked {
        pending(c).await?;
    }
    Ok(())
}

/// Wakes the pushers (of every process on PostgreSQL, at commit): the change that marked a
/// copy pending schedules its write, so no caller has to remember to.
async fn pending(c: &mut Conn<'_>) -> Result<()> {
    crate::db::signal::COPIES.send(c).await?;
    Ok(())
}

type ViewRow = (i64, Option<String>, String, Option<String>, String, String, Option<String>, Option<String>, i32, Option<NaiveDateTime>);

/// The copies of some bookings, oldest first.
pub async fn of(c: &mut Conn<'_>, booking_ids: &[i64]) -> Result<Vec<CopyView>> {
    if booking_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = booking_ids.to_vec();
    let rows: Vec<ViewRow> = run!(c, |cc| bc::table
        .left_join(ci::table)
        .filter(bc::booking_id.eq_any(&ids))
        .order(bc::id)
        .select((
            bc::booking_id,
            ci::name.nullable(),
            bc::calendar_label,
            bc::external_id,
            bc::state,
            bc::action,
            bc::error,
            bc::note,
            bc::attempts,
            bc::due_at
        ))
        .load(cc)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| CopyView {
            booking_id: r.0,
            integration: r.1,
            calendar: r.2,
            external_id: r.3,
            state: CopyState::parse(&r.4),
            action: r.5,
            error: r.6,
            note: r.7,
            attempts: r.8,
            due_at: r.9,
        })
        .collect())
}

/// The copies waiting to be written by `at` (pending ones, and failed ones whose retry is
/// due), oldest first. Read in a write transaction: on SQLite it waits for a writer still
/// inside the transaction whose signal woke the pusher, so its copies are seen.
pub async fn due(c: &mut Conn<'_>, at: NaiveDateTime, limit: i64) -> Result<Vec<i64>> {
    c.write_tx(move |mut c| {
        Box::pin(async move {
            let ids = run!(&mut c, |cc| bc::table
                .filter(bc::state.eq_any([PENDING, FAILED]).and(bc::due_at.le(at)))
                .filter(bc::lease_until.is_null().or(bc::lease_until.lt(at)))
                .order(bc::due_at)
                .select(bc::id)
                .limit(limit)
                .load::<i64>(cc)
                .await)?;
            Ok(ids)
        })
    })
    .await
}

/// The copies of one booking that wait to be written now.
pub async fn waiting(c: &mut Conn<'_>, booking_id: i64) -> Result<Vec<i64>> {
    let ids = run!(c, |cc| bc::table
        .filter(bc::booking_id.eq(booking_id).and(bc::state.eq(PENDING)).and(bc::due_at.is_not_null()))
        .select(bc::id)
        .load::<i64>(cc)
        .await)?;
    Ok(ids)
}

/// A claimed copy: what to write, where.
#[derive(Debug, Clone)]
pub struct Job {
    pub copy_id: i64,
    pub booking_id: i64,
    /// The booking version being written.
    pub version: i64,
    pub integration_id: Option<i64>,
    pub key: String,
    pub external_id: Option<String>,
    pub action: String,
    pub attempts: i32,
    /// The calendar's version calsync last wrote or accepted.
    pub etag: Option<String>,
    /// The lease this claim holds, as stored: a result is recorded only while it is still
    /// this claim's (a write that outlived its lease leaves the copy to the next claim).
    pub lease: Option<NaiveDateTime>,
    /// The fields as calsync last wrote or accepted them (its changed occurrences are
    /// written again).
    pub base: Option<crate::domain::merge::Fields>,
    /// The booking was written somewhere before (a calendar record removed and added again
    /// holds its event already): look for it before making one.
    pub look_first: bool,
}

/// Takes a due copy for `lease` (another pusher leaves it alone meanwhile); `None` when it is
/// not due or someone else holds it.
pub async fn claim(c: &mut Conn<'_>, copy_id: i64, lease: Duration) -> Result<Option<Job>> {
    c.write_tx(move |mut c| {
        Box::pin(async move {
            let at = now();
            let taken = run!(&mut c, |cc| diesel::update(
                bc::table
                    .find(copy_id)
                    .filter(bc::state.eq_any([PENDING, FAILED]))
                    .filter(bc::due_at.le(at))
                    .filter(bc::lease_until.is_null().or(bc::lease_until.lt(at)))
            )
            .set(bc::lease_until.eq(Some(at + lease)))
            .execute(cc)
            .await)?;
            if taken == 0 {
                return Ok(None);
            }
            let row: (i64, i64, Option<i64>, String, Option<String>, String, i32, Option<String>, Option<NaiveDateTime>, Option<String>) =
                run!(&mut c, |cc| bc::table
                    .inner_join(b::table)
                    .filter(bc::id.eq(copy_id))
                    .select((
                        bc::booking_id,
                        b::version,
                        bc::integration_id,
                        bc::client_key,
                        bc::external_id,
                        bc::action,
                        bc::attempts,
                        bc::etag,
                        bc::lease_until,
                        bc::base
                    ))
                    .first(cc)
                    .await)?;
            let base = row.9.and_then(|b| serde_json::from_str(&b).ok());
            let booking_id = row.0;
            // Only a create looks first, so only a create asks (not every update on the hot path).
            let elsewhere: i64 = if row.4.is_none() && row.5 == PUT {
                run!(&mut c, |cc| bc::table
                    .filter(bc::booking_id.eq(booking_id).and(bc::id.ne(copy_id)).and(bc::external_id.is_not_null()))
                    .count()
                    .get_result(cc)
                    .await)?
            } else {
                0
            };
            Ok(Some(Job {
                look_first: elsewhere > 0,
                copy_id,
                booking_id: row.0,
                version: row.1,
                integration_id: row.2,
                key: row.3,
                external_id: row.4,
                action: row.5,
                attempts: row.6,
                etag: row.7,
                lease: row.8,
                base,
            }))
        })
    })
    .await
}

/// How a write ended.
#[derive(Debug, Clone)]
pub enum Finish {
    Written {
        external_id: String,
        etag: Option<String>,
        base: crate::domain::merge::Fields,
    },
    /// The copy was deleted from the calendar (the booking was cancelled).
    Removed,
    /// Not written; retried at `retry_at` when the failure may pass by itself. `sent`: what
    /// a create attempt sent (the calendar may hold it though its answer was lost): the base
    /// the retry checks the calendar's event against.
    Failed {
        error: String,
        retry_at: Option<NaiveDateTime>,
        sent: Option<crate::domain::merge::Fields>,
    },
    /// Not written because the calendar is no longer the target.
    Left {
        note: String,
    },
    /// Refused because the copy changed (or was deleted) in the calendar since calsync wrote
    /// it: the next sync of the calendar merges both sides. `external_id`: the event a lost
    /// create made, now known.
    Stale {
        error: String,
        external_id: Option<String>,
    },
}

/// How a write ended, as `calsync_push_requests_total` counts it (`None`: nothing was asked
/// of the calendar).
fn outcome(job: &Job, how: &Finish) -> Option<&'static str> {
    match how {
        Finish::Written { .. } => Some("written"),
        Finish::Removed => job.external_id.is_some().then_some("deleted"),
        Finish::Failed { .. } => Some("failed"),
        Finish::Stale { .. } => Some("changed"),
        Finish::Left { .. } => None,
    }
}

/// Records how a write ended and releases the lease. A booking that changed meanwhile leaves
/// the copy pending (answers true: write again).
pub async fn finish(c: &mut Conn<'_>, job: &Job, calendar: &str, how: Finish) -> Result<bool> {
    let counted = outcome(job, &how);
    let job = job.clone();
    let calendar = calendar.to_string();
    let (again, provider) = c
        .write_tx(move |mut c| {
            Box::pin(async move {
                let at = now();
                let (current, lease, provider): (String, Option<NaiveDateTime>, Option<String>) = run!(&mut c, |cc| bc::table
                    .left_join(ci::table)
                    .filter(bc::id.eq(job.copy_id))
                    .select((bc::action, bc::lease_until, ci::integration_type.nullable()))
                    .first(cc)
                    .await)?;
                if lease != job.lease {
                    // This write outlived its lease and another pusher claimed the copy since:
                    // the newer claim's result is the one that counts (the calendar was asked all
                    // the same).
                    return Ok((false, provider));
                }
                let version: i64 = run!(&mut c, |cc| b::table.find(job.booking_id).select(b::version).first(cc).await)?;
                let again = version != job.version || current != job.action;
                let release = (bc::lease_until.eq(None::<NaiveDateTime>), bc::modified_at.eq(at));
                match &how {
                    Finish::Written { external_id, etag, base } => {
                        let (state, due) = if again { (PENDING, Some(at)) } else { (WRITTEN, None) };
                        run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id))
                            .set((
                                bc::state.eq(state),
                                bc::due_at.eq(due),
                                bc::external_id.eq(Some(external_id)),
                                bc::etag.eq(etag),
                                bc::base.eq(Some(serde_json::to_string(base).unwrap_or_default())),
                                bc::written_version.eq(job.version),
                                bc::error.eq(None::<String>),
                                bc::attempts.eq(0),
                                release
                            ))
                            .execute(cc)
                            .await)?;
                        history(&mut c, job.booking_id, "write", json!({"calendar": calendar, "external_id": external_id, "version": job.version}), at).await?;
                    }
                    Finish::Removed => {
                        let (state, due) = if again { (PENDING, Some(at)) } else { (WRITTEN, None) };
                        run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id))
                            .set((
                                bc::state.eq(state),
                                bc::due_at.eq(due),
                                bc::written_version.eq(job.version),
                                bc::error.eq(None::<String>),
                                bc::attempts.eq(0),
                                bc::note.eq(Some("Deleted from the calendar.")),
                                release
                            ))
                            .execute(cc)
                            .await)?;
                        history(&mut c, job.booking_id, "delete copy", json!({"calendar": calendar, "external_id": job.external_id}), at).await?;
                    }
                    Finish::Failed { error, retry_at, sent } => {
                        let due = if again { Some(at) } else { *retry_at };
                        run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id))
                            .set((
                                bc::state.eq(if again { PENDING } else { FAILED }),
                                bc::due_at.eq(due),
                                bc::error.eq(Some(error)),
                                bc::attempts.eq(bc::attempts + 1),
                                release
                            ))
                            .execute(cc)
                            .await)?;
                        if let Some(sent) = sent {
                            let sent = serde_json::to_string(sent).unwrap_or_default();
                            run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id)).set(bc::base.eq(Some(&sent))).execute(cc).await)?;
                        }
                        if job.attempts == 0 {
                            history(&mut c, job.booking_id, "write failed", json!({"calendar": calendar, "error": error}), at).await?;
                        }
                    }
                    Finish::Stale { error, external_id } => {
                        run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id))
                            .set((bc::state.eq(PENDING), bc::due_at.eq(None::<NaiveDateTime>), bc::error.eq(Some(error)), release))
                            .execute(cc)
                            .await)?;
                        if let Some(id) = external_id {
                            run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id)).set(bc::external_id.eq(Some(id))).execute(cc).await)?;
                        }
                    }
                    Finish::Left { note } => {
                        run!(&mut c, |cc| diesel::update(bc::table.find(job.copy_id))
                            .set((
                                bc::state.eq(if job.external_id.is_some() { WRITTEN } else { FAILED }),
                                bc::due_at.eq(None::<NaiveDateTime>),
                                bc::note.eq(Some(note)),
                                release
                            ))
                            .execute(cc)
                            .await)?;
                    }
                }
                Ok::<(bool, Option<String>), Error>((again && !matches!(how, Finish::Left { .. } | Finish::Stale { .. }), provider))
            })
        })
        .await?;
    if let (Some(outcome), Some(t)) = (counted, provider.as_deref().and_then(IntegrationType::parse)) {
        crate::metrics::push_request(t, outcome);
    }
    Ok(again)
}

async fn history(c: &mut Conn<'_>, booking_id: i64, action: &'static str, after: serde_json::Value, at: NaiveDateTime) -> Result<()> {
    crate::domain::bookings::record(c, booking_id, action, "push", None, Some(after.to_string()), at).await
}

/// A written copy in one calendar, as the follow step compares it.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub copy_id: i64,
    pub booking_id: i64,
    pub external_id: String,
    pub etag: Option<String>,
    pub base: Option<crate::domain::merge::Fields>,
    /// A local change waits to be pushed (due) — the push brings it back here if the calendar
    /// changed meanwhile.
    pub push_due: bool,
    /// The stored copy's version from the last sync (`None`: not stored, or no version).
    pub synced_etag: Option<String>,
    /// The booking version the copy holds.
    pub written_version: i64,
    /// The booking recurs: its copy's occurrences change without the series' version.
    pub recurring: bool,
}

impl Tracked {
    /// Nothing to merge: the calendar holds what calsync last wrote or accepted.
    pub fn unchanged(&self) -> bool {
        !self.push_due && self.etag.is_some() && self.synced_etag == self.etag && !self.recurring
    }
}

/// The live copies in a calendar: written, or waiting for the follow step after the calendar
/// refused a push because its copy changed.
pub async fn in_calendar(c: &mut Conn<'_>, integration_id: i64) -> Result<Vec<Tracked>> {
    type Row = (i64, i64, Option<String>, Option<String>, Option<String>, Option<NaiveDateTime>, Option<String>, i64, Option<String>);
    let rows: Vec<Row> = run!(c, |cc| bc::table
        .inner_join(b::table)
        .left_join(es::table.on(es::integration_id.nullable().eq(bc::integration_id).and(es::uid.nullable().eq(bc::external_id))))
        .filter(bc::integration_id.eq(integration_id).and(bc::action.eq(PUT)).and(bc::note.is_null()).and(bc::external_id.is_not_null()))
        .select((bc::id, bc::booking_id, bc::external_id, bc::etag, bc::base, bc::due_at, es::etag.nullable(), bc::written_version, b::recurrence))
        .load(cc)
        .await)?;
    Ok(rows
        .into_iter()
        .filter_map(|(copy_id, booking_id, external, etag, base, due, synced, written_version, recurrence)| {
            let base = base.and_then(|b| serde_json::from_str(&b).ok());
            let recurring = recurrence.is_some();
            Some(Tracked { copy_id, booking_id, external_id: external?, etag, base, push_due: due.is_some(), synced_etag: synced, written_version, recurring })
        })
        .collect())
}

/// The calendar's version is the copy's version now: nothing to push.
pub async fn accept(c: &mut Conn<'_>, copy_id: i64, etag: Option<&str>, base: &crate::domain::merge::Fields, version: i64) -> Result<()> {
    let base = serde_json::to_string(base).unwrap_or_default();
    run!(c, |cc| diesel::update(bc::table.find(copy_id))
        .set((
            bc::state.eq(WRITTEN),
            bc::etag.eq(etag),
            bc::base.eq(Some(base)),
            bc::written_version.eq(version),
            bc::due_at.eq(None::<NaiveDateTime>),
            bc::error.eq(None::<String>),
            bc::modified_at.eq(now())
        ))
        .execute(cc)
        .await)?;
    Ok(())
}

/// The copy must be written again (to restore it, or to carry a merge). `seen`: the calendar's
/// version it overwrites (so the write is not refused for it); `recreate`: it was deleted in
/// the calendar, so a new one is made (with a new idempotency key).
pub async fn repush(c: &mut Conn<'_>, copy_id: i64, seen: Option<&str>, recreate: bool) -> Result<()> {
    let at = now();
    if recreate {
        return revive(c, copy_id).await;
    } else {
        run!(c, |cc| diesel::update(bc::table.find(copy_id))
            .set((bc::state.eq(PENDING), bc::etag.eq(seen), bc::due_at.eq(Some(at)), bc::attempts.eq(0), bc::modified_at.eq(at)))
            .execute(cc)
            .await)?;
    }
    pending(c).await
}

/// A copy left alone: its booking was cancelled because the copy was deleted in the calendar.
pub async fn gone(c: &mut Conn<'_>, copy_id: i64, note: &str) -> Result<()> {
    run!(c, |cc| diesel::update(bc::table.find(copy_id))
        .set((bc::state.eq(WRITTEN), bc::action.eq(REMOVE), bc::note.eq(Some(note)), bc::due_at.eq(None::<NaiveDateTime>), bc::modified_at.eq(now())))
        .execute(cc)
        .await)?;
    Ok(())
}

/// A copy made again (its booking was kept over the calendar's deletion of it).
pub async fn revive(c: &mut Conn<'_>, copy_id: i64) -> Result<()> {
    let at = now();
    run!(c, |cc| diesel::update(bc::table.find(copy_id))
        .set((
            bc::state.eq(PENDING),
            bc::action.eq(PUT),
            bc::note.eq(None::<String>),
            bc::external_id.eq(None::<String>),
            bc::etag.eq(None::<String>),
            bc::client_key.eq(new_key()),
            bc::due_at.eq(Some(at)),
            bc::attempts.eq(0),
            bc::modified_at.eq(at)
        ))
        .execute(cc)
        .await)?;
    pending(c).await
}

/// The confirmed bookings whose copies among `external_ids` are in `integration_id` and have
/// time between `from` and `to`: what a sync deleting those events there would cancel under a
/// policy that follows deletions. (title, start in UTC), earliest first.
pub async fn would_cancel(
    c: &mut Conn<'_>,
    integration_id: i64,
    external_ids: &[String],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<Vec<(String, NaiveDateTime)>> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    // Chunked: PostgreSQL takes at most 65,535 parameters in one statement.
    for ids in external_ids.chunks(10_000) {
        let rows: Vec<(String, NaiveDateTime)> = run!(c, |cc| bc::table
            .inner_join(b::table)
            .filter(bc::integration_id.eq(integration_id).and(bc::action.eq(PUT)).and(bc::note.is_null()).and(bc::external_id.eq_any(ids)))
            .filter(b::status.eq("confirmed").and(b::start_at.lt(to)).and(b::recurrence.is_not_null().or(b::end_at.gt(from))))
            .select((b::title, b::start_at))
            .load(cc)
            .await)?;
        out.extend(rows);
    }
    out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}
