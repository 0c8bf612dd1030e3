//! The stored copies of a calendar's events (the spec's MM Calendar Event Sync): series and
//! instances, brought in line with a provider's snapshot by (uid, recurrence id) and version
//! hash, with a change-history row for every create, update and delete.
use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::runs::Counts;
use crate::db::schema::{change_history as ch, event_instances as ei, event_series as es};
use crate::db::Conn;
use crate::domain::Result;
use crate::events::{Instance, Series, Snapshot};
use crate::run;

/// Rows per multi-row INSERT: well under SQLite's 32,766 bound parameters.
const CHUNK: usize = 1000;

/// Multi-row INSERTs of owned rows. diesel-async's SQLite wrapper has no batch insert, so
/// SQLite's run on its blocking thread with diesel's own (one statement per chunk either way).
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        match $conn {
            Conn::Pg(c) => {
                for chunk in rows.chunks(CHUNK) {
                    diesel::insert_into($table).values(chunk).execute(&mut **c).await?;
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

#[derive(Queryable, Selectable)]
#[diesel(table_name = ei)]
struct StoredInstance {
    id: i64,
    uid: String,
    recurrence_id: String,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
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
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
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
            start_at: i.start.naive(),
            end_at: i.end.naive(),
            all_day: i.start.is_date(),
            busy: i.busy(),
            status: i.status.as_str(),
            summary: i.summary.to_string(),
            tzid: i.tzid.as_deref().map(str::to_owned),
            version_hash: i.version_hash(),
        }
    }

    fn history(&self) -> String {
        json!({"start": fmt(self.start_at, self.all_day), "end": fmt(self.end_at, self.all_day), "status": self.status,
               "busy": self.busy, "summary": self.summary})
        .to_string()
    }
}

impl StoredInstance {
    fn history(&self) -> String {
        json!({"start": fmt(self.start_at, self.all_day), "end": fmt(self.end_at, self.all_day), "status": self.status,
               "busy": self.busy, "summary": self.summary})
        .to_string()
    }
}

fn fmt(at: NaiveDateTime, all_day: bool) -> String {
    crate::events::When::from_naive(at, all_day).to_string()
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
        json!({"summary": self.summary, "location": self.location, "recurrence": self.recurrence, "status": self.status,
               "transparent": self.transparent, "sequence": self.sequence})
        .to_string()
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
        json!({"summary": self.summary, "location": self.location, "recurrence": self.recurrence, "status": self.status,
               "transparent": self.transparent, "sequence": self.sequence})
        .to_string()
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
    bulk_insert!(conn, es::table, inserts);
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
    bulk_insert!(conn, ei::table, inserts);
    let gone: Vec<i64> = old.values().map(|i| i.id).collect();
    for i in old.values() {
        history.add("instance", instance_key(&i.uid, &i.recurrence_id), "delete", Some(i.history()), None);
        counts.deleted += 1;
    }
    for chunk in gone.chunks(CHUNK) {
        run!(conn, |c| diesel::delete(ei::table.filter(ei::id.eq_any(chunk))).execute(c).await)?;
    }

    bulk_insert!(conn, ch::table, history.rows);
    Ok(counts)
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
