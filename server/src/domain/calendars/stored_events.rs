//! The stored copies of a calendar's events (the spec's MM Calendar Event Sync): series and
//! instances, brought in line with what a provider answered — a full snapshot (by (uid,
//! recurrence id) and version hash; what it lacks is deleted) or a set of changes (applied as
//! they are, nothing else touched) — with a change-history row for every create, update and
//! delete. Used by the sync engine and by the integration record (deleting a calendar deletes
//! its copies).
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use crate::busy::Rules;
use crate::db::bulk::{self, HistoryRow, InstanceRow, SeriesRow, CHUNK};
use crate::db::schema::{event_instances as ei, event_series as es};
use crate::db::Conn;
use crate::domain::Result;
use crate::events::{Instance, Series, Snapshot, When};
use crate::providers::Change;
use crate::run;

/// The counts of one run's changes to the stored instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: i32,
    pub updated: i32,
    pub deleted: i32,
    pub unchanged: i32,
}

/// The deletion guard (DESIGN.md "Safety of synced data"): a sync — a full snapshot or an
/// incremental set of changes — that would remove more than `ratio` of a calendar's series,
/// and at least `min`, or cancel more than `cancel_min` bookings at once, is held instead of
/// applied. Only series count: a series leaves the store only when its event left the source,
/// never because the window moved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassDelete {
    pub ratio: f64,
    pub min: usize,
    pub cancel_min: usize,
}

impl Default for MassDelete {
    fn default() -> Self {
        MassDelete { ratio: 0.5, min: 20, cancel_min: 5 }
    }
}

impl MassDelete {
    pub fn holds(&self, remove: usize, of: usize) -> bool {
        remove >= self.min && remove as f64 > self.ratio * of as f64
    }

    pub fn holds_cancels(&self, cancel: usize) -> bool {
        cancel > self.cancel_min
    }
}

/// What a sync would remove: the uids of stored series it deletes, of how many stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    pub uids: Vec<String>,
    pub of: usize,
}

/// The stored series a snapshot lacks (it would delete them).
pub async fn removed_by_snapshot(conn: &mut Conn<'_>, integration_id: i64, snapshot: &Snapshot) -> Result<Removal> {
    let stored: Vec<String> = run!(conn, |c| es::table.filter(es::integration_id.eq(integration_id)).select(es::uid).load(c).await)?;
    let present: HashSet<&str> = snapshot.series.iter().map(|s| s.uid.as_str()).collect();
    let of = stored.len();
    Ok(Removal { uids: stored.into_iter().filter(|u| !present.contains(u.as_str())).collect(), of })
}

/// The stored series a set of changes removes (and does not add again later in the list).
pub async fn removed_by_changes(conn: &mut Conn<'_>, integration_id: i64, changes: &[Change]) -> Result<Removal> {
    let mut last: BTreeMap<&str, bool> = BTreeMap::new();
    for change in changes {
        match change {
            Change::SeriesRemoved { uid } => {
                last.insert(uid.as_str(), true);
            }
            Change::Series { series, .. } => {
                last.insert(series.uid.as_str(), false);
            }
            _ => {}
        }
    }
    let gone: Vec<&str> = last.into_iter().filter(|(_, removed)| *removed).map(|(u, _)| u).collect();
    if gone.is_empty() {
        return Ok(Removal::default());
    }
    let uids: Vec<String> = run!(conn, |c| es::table.filter(es::integration_id.eq(integration_id).and(es::uid.eq_any(&gone))).select(es::uid).load(c).await)?;
    let of = run!(conn, |c| es::table.filter(es::integration_id.eq(integration_id)).count().get_result::<i64>(c).await)? as usize;
    Ok(Removal { uids, of })
}

/// Who a sync's changes are recorded as (the history's actor).
#[derive(Debug, Clone)]
pub struct Origin {
    pub run_id: Option<i64>,
    /// The person who lifted the deletion guard for this run.
    pub applied_by: Option<String>,
    pub at: NaiveDateTime,
}

impl Origin {
    fn actor(&self) -> String {
        match &self.applied_by {
            Some(who) => format!("sync (applied by {who})"),
            None => "sync".to_owned(),
        }
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
    kind: String,
}

impl StoredInstance {
    fn key(&self) -> String {
        instance_key(&self.uid, &self.recurrence_id)
    }

