//! The few statements whose SQL differs between PostgreSQL and SQLite (besides the bulk
//! inserts in `bulk`): claiming due calendars and locking a calendar's row.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel_async::RunQueryDsl;

use super::schema::calendar_integrations as ci;
use super::{Conn, DbError};

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    integration_id: i64,
}

/// Leases up to `limit` due integrations to `worker` until `until`: active, auto-sync on, due,
/// and not leased (or leased by someone whose lease expired). PostgreSQL skips rows another
/// process is claiming at the same moment; SQLite has one writer.
pub async fn claim_due(conn: &mut Conn<'_>, worker: &str, at: NaiveDateTime, until: NaiveDateTime, limit: i64) -> Result<Vec<i64>, DbError> {
    // The outer lease condition is checked again on the row itself, so a claim that raced
    // another never succeeds twice.
    let inner = "SELECT s.integration_id FROM sync_states s JOIN calendar_integrations ci ON ci.id = s.integration_id \
                 WHERE ci.is_active AND ci.auto_sync_enabled AND (s.due_at IS NULL OR s.due_at <= {at}) \
                 AND (s.lease_until IS NULL OR s.lease_until < {at}) ORDER BY s.due_at NULLS FIRST LIMIT {limit}";
    let outer = "UPDATE sync_states SET lease_owner = {worker}, lease_until = {until} \
                 WHERE integration_id IN ({inner}) AND (lease_until IS NULL OR lease_until < {at}) RETURNING integration_id";
    let ids: Vec<Claimed> = match conn {
        Conn::Pg(c) => {
            let inner = inner.replace("{at}", "$1").replace("{limit}", "$4") + " FOR UPDATE OF s SKIP LOCKED";
            let sql = outer.replace("{inner}", &inner).replace("{at}", "$1").replace("{worker}", "$2").replace("{until}", "$3");
            diesel::sql_query(sql)
                .bind::<Timestamp, _>(at)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(until)
                .bind::<BigInt, _>(limit)
                .load(*c)
                .await?
        }
        Conn::Sqlite(c) => {
            let sql = outer
                .replace("{inner}", inner)
                .replace("{worker}", "?1")
                .replace("{until}", "?2")
                .replace("{at}", "?3")
                .replace("{limit}", "?4");
            diesel::sql_query(sql)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(until)
                .bind::<Timestamp, _>(at)
                .bind::<BigInt, _>(limit)
                .load(*c)
                .await?
        }
    };
    Ok(ids.into_iter().map(|c| c.integration_id).collect())
}

/// Locks a calendar's row until the transaction ends (`FOR UPDATE`; SQLite's one writer is
/// lock enough). `false` when the calendar no longer exists.
pub async fn lock_integration(conn: &mut Conn<'_>, id: i64) -> Result<bool, DbError> {
    let exists = match conn {
        Conn::Pg(c) => ci::table.find(id).select(ci::id).for_update().first::<i64>(&mut **c).await.optional()?,
        Conn::Sqlite(c) => ci::table.find(id).select(ci::id).first::<i64>(&mut **c).await.optional()?,
    };
    Ok(exists.is_some())
}
