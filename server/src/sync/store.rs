//! The stored copies of a calendar's events (the spec's MM Calendar Event Sync): series and
//! instances, brought in line with a provider's snapshot by (uid, recurrence id) and version
//! hash, with a change-history row for every create, update and delete.
use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use super::runs::Counts;
use crate::db::schema::{change_history as ch, event_instances as ei, event_series as es};
use crate::db::Conn;
use crate::domain::Result;
use crate::events::{Instance, Series, Snapshot};
use crate::run;

/// Rows per multi-row INSERT on SQLite: well under its 32,766 bound parameters.
const CHUNK: usize = 1000;
/// Rows per UNNEST insert on PostgreSQL.
const PG_CHUNK: usize = 20_000;

/// Bulk inserts. SQLite: multi-row INSERTs on the connection's blocking thread (diesel-async's
/// SQLite wrapper has no batch insert). PostgreSQL: `INSERT … SELECT FROM UNNEST(arrays)`, one
/// statement per 20,000 rows (multi-row VALUES are planned anew per statement and were 3×
/// slower).
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
    }};
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
            "INSERT INTO event_instances (integration_id, uid, recurrence_id, start_at, end_at, all_day, busy, status, summary, tzid, version_hash) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::bool[], $7::bool[], $8::text[], $9::text[], $10::text[], $11::text[])",
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
        .execute(c)
        .await
        .map(drop)
    }

    pub async fn series(c: &mut AsyncPgConnection, rows: &[SeriesRow]) -> QueryResult<()> {
        diesel::sql_query(
            "INSERT INTO event_series (integration_id, uid, summary, description, location, organizer, attendees, recurrence, tzid, status, \
             transparent, sequence, source_hash, created_at, modified_at) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::bool[], $12::int8[], $13::text[], $14::timestamp[], $15::timestamp[])",
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
        .bind::<Array<Text>, _>(col(rows, |r| r.actor))
        .bind::<Array<Nullable<BigInt>>, _>(col(rows, |r| r.run_id))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.before.as_deref()))
        .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.after.as_deref()))
        .bind::<Array<Timestamp>, _>(col(rows, |r| r.at))
        .execute(c)
        .await
        .map(drop)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ei)]
struct StoredInstance {
    id: i64,
    uid: String,
    recurrence_id: String,
    start_at: i64,
    end_at: i64,
    all_day: bool,
    busy: bool,
    status: String,
    summary: String,
    version_hash: String,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = ei, treat_none_as_null = true, treat_none_as_default_value = false)]
struct InstanceRow {
    integration_id: i64,
    uid: String,
    recurrence_id: String,
    start_at: i64,
    end_at: i64,
    all_day: bool,
    busy: bool,
    status: &'static str,
    summary: String,
    tzid: Option<String>,
    version_hash: String,
}

impl InstanceRow {
    fn of(integration_id: i64, i: &Instance) -> Self {
        InstanceRow {
            integration_id,
            uid: i.uid.to_string(),
            recurrence_id: i.recurrence_key(),
            start_at: i.start.timestamp(),
            end_at: i.end.timestamp(),
            all_day: i.start.is_date(),
            busy: i.busy(),
            status: i.status.as_str(),
            summary: i.summary.to_string(),
            tzid: i.tzid.as_deref().map(str::to_owned),
            version_hash: i.version_hash(),
        }
    }

    fn history(&self) -> String {
        instance_history(self.start_at, self.end_at, self.all_day, &self.status, self.busy, &self.summary)
    }
}

impl StoredInstance {
    fn history(&self) -> String {
        instance_history(self.start_at, self.end_at, self.all_day, &self.status, self.busy, &self.summary)
    }
}

fn fmt(at: i64, all_day: bool) -> String {
    crate::events::When::from_timestamp(at, all_day).to_string()
}

/// What the change history keeps of an instance (before and after a change).
#[derive(Serialize)]
struct InstanceState<'a> {
    start: String,
    end: String,
    status: &'a str,
    busy: bool,
    summary: &'a str,
}

fn instance_history(start_at: i64, end_at: i64, all_day: bool, status: &str, busy: bool, summary: &str) -> String {
    let state = InstanceState { start: fmt(start_at, all_day), end: fmt(end_at, all_day), status, busy, summary };
    serde_json::to_string(&state).unwrap_or_default()
}

/// What the change history keeps of a series.
#[derive(Serialize)]
struct SeriesState<'a> {
    summary: &'a str,
    location: Option<&'a str>,
    recurrence: &'a str,
    status: &'a str,
    transparent: bool,
    sequence: i64,
}

