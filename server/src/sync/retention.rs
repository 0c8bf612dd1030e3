//! Retention: sync runs and change history older than their configured age are deleted by the
//! scheduler, a small batch per statement, so no write holds the database for long.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{change_history as ch, sync_runs as sr};
use crate::db::Conn;
use crate::domain::Result;
use crate::run;

/// Rows deleted per statement.
pub const BATCH: i64 = 500;

diesel::alias!(sr as newer: NewerRuns);

/// Deletes up to one batch of runs started before `cutoff`: never a run still going, and never
/// a calendar's newest run (its last result, a held sync waiting for Apply).
pub async fn prune_runs(conn: &mut Conn<'_>, cutoff: NaiveDateTime) -> Result<usize> {
    let has_newer = diesel::dsl::exists(
        newer.filter(newer.field(sr::integration_id).eq(sr::integration_id)).filter(newer.field(sr::id).gt(sr::id)).select(newer.field(sr::id)),
    );
    let ids: Vec<i64> = run!(conn, |c| sr::table
        .filter(sr::started_at.lt(cutoff).and(sr::status.ne(super::runs::RUN_IN_PROGRESS)))
        .filter(has_newer)
        .order(sr::started_at)
        .select(sr::id)
        .limit(BATCH)
        .load(c)
        .await)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(run!(conn, |c| diesel::delete(sr::table.filter(sr::id.eq_any(&ids))).execute(c).await)?)
}

/// Deletes up to one batch of change-history rows written before `cutoff`.
pub async fn prune_history(conn: &mut Conn<'_>, cutoff: NaiveDateTime) -> Result<usize> {
    let ids: Vec<i64> = run!(conn, |c| ch::table.filter(ch::at.lt(cutoff)).order(ch::at).select(ch::id).limit(BATCH).load(c).await)?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(run!(conn, |c| diesel::delete(ch::table.filter(ch::id.eq_any(&ids))).execute(c).await)?)
}