    fn history(&self) -> String {
        instance_history(self.start_at, self.end_at, self.all_day, &self.status, &self.kind, self.busy, &self.summary)
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

fn instance_row(integration_id: i64, i: &Instance, rules: &Rules) -> InstanceRow {
    InstanceRow {
        integration_id,
        uid: i.uid.to_string(),
        recurrence_id: i.recurrence_key(),
        start_at: i.start.timestamp(),
        end_at: i.end.timestamp(),
        all_day: i.start.is_date(),
        busy: i.blocks(rules),
        kind: i.kind.as_str(),
        status: i.status.as_str(),
        summary: i.summary.to_string(),
        tzid: i.tzid.as_deref().map(str::to_owned),
        version_hash: i.version_hash(),
    }
}

fn instance_row_history(r: &InstanceRow) -> String {
    instance_history(r.start_at, r.end_at, r.all_day, r.status, r.kind, r.busy, &r.summary)
}

fn series_row(integration_id: i64, s: &Series, at: NaiveDateTime) -> SeriesRow {
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
        external_id: s.external_id.clone(),
        etag: s.etag.clone(),
        start_at: s.start.map(|w| w.timestamp()),
        end_at: s.end.map(|w| w.timestamp()),
        all_day: s.start.is_some_and(|w| w.is_date()),
    }
}

fn series_row_history(r: &SeriesRow) -> String {
    series_history(&r.summary, r.location.as_deref(), &r.recurrence, r.status, r.transparent, r.sequence)
}

/// What the change history keeps of an instance (before and after a change).
#[derive(Serialize)]
struct InstanceState<'a> {
    start: String,
    end: String,
    status: &'a str,
    kind: &'a str,
    busy: bool,
    summary: &'a str,
}

fn instance_history(start_at: i64, end_at: i64, all_day: bool, status: &str, kind: &str, busy: bool, summary: &str) -> String {
    let fmt = |at| When::from_timestamp(at, all_day).to_string();
    let state = InstanceState { start: fmt(start_at), end: fmt(end_at), status, kind, busy, summary };
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

fn instance_key(uid: &str, recurrence_id: &str) -> String {
    if recurrence_id.is_empty() {
        uid.to_owned()
    } else {
        format!("{uid} {recurrence_id}")
    }
}

/// The writes one application collects: updates go out at once (row by row: few), inserts
/// and deletes in bulk at the end, with their history.
struct Writer {
    integration_id: i64,
    /// The calendar's rules: what blocks.
    rules: Rules,
    run_id: Option<i64>,
    actor: String,
    at: NaiveDateTime,
    history: Vec<HistoryRow>,
    counts: Counts,
    series_inserts: Vec<SeriesRow>,
    series_deletes: Vec<i64>,
    instance_inserts: Vec<InstanceRow>,
    instance_deletes: Vec<i64>,
}

impl Writer {
    async fn new(conn: &mut Conn<'_>, integration_id: i64, origin: &Origin) -> Result<Writer> {
        Ok(Writer {
            integration_id,
            rules: crate::domain::busy_rules::rules_of(conn, integration_id).await?,
            run_id: origin.run_id,
            actor: origin.actor(),
            at: origin.at,
            history: Vec::new(),
            counts: Counts::default(),
            series_inserts: Vec::new(),
            series_deletes: Vec::new(),
            instance_inserts: Vec::new(),
            instance_deletes: Vec::new(),
        })
    }

    fn record(&mut self, entity: &'static str, key: String, action: &'static str, before: Option<String>, after: Option<String>) {
        self.history.push(HistoryRow {
            integration_id: Some(self.integration_id),
            entity,
            entity_key: key,
            action,
            actor: self.actor.clone(),
            run_id: self.run_id,
            before,
            after,
            at: self.at,
        });
    }

    /// Brings stored series in line with `given`; with `remove_missing`, stored ones that
    /// `given` lacks are deleted.
    async fn series(&mut self, conn: &mut Conn<'_>, stored: Vec<StoredSeries>, given: &[&Series], remove_missing: bool) -> Result<()> {
        let mut old: HashMap<String, StoredSeries> = stored.into_iter().map(|s| (s.uid.clone(), s)).collect();
        for series in given {
            let row = series_row(self.integration_id, series, self.at);
            match old.remove(&series.uid) {
                None => {
                    self.record("series", series.uid.clone(), "create", None, Some(series_row_history(&row)));
                    self.series_inserts.push(row);
                }
                Some(prev) if prev.source_hash != series.source_hash => {
                    // A new fingerprint of the same visible state (a reader that learned a
                    // field) is written without a history row.
                    let (before, after) = (prev.history(), series_row_history(&row));
                    if before != after {
                        self.record("series", series.uid.clone(), "update", Some(before), Some(after));
                    }
                    run!(conn, |c| diesel::update(es::table.find(prev.id)).set(&row).execute(c).await)?;
                }
                Some(_) => {}
            }
        }
        if remove_missing {
            old.into_values().for_each(|s| self.delete_series(s));
        }
        Ok(())
    }

    fn delete_series(&mut self, s: StoredSeries) {
        self.record("series", s.uid.clone(), "delete", Some(s.history()), None);
        self.series_deletes.push(s.id);
    }

    /// Brings stored instances in line with `given`, as `series` does for series.
    async fn instances(&mut self, conn: &mut Conn<'_>, stored: Vec<StoredInstance>, given: &[&Instance], remove_missing: bool) -> Result<()> {
        let mut old: HashMap<String, StoredInstance> = stored.into_iter().map(|i| (i.key(), i)).collect();
        for instance in given {
            let row = instance_row(self.integration_id, instance, &self.rules);
            let key = instance_key(&row.uid, &row.recurrence_id);
            match old.remove(&key) {
                None => {
                    self.record("instance", key, "create", None, Some(instance_row_history(&row)));
                    self.counts.created += 1;
                    self.instance_inserts.push(row);
                }
                Some(prev) if prev.version_hash != row.version_hash => {
                    let (before, after) = (prev.history(), instance_row_history(&row));
                    if before != after {
                        self.record("instance", key, "update", Some(before), Some(after));
                        self.counts.updated += 1;
                    } else {
                        self.counts.unchanged += 1;
                    }
                    run!(conn, |c| diesel::update(ei::table.find(prev.id)).set(&row).execute(c).await)?;
                }
                Some(_) => self.counts.unchanged += 1,
            }
        }
        if remove_missing {
            old.into_values().for_each(|i| self.delete_instance(i));
        }
        Ok(())
    }

    fn delete_instance(&mut self, i: StoredInstance) {
        self.record("instance", i.key(), "delete", Some(i.history()), None);
        self.counts.deleted += 1;
        self.instance_deletes.push(i.id);
    }

    async fn flush(self, conn: &mut Conn<'_>) -> Result<Counts> {
        bulk::series(conn, self.series_inserts).await?;
        for chunk in self.series_deletes.chunks(CHUNK) {
            run!(conn, |c| diesel::delete(es::table.filter(es::id.eq_any(chunk))).execute(c).await)?;
        }
        bulk::instances(conn, self.instance_inserts).await?;
        for chunk in self.instance_deletes.chunks(CHUNK) {
            run!(conn, |c| diesel::delete(ei::table.filter(ei::id.eq_any(chunk))).execute(c).await)?;
        }
        bulk::history(conn, self.history).await?;
        Ok(self.counts)
    }
}

async fn stored_series(conn: &mut Conn<'_>, integration_id: i64, uids: Option<&[&str]>) -> Result<Vec<StoredSeries>> {
    let Some(uids) = uids else {
        return Ok(run!(conn, |c| es::table.filter(es::integration_id.eq(integration_id)).select(StoredSeries::as_select()).load(c).await)?);
    };
    let mut out = Vec::new();
    for chunk in uids.chunks(CHUNK) {
        out.extend(run!(conn, |c| es::table
            .filter(es::integration_id.eq(integration_id).and(es::uid.eq_any(chunk)))
            .select(StoredSeries::as_select())
            .load(c)
            .await)?);
    }
    Ok(out)
}

async fn stored_instances(conn: &mut Conn<'_>, integration_id: i64, uids: Option<&[&str]>) -> Result<Vec<StoredInstance>> {
    let Some(uids) = uids else {
        return Ok(run!(conn, |c| ei::table.filter(ei::integration_id.eq(integration_id)).select(StoredInstance::as_select()).load(c).await)?);
    };
    let mut out = Vec::new();
    for chunk in uids.chunks(CHUNK) {
        out.extend(run!(conn, |c| ei::table
            .filter(ei::integration_id.eq(integration_id).and(ei::uid.eq_any(chunk)))
            .select(StoredInstance::as_select())
            .load(c)
            .await)?);
    }
    Ok(out)
}

/// Brings the stored copies of `integration_id` in line with `snapshot`: what it lacks is
/// deleted (the engine asks the deletion guard first: [`removed_by_snapshot`]). Call inside a
/// write transaction. Returns the instance counts.
pub async fn apply_snapshot(conn: &mut Conn<'_>, integration_id: i64, origin: &Origin, snapshot: &Snapshot) -> Result<Counts> {
    use diesel::dsl::exists;
    let any = run!(conn, |c| diesel::select(
        exists(es::table.filter(es::integration_id.eq(integration_id))).or(exists(ei::table.filter(ei::integration_id.eq(integration_id))))
    )
    .get_result::<bool>(c)
    .await)?;
    if !any {
        return insert_all(conn, integration_id, origin, snapshot).await;
    }
    let stored = stored_series(conn, integration_id, None).await?;
    let mut w = Writer::new(conn, integration_id, origin).await?;
    w.series(conn, stored, &snapshot.series.iter().collect::<Vec<_>>(), true).await?;
    let stored = stored_instances(conn, integration_id, None).await?;
    w.instances(conn, stored, &snapshot.instances.iter().collect::<Vec<_>>(), true).await?;
    w.flush(conn).await
}

/// What a list of changes comes to for one uid, the later changes winning.
#[derive(Default)]
struct Folded<'a> {
    /// `Some(None)`: the series is gone; `Some(Some(_))`: replaced, with its instances.
    series: Option<Option<&'a Series>>,
    /// Instances by recurrence key: `None` removes it.
    instances: BTreeMap<String, Option<&'a Instance>>,
}

/// Applies a provider's changes as they are: series and instances it names are created,
/// updated or deleted; nothing else is touched. Call inside a write transaction.
pub async fn apply_changes(conn: &mut Conn<'_>, integration_id: i64, origin: &Origin, changes: &[Change]) -> Result<Counts> {
    let mut by_uid: BTreeMap<&str, Folded> = BTreeMap::new();
    for change in changes {
        match change {
            Change::Series { series, instances } => {
                let f = by_uid.entry(series.uid.as_str()).or_default();
                f.series = Some(Some(series));
                f.instances = instances.iter().map(|i| (i.recurrence_key(), Some(i))).collect();
            }
            Change::SeriesRemoved { uid } => {
                let f = by_uid.entry(uid.as_str()).or_default();
                f.series = Some(None);
                f.instances.clear();
            }
            Change::Instance(i) => {
                by_uid.entry(&i.uid).or_default().instances.insert(i.recurrence_key(), Some(i));
            }
            Change::InstanceRemoved { uid, recurrence_id } => {
                let key = recurrence_id.map(|r| r.to_string()).unwrap_or_default();
                by_uid.entry(uid.as_str()).or_default().instances.insert(key, None);
            }
        }
    }
    let uids: Vec<&str> = by_uid.keys().copied().collect();
    let mut stored_s: HashMap<String, StoredSeries> = stored_series(conn, integration_id, Some(&uids)).await?.into_iter().map(|s| (s.uid.clone(), s)).collect();
    let mut stored_i: HashMap<String, Vec<StoredInstance>> = HashMap::new();
    for i in stored_instances(conn, integration_id, Some(&uids)).await? {
        stored_i.entry(i.uid.clone()).or_default().push(i);
    }

    let mut w = Writer::new(conn, integration_id, origin).await?;
    for (uid, folded) in by_uid {
        let old_series = stored_s.remove(uid);
        let old_instances = stored_i.remove(uid).unwrap_or_default();
        match folded.series {
            // Replaced: the series and exactly the instances given (and any later ones).
            Some(Some(series)) => {
                w.series(conn, old_series.into_iter().collect(), &[series], false).await?;
                let given: Vec<&Instance> = folded.instances.values().flatten().copied().collect();
                w.instances(conn, old_instances, &given, true).await?;
            }
            // Gone: the series and every instance of it, except any re-added after.
            Some(None) => {
                if let Some(s) = old_series {
                    w.delete_series(s);
                }
                let given: Vec<&Instance> = folded.instances.values().flatten().copied().collect();
                w.instances(conn, old_instances, &given, true).await?;
            }
            // Single instances: upserted or removed one by one.
            None => {
                let (mut keep, mut remove) = (Vec::new(), Vec::new());
                let mut old: HashMap<String, StoredInstance> = old_instances.into_iter().map(|i| (i.recurrence_id.clone(), i)).collect();
                let mut given = Vec::new();
                for (key, change) in &folded.instances {
                    match (change, old.remove(key)) {
                        (Some(i), prev) => {
                            keep.extend(prev);
                            given.push(*i);
                        }
                        (None, Some(prev)) => remove.push(prev),
                        (None, None) => {}
                    }
                }
                w.instances(conn, keep, &given, false).await?;
                remove.into_iter().for_each(|i| w.delete_instance(i));
            }
        }
    }
    w.flush(conn).await
}

/// Writes a snapshot into an empty store (a first sync): every series and instance is created,
/// each with its history row. The bulk write a first sync is measured against.
pub async fn insert_all(conn: &mut Conn<'_>, integration_id: i64, origin: &Origin, snapshot: &Snapshot) -> Result<Counts> {
    let at = origin.at;
    let mut w = Writer::new(conn, integration_id, origin).await?;
    w.history.reserve(snapshot.series.len() + snapshot.instances.len());
    for s in &snapshot.series {
        let row = series_row(integration_id, s, at);
        w.record("series", s.uid.clone(), "create", None, Some(series_row_history(&row)));
        w.series_inserts.push(row);
    }
    for i in &snapshot.instances {
        let row = instance_row(integration_id, i, &w.rules);
        w.record("instance", instance_key(&row.uid, &row.recurrence_id), "create", None, Some(instance_row_history(&row)));
        w.instance_inserts.push(row);
    }
    w.counts.created = w.instance_inserts.len() as i32;
    w.flush(conn).await
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