fn series_history(summary: &str, location: Option<&str>, recurrence: &str, status: &str, transparent: bool, sequence: i64) -> String {
    serde_json::to_string(&SeriesState { summary, location, recurrence, status, transparent, sequence }).unwrap_or_default()
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = es, treat_none_as_null = true, treat_none_as_default_value = false)]
struct SeriesRow {
    integration_id: i64,
    uid: String,
    summary: String,
    description: Option<String>,
    location: Option<String>,
    organizer: Option<String>,
    attendees: String,
    recurrence: String,
    tzid: Option<String>,
    status: &'static str,
    transparent: bool,
    sequence: i64,
    source_hash: String,
    #[diesel(skip_update)]
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
}

impl SeriesRow {
    fn of(integration_id: i64, s: &Series, at: NaiveDateTime) -> Self {
        SeriesRow {
            integration_id,
            uid: s.uid.clone(),
            summary: s.summary.clone(),
            description: s.description.clone(),
            location: s.location.clone(),
            organizer: s.organizer.clone(),
            attendees: s.attendees.join("\n"),
            recurrence: s.recurrence.clone(),
            tzid: s.tzid.clone(),
            status: s.status.as_str(),
            transparent: s.transparent,
            sequence: s.sequence,
            source_hash: s.source_hash.clone(),
            created_at: at,
            modified_at: at,
        }
    }

    fn history(&self) -> String {
        series_history(&self.summary, self.location.as_deref(), &self.recurrence, &self.status, self.transparent, self.sequence)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = es)]
struct StoredSeries {
    id: i64,
    uid: String,
    summary: String,
    location: Option<String>,
    recurrence: String,
    status: String,
    transparent: bool,
    sequence: i64,
    source_hash: String,
}

impl StoredSeries {
    fn history(&self) -> String {
        series_history(&self.summary, self.location.as_deref(), &self.recurrence, &self.status, self.transparent, self.sequence)
    }
}

#[derive(Insertable)]
#[diesel(table_name = ch, treat_none_as_default_value = false)]
struct HistoryRow {
    integration_id: Option<i64>,
    entity: &'static str,
    entity_key: String,
    action: &'static str,
    actor: &'static str,
    run_id: Option<i64>,
    before: Option<String>,
    after: Option<String>,
    at: NaiveDateTime,
}

struct History {
    integration_id: i64,
    run_id: Option<i64>,
    at: NaiveDateTime,
    rows: Vec<HistoryRow>,
}

impl History {
    fn add(&mut self, entity: &'static str, key: String, action: &'static str, before: Option<String>, after: Option<String>) {
        self.rows.push(HistoryRow {
            integration_id: Some(self.integration_id),
            entity,
            entity_key: key,
            action,
            actor: "sync",
            run_id: self.run_id,
            before,
            after,
            at: self.at,
        });
    }
}

fn instance_key(uid: &str, recurrence_id: &str) -> String {
    if recurrence_id.is_empty() { uid.to_owned() } else { format!("{uid} {recurrence_id}") }
}

