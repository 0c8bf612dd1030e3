//! Bulk inserts of the event tables, the one place their SQL differs by dialect. SQLite:
//! multi-row INSERTs on the connection's blocking thread (diesel-async's SQLite wrapper has no
//! batch insert). PostgreSQL: `INSERT … SELECT FROM UNNEST(arrays)`, one statement per 20,000
//! rows (multi-row VALUES are planned anew per statement and were 3× slower).
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{change_history as ch, event_instances as ei, event_series as es};
use super::{Conn, DbError};

/// Rows per multi-row INSERT on SQLite: well under its 32,766 bound parameters.
pub const CHUNK: usize = 1000;
/// Rows per UNNEST insert on PostgreSQL.
const PG_CHUNK: usize = 20_000;

/// One occurrence as stored.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = ei, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct InstanceRow {
    pub integration_id: i64,
    pub uid: String,
    pub recurrence_id: String,
    pub start_at: i64,
    pub end_at: i64,
    pub all_day: bool,
    pub busy: bool,
    pub status: &'static str,
    pub summary: String,
    pub tzid: Option<String>,
    pub version_hash: String,
    pub kind: &'static str,
}

/// One series as stored.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = es, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct SeriesRow {
    pub integration_id: i64,
    pub uid: String,
    pub summary: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub organizer: Option<String>,
    pub attendees: String,
    pub recurrence: String,
    pub tzid: Option<String>,
    pub status: &'static str,
    pub transparent: bool,
    pub sequence: i64,
    pub source_hash: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
    pub external_id: Option<String>,
    pub etag: Option<String>,
    pub start_at: Option<i64>,
    pub end_at: Option<i64>,
    pub all_day: bool,
}

/// One change-history row.
#[derive(Insertable)]
#[diesel(table_name = ch, treat_none_as_default_value = false)]
pub struct HistoryRow {
    pub integration_id: Option<i64>,
    pub entity: &'static str,
    pub entity_key: String,
    pub action: &'static str,
    pub actor: String,
    pub run_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub at: NaiveDateTime,
}

macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr, $pg:path) => {{
        let rows = $rows;
        match $conn {
            Conn::Pg(c) => {
                for chunk in rows.chunks(PG_CHUNK) {
                    $pg(&mut **c, chunk).await?;
                }
            }
            Conn::Sqlite(c) => {
                c.spawn_blocking(move |sc| {
                    for chunk in rows.chunks(CHUNK) {
                        diesel::RunQueryDsl::execute(diesel::insert_into($table).values(chunk), sc)?;
                    }
                    Ok(())
                })
                .await?;
            }
        }
        Ok(())
    }};
}

pub async fn instances(conn: &mut Conn<'_>, rows: Vec<InstanceRow>) -> Result<(), DbError> {
    bulk_insert!(conn, ei::table, rows, pg::instances)
}

pub async fn series(conn: &mut Conn<'_>, rows: Vec<SeriesRow>) -> Result<(), DbError> {
    bulk_insert!(conn, es::table, rows, pg::series)
}

pub async fn history(conn: &mut Conn<'_>, rows: Vec<HistoryRow>) -> Result<(), DbError> {
    bulk_insert!(conn, ch::table, rows, pg::history)
}

mod pg {
    use super::{HistoryRow, InstanceRow, SeriesRow};
    use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp};
    use diesel::QueryResult;
    use diesel_async::{AsyncPgConnection, RunQueryDsl};

    fn col<'a, T, U>(rows: &'a [T], f: impl Fn(&'a T) -> U) -> Vec<U> {
        rows.iter().map(f).collect()
    }

    pub async fn instances(c: &mut AsyncPgConnection, rows: &[InstanceRow]) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO event_instances (integration_id, uid, recurrence_id, start_at, end_at, all_day, busy, status, summary, tzid, version_hash, kind) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::bool[], $7::bool[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])",
        )
        .bind::<Array<BigInt>, _>(col(rows, |r| r.integration_id))
        .bind::<Array<Text>, _>(col(rows, |r| r.uid.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.recurrence_id.as_str()))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.start_at))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.end_at))
        .bind::<Array<Bool>, _>(col(rows, |r| r.all_day))
        .bind::<Array<Bool>, _>(col(rows, |r| r.busy))
        .bind::<Array<Text>, _>(col(rows, |r| r.status))
        .bind::<Array<Text>, _>(col(rows, |r| r.summary.as_str()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.tzid.as_deref()))
        .bind::<Array<Text>, _>(col(rows, |r| r.version_hash.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.kind))
        .execute(c)
        .await
        .map(drop)
    }

    pub async fn series(c: &mut AsyncPgConnection, rows: &[SeriesRow]) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO event_series (integration_id, uid, summary, description, location, organizer, attendees, recurrence, tzid, status, \
             transparent, sequence, source_hash, created_at, modified_at, external_id, etag, start_at, end_at, all_day) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::bool[], $12::int8[], $13::text[], $14::timestamp[], $15::timestamp[], $16::text[], $17::text[], $18::int8[], $19::int8[], $20::bool[])",
        )
        .bind::<Array<BigInt>, _>(col(rows, |r| r.integration_id))
        .bind::<Array<Text>, _>(col(rows, |r| r.uid.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.summary.as_str()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.description.as_deref()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.location.as_deref()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.organizer.as_deref()))
        .bind::<Array<Text>, _>(col(rows, |r| r.attendees.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.recurrence.as_str()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.tzid.as_deref()))
        .bind::<Array<Text>, _>(col(rows, |r| r.status))
        .bind::<Array<Bool>, _>(col(rows, |r| r.transparent))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.sequence))
        .bind::<Array<Text>, _>(col(rows, |r| r.source_hash.as_str()))
        .bind::<Array<Timestamp>, _>(col(rows, |r| r.created_at))
        .bind::<Array<Timestamp>, _>(col(rows, |r| r.modified_at))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.external_id.as_deref()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.etag.as_deref()))
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.start_at))
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.end_at))
        .bind::<Array<Bool>, _>(col(rows, |r| r.all_day))
        .execute(c)
        .await
        .map(drop)
    }

    pub async fn history(c: &mut AsyncPgConnection, rows: &[HistoryRow]) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO change_history (integration_id, entity, entity_key, action, actor, run_id, before, after, at) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::text[], $8::text[], $9::timestamp[])",
        )
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.integration_id))
        .bind::<Array<Text>, _>(col(rows, |r| r.entity))
        .bind::<Array<Text>, _>(col(rows, |r| r.entity_key.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.action))
        .bind::<Array<Text>, _>(col(rows, |r| r.actor.as_str()))
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.run_id))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.before.as_deref()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.after.as_deref()))
        .bind::<Array<Timestamp>, _>(col(rows, |r| r.at))
        .execute(c)
        .await
        .map(drop)
    }
}
