//! The few statements whose SQL differs between PostgreSQL and SQLite (besides the bulk
//! inserts in `bulk`): claiming queued and due calendars, and locking a calendar's row.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel_async::RunQueryDsl;

use super::schema::{calendar_integrations as ci, sync_states as ss};
use super::{Conn, DbError};
use crate::run;

/// Which calendars a claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Only those waiting in the queue ("Sync now" while every slot was busy).
    Queued,
    /// Queued ones first, then the due ones (active, auto-sync on, due time passed).
    Due,
}

/// A claimed calendar, and the queue entry it came with (cleared by the claim).
#[derive(QueryableByName, Debug)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub integration_id: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub queued_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    pub queued_by: Option<String>,
    /// The lease it replaced had lapsed: a run of the previous holder may still be open.
    #[diesel(sql_type = Bool)]
    pub lease_lapsed: bool,
}

/// Leases up to `limit` calendars to `worker` until `until`: what `mode` takes, not leased (or
/// leased by someone whose lease expired); the queue only when `queue` says so. PostgreSQL
/// skips rows another process is claiming at the same moment; SQLite has one writer. Their
/// queue entries are cleared.
pub async fn claim(
    conn: &mut Conn<'_>,
    mode: Claim,
    queue: bool,
    worker: &str,
    at: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, DbError> {
    // Two statements, each served by its own partial index in the order it wants: the queue
    // (usually empty), then the due ones. One statement over both sorted every calendar.
    let queued = "SELECT s.integration_id FROM sync_states s JOIN calendar_integrations ci ON ci.id = s.integration_id \
                  WHERE s.queued_at IS NOT NULL AND ci.is_active AND (s.lease_until IS NULL OR s.lease_until < {at}) \
                  ORDER BY s.queued_at LIMIT {limit}";
    let due = "SELECT s.integration_id FROM sync_states s \
               WHERE s.scheduled AND (s.due_at IS NULL OR s.due_at <= {at}) AND (s.lease_until IS NULL OR s.lease_until < {at}) \
               ORDER BY s.due_at NULLS FIRST LIMIT {limit}";
    let mut claimed = match queue || mode == Claim::Queued {
        true => lease(conn, queued, worker, at, until, limit).await?,
        false => Vec::new(),
    };
    let left = limit - claimed.len() as i64;
    if mode == Claim::Due && left > 0 {
        claimed.extend(lease(conn, due, worker, at, until, left).await?);
    }
    let queued: Vec<i64> = claimed.iter().filter(|c| c.queued_at.is_some()).map(|c| c.integration_id).collect();
    if !queued.is_empty() {
        run!(conn, |c| diesel::update(ss::table.filter(ss::integration_id.eq_any(&queued)))
            .set((ss::queued_at.eq(None::<NaiveDateTime>), ss::queued_by.eq(None::<String>)))
            .execute(c)
            .await)?;
    }
    Ok(claimed)
}

/// Leases what `inner` selects. The lease condition is checked again on the row itself, so a
/// claim that raced another never succeeds twice.
async fn lease(conn: &mut Conn<'_>, inner: &str, worker: &str, at: NaiveDateTime, until: NaiveDateTime, limit: i64) -> Result<Vec<Claimed>, DbError> {
    // `lease_lapsed` is computed from the row before the update (a released lease is NULL).
    let outer = "UPDATE sync_states SET lease_owner = {worker}, lease_until = {until}, lease_lapsed = (lease_until IS NOT NULL) \
                 WHERE integration_id IN ({inner}) AND (lease_until IS NULL OR lease_until < {at}) \
                 RETURNING integration_id, queued_at, queued_by, lease_lapsed";
    Ok(match conn {
        Conn::Pg(c) => {
            let inner = inner.replace("{at}", "$1").replace("{limit}", "$4") + " FOR UPDATE OF s SKIP LOCKED";
            let sql = outer.replace("{inner}", &inner).replace("{at}", "$1").replace("{worker}", "$2").replace("{until}", "$3");
            diesel::sql_query(sql).bind::<Timestamp, _>(at).bind::<Text, _>(worker).bind::<Timestamp, _>(until).bind::<BigInt, _>(limit).load(&mut **c).await?
        }
        Conn::Sqlite(c) => {
            let sql = outer.replace("{inner}", inner).replace("{worker}", "?1").replace("{until}", "?2").replace("{at}", "?3").replace("{limit}", "?4");
            diesel::sql_query(sql).bind::<Text, _>(worker).bind::<Timestamp, _>(until).bind::<Timestamp, _>(at).bind::<BigInt, _>(limit).load(&mut **c).await?
        }
    })
}

/// Locks a calendar's row (and its scheduling row) until the transaction ends (`FOR UPDATE`;
/// SQLite's one writer is lock enough) and answers who holds its sync lease; `None` when the
/// calendar no longer exists.
pub async fn lock_integration(conn: &mut Conn<'_>, id: i64) -> Result<Option<Option<String>>, DbError> {
    let query = ci::table.inner_join(ss::table).filter(ci::id.eq(id)).select(ss::lease_owner);
    Ok(match conn {
        Conn::Pg(c) => query.for_update().first::<Option<String>>(&mut **c).await.optional()?,
        Conn::Sqlite(c) => query.first::<Option<String>>(&mut **c).await.optional()?,
    })
}

/// Takes one request from the budget `key` (`limit` per `window`), in one statement: a new
/// window starts when the last one is over. Answers how long to wait when the budget is used
/// up (the request is counted all the same, so a waiting process does not jump the queue).
pub async fn take_budget(conn: &mut Conn<'_>, key: &str, limit: i64, window: chrono::Duration, at: NaiveDateTime) -> Result<Option<chrono::Duration>, DbError> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = Timestamp)]
        window_start: NaiveDateTime,
        #[diesel(sql_type = BigInt)]
        used: i64,
    }
    let sql = "INSERT INTO rate_budgets (key, window_start, used) VALUES ({key}, {at}, 1) \
               ON CONFLICT (key) DO UPDATE SET \
               used = CASE WHEN rate_budgets.window_start <= {expired} THEN 1 ELSE rate_budgets.used + 1 END, \
               window_start = CASE WHEN rate_budgets.window_start <= {expired} THEN {at} ELSE rate_budgets.window_start END \
               RETURNING window_start, used";
    let expired = at - window;
    let taken: Taken = match conn {
        Conn::Pg(c) => {
            let sql = sql.replace("{key}", "$1").replace("{at}", "$2").replace("{expired}", "$3");
            diesel::sql_query(sql).bind::<Text, _>(key).bind::<Timestamp, _>(at).bind::<Timestamp, _>(expired).get_result(&mut **c).await?
        }
        Conn::Sqlite(c) => {
            let sql = sql.replace("{key}", "?1").replace("{at}", "?2").replace("{expired}", "?3");
            diesel::sql_query(sql).bind::<Text, _>(key).bind::<Timestamp, _>(at).bind::<Timestamp, _>(expired).get_result(&mut **c).await?
        }
    };
    Ok((taken.used > limit).then(|| taken.window_start + window - at))
}