/// Brings the stored copies of `integration_id` in line with `snapshot`. Call inside a write
/// transaction. Returns the instance counts.
pub async fn apply(conn: &mut Conn<'_>, integration_id: i64, run_id: Option<i64>, snapshot: &Snapshot, at: NaiveDateTime) -> Result<Counts> {
    let any_series = run!(conn, |c| es::table.filter(es::integration_id.eq(integration_id)).select(es::id).first::<i64>(c).await.optional())?;
    let any_instance = run!(conn, |c| ei::table.filter(ei::integration_id.eq(integration_id)).select(ei::id).first::<i64>(c).await.optional())?;
    if any_series.is_none() && any_instance.is_none() {
        return insert_all(conn, integration_id, run_id, snapshot, at).await;
    }
    let mut history = History { integration_id, run_id, at, rows: Vec::new() };

    // Series.
    let stored: Vec<StoredSeries> =
        run!(conn, |c| es::table.filter(es::integration_id.eq(integration_id)).select(StoredSeries::as_select()).load(c).await)?;
    let mut old: HashMap<&str, &StoredSeries> = stored.iter().map(|s| (s.uid.as_str(), s)).collect();
    let mut inserts = Vec::new();
    for series in &snapshot.series {
        let row = SeriesRow::of(integration_id, series, at);
        match old.remove(series.uid.as_str()) {
            None => {
                history.add("series", series.uid.clone(), "create", None, Some(row.history()));
                inserts.push(row);
            }
            Some(prev) if prev.source_hash != series.source_hash => {
                history.add("series", series.uid.clone(), "update", Some(prev.history()), Some(row.history()));
                run!(conn, |c| diesel::update(es::table.find(prev.id)).set(&row).execute(c).await)?;
            }
            Some(_) => {}
        }
    }
    bulk_insert!(conn, es::table, inserts, pg::series);
    let gone: Vec<i64> = old.values().map(|s| s.id).collect();
    for s in old.values() {
        history.add("series", s.uid.clone(), "delete", Some(s.history()), None);
    }
    for chunk in gone.chunks(CHUNK) {
        run!(conn, |c| diesel::delete(es::table.filter(es::id.eq_any(chunk))).execute(c).await)?;
    }

    // Instances.
    let stored: Vec<StoredInstance> =
        run!(conn, |c| ei::table.filter(ei::integration_id.eq(integration_id)).select(StoredInstance::as_select()).load(c).await)?;
    let mut old: HashMap<String, &StoredInstance> =
        stored.iter().map(|i| (instance_key(&i.uid, &i.recurrence_id), i)).collect();
    let mut counts = Counts::default();
    let mut inserts = Vec::new();
    for instance in &snapshot.instances {
        let row = InstanceRow::of(integration_id, instance);
        let key = instance_key(&row.uid, &row.recurrence_id);
        match old.remove(&key) {
            None => {
                history.add("instance", key, "create", None, Some(row.history()));
                counts.created += 1;
                inserts.push(row);
            }
            Some(prev) if prev.version_hash != row.version_hash => {
                history.add("instance", key, "update", Some(prev.history()), Some(row.history()));
                counts.updated += 1;
                run!(conn, |c| diesel::update(ei::table.find(prev.id)).set(&row).execute(c).await)?;
            }
            Some(_) => counts.unchanged += 1,
        }
    }
    bulk_insert!(conn, ei::table, inserts, pg::instances);
    let gone: Vec<i64> = old.values().map(|i| i.id).collect();
    for i in old.values() {
        history.add("instance", instance_key(&i.uid, &i.recurrence_id), "delete", Some(i.history()), None);
        counts.deleted += 1;
    }
    for chunk in gone.chunks(CHUNK) {
        run!(conn, |c| diesel::delete(ei::table.filter(ei::id.eq_any(chunk))).execute(c).await)?;
    }

    bulk_insert!(conn, ch::table, history.rows, pg::history);
    Ok(counts)
}

/// Writes a snapshot into an empty store (a first sync): every series and instance is created,
/// each with its history row. The bulk write a first sync is measured against.
pub async fn insert_all(conn: &mut Conn<'_>, integration_id: i64, run_id: Option<i64>, snapshot: &Snapshot, at: NaiveDateTime) -> Result<Counts> {
    let mut history = History { integration_id, run_id, at, rows: Vec::with_capacity(snapshot.series.len() + snapshot.instances.len()) };
    let series: Vec<SeriesRow> = snapshot
        .series
        .iter()
        .map(|s| {
            let row = SeriesRow::of(integration_id, s, at);
            history.add("series", s.uid.clone(), "create", None, Some(row.history()));
            row
        })
        .collect();
    let instances: Vec<InstanceRow> = snapshot
        .instances
        .iter()
        .map(|i| {
            let row = InstanceRow::of(integration_id, i);
            history.add("instance", instance_key(&row.uid, &row.recurrence_id), "create", None, Some(row.history()));
            row
        })
        .collect();
    let created = instances.len() as i32;
    bulk_insert!(conn, es::table, series, pg::series);
    bulk_insert!(conn, ei::table, instances, pg::instances);
    bulk_insert!(conn, ch::table, history.rows, pg::history);
    Ok(Counts { created, ..Counts::default() })
}

/// Deletes every stored copy of a calendar's events (its change history stays).
pub async fn delete_all(conn: &mut Conn<'_>, integration_id: i64) -> Result<()> {
    run!(conn, |c| diesel::delete(ei::table.filter(ei::integration_id.eq(integration_id))).execute(c).await)?;
    run!(conn, |c| diesel::delete(es::table.filter(es::integration_id.eq(integration_id))).execute(c).await)?;
    Ok(())
}

/// How many instances are stored for an integration.
pub async fn instance_count(conn: &mut Conn<'_>, integration_id: i64) -> Result<i64> {
    Ok(run!(conn, |c| ei::table.filter(ei::integration_id.eq(integration_id)).count().get_result(c).await)?)
}

/// One change-history row as pages show it.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct Change {
    pub id: i64,
    pub entity: String,
    pub entity_key: String,
    pub action: String,
    pub actor: String,
    pub run_id: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub at: NaiveDateTime,
}

/// The newest change-history rows of an integration.
pub async fn changes(conn: &mut Conn<'_>, integration_id: i64, limit: i64) -> Result<Vec<Change>> {
    Ok(run!(conn, |c| ch::table
        .filter(ch::integration_id.eq(integration_id))
        .order(ch::id.desc())
        .limit(limit)
        .select((ch::id, ch::entity, ch::entity_key, ch::action, ch::actor, ch::run_id, ch::before, ch::after, ch::at))
        .load(c)
        .await)?)
}
