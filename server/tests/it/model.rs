//! A model-based test of two-way sync, on SQLite and PostgreSQL against the provider sandbox:
//! random interleavings of local edits, edits in Google, syncs, faults (a 503, an answer lost
//! after Google committed) and retries, over three bookings, under each conflict policy. After
//! the faults stop and things settle, every booking and its copy agree (or, under ask, an open
//! conflict waits), no booking has a second copy, and every version either side held while
//! calsync could see it is in the history or a conflict record.
//!
//! A fourth booking is a weekly series of three: its occurrences are moved, retitled and
//! cancelled on either side too, and each ends equal to Google's instance.
//!
//! `CALSYNC_MODEL_SEED` replays one sequence; `CALSYNC_MODEL_RUNS` sets how many run (default
//! 24 per database, 6 per policy).
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rand::{rngs::StdRng, Rng, SeedableRng};
use sandbox::{Fault, Sandbox};
use serde_json::{json, Value};
use server::{
    db::schema::{booking_copies as bc, change_history as ch, conflicts as cf},
    domain::{
        bookings::{self as bk, Changes, NewBooking, Outcome},
        conflicts,
        integrations::{self as ig},
        push_queue as copies, Actor,
    },
    run,
    sync::{Engine, Trigger},
};
use testkit::db_test;
use testkit::TestDb;

use crate::common;
use common::*;

const ANA: &str = "ana@example.com";
const POLICIES: [&str; 4] = ["last-write-wins", "prefer-calsync", "prefer-calendar", "ask"];
const BOOKINGS: usize = 3;
const STEPS: usize = 18;

struct World {
    sandbox: Sandbox,
    me: Actor,
    name: String,
    engine: Engine,
    ids: Vec<i64>,
    /// The weekly series.
    series: i64,
    /// The Google account (and calendar) of this sequence: its own, so one sequence's
    /// requests do not spend the next one's rate budget.
    account: String,
}

/// Occurrences of the weekly series.
const OCCURRENCES: i64 = 3;

async fn world(db: &TestDb, me: Actor, policy: &str, seed: u64) -> World {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let account = format!("ana.{seed}@example.com");
    sandbox.with(|s| s.add_account(&account));
    let name = google_calendar(db, &sandbox, me, &account, &account, &format!("Work {policy}"), true, Some(policy)).await;
    let engine = sandbox_engine(db, &sandbox, Duration::from_millis(500));
    let mut c = db.pool.get().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..BOOKINGS {
        let day = (Utc::now().date_naive() + Days::days(2 + i as i64)).format("%Y-%m-%d").to_string();
        let new = NewBooking {
            title: format!("B{i}"),
            start: format!("{day} 10:00"),
            end: format!("{day} 11:00"),
            time_zone: "UTC".into(),
            allow_conflict: true,
            ..NewBooking::default()
        };
        match bk::create(&mut c.conn(), me, ANA, new).await.unwrap() {
            Outcome::Booked(b) => ids.push(b.id),
            Outcome::Busy(x) => panic!("{x:?}"),
        }
    }
    let day = (Utc::now().date_naive() + Days::days(2)).format("%Y-%m-%d").to_string();
    let weekly = NewBooking {
        title: "S".into(),
        start: format!("{day} 14:00"),
        end: format!("{day} 15:00"),
        time_zone: "UTC".into(),
        recurrence: Some(format!("RRULE:FREQ=WEEKLY;COUNT={OCCURRENCES}")),
        allow_conflict: true,
        ..NewBooking::default()
    };
    let Outcome::Booked(series) = bk::create(&mut c.conn(), me, ANA, weekly).await.unwrap() else { panic!("the series is refused") };
    drop(c);
    for id in ids.iter().chain([&series.id]) {
        engine.push_booking(*id).await.unwrap();
    }
    World { sandbox, me, name, engine, ids, series: series.id, account }
}

async fn copy(db: &TestDb, id: i64) -> copies::CopyView {
    let mut c = db.pool.get().await.unwrap();
    copies::of(&mut c.conn(), &[id]).await.unwrap().remove(0)
}

fn live_events(w: &World, id: i64) -> Vec<Value> {
    w.sandbox.with(|s| {
        s.calendars[&w.account]
            .events
            .values()
            .map(|(e, _)| e.clone())
            .filter(|e| {
                e["extendedProperties"]["private"]["calsyncBooking"].as_str() == Some(id.to_string().as_str())
                    && e["status"] != "cancelled"
                    && e.get("recurringEventId").is_none()
            })
            .collect()
    })
}

/// The n-th occurrence's original start.
fn original(b: &bk::Booking, n: i64) -> chrono::DateTime<Utc> {
    b.start.and_utc() + Days::days(7 * n)
}

fn instance_id(master: &str, at: chrono::DateTime<Utc>) -> String {
    format!("{master}_{}", at.format("%Y%m%dT%H%M%SZ"))
}

/// An occurrence as (cancelled, title, start), in calsync and in Google.
fn occurrence_here(b: &bk::Booking, n: i64) -> (bool, String, chrono::DateTime<Utc>) {
    let at = original(b, n);
    let o = b.exceptions.get(&server::providers::write::occurrence_key(at)).cloned().unwrap_or_default();
    let (title, start, _) = o.resolve(at, &b.title, b.end - b.start);
    (o.cancelled, if o.cancelled { String::new() } else { title }, if o.cancelled { at } else { start })
}

fn occurrence_there(w: &World, master: &Value, at: chrono::DateTime<Utc>) -> (bool, String, chrono::DateTime<Utc>) {
    let id = instance_id(master["id"].as_str().unwrap(), at);
    let time = |e: &Value| chrono::DateTime::parse_from_rfc3339(e["start"]["dateTime"].as_str().unwrap()).unwrap().to_utc();
    match w.sandbox.with(|s| s.calendars[&w.account].events.get(&id).map(|(e, _)| e.clone())) {
        Some(e) if e["status"] == "cancelled" => (true, String::new(), at),
        Some(e) => (false, e["summary"].as_str().unwrap_or_default().to_string(), time(&e)),
        None => (false, master["summary"].as_str().unwrap_or_default().to_string(), at),
    }
}

async fn make_due(db: &TestDb) {
    let mut p = db.pool.get().await.unwrap();
    let at = Utc::now().naive_utc() - Days::seconds(1);
    run!(&mut p.conn(), |c| diesel::update(bc::table.filter(bc::due_at.is_not_null())).set(bc::due_at.eq(Some(at))).execute(c).await).unwrap();
}

/// Everything the history and the conflict records hold, as one text.
async fn recorded(db: &TestDb) -> String {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let rows: Vec<(Option<String>, Option<String>)> = run!(&mut c, |cc| ch::table.select((ch::before, ch::after)).load(cc).await).unwrap();
    let kept: Vec<(String, Option<String>)> = run!(&mut c, |cc| cf::table.select((cf::local, cf::remote)).load(cc).await).unwrap();
    let mut all = String::new();
    for (b, a) in rows {
        all.push_str(&b.unwrap_or_default());
        all.push_str(&a.unwrap_or_default());
    }
    for (l, r) in kept {
        all.push_str(&l);
        all.push_str(&r.unwrap_or_default());
    }
    all
}

/// One random sequence; answers what it did, for the failure message.
async fn sequence(db: &TestDb, me: Actor, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let policy = POLICIES[(seed % 4) as usize];
    let w = world(db, me, policy, seed).await;
    let mut log = vec![format!("seed {seed}, policy {policy}")];
    // The titles either side held while calsync could see them.
    let mut versions: Vec<String> = (0..BOOKINGS).map(|i| format!("B{i}")).collect();
    let mut remote_now: Vec<Option<String>> = vec![None; BOOKINGS];
    // The same for the series' occurrences: the last title each got in Google before a sync.
    let mut remote_occ: Vec<Option<String>> = vec![None; OCCURRENCES as usize];
    for step in 0..STEPS {
        let i = rng.random_range(0..BOOKINGS);
        let id = w.ids[i];
        match rng.random_range(0..13) {
            10 => {
                // One occurrence of the series changed in calsync: retitled, moved, or cancelled.
                let n = rng.random_range(0..OCCURRENCES);
                let b = {
                    let mut c = db.pool.get().await.unwrap();
                    bk::get(&mut c.conn(), w.me, w.series).await.unwrap()
                };
                let key = server::providers::write::occurrence_key(original(&b, n));
                let title = format!("LO{step}-{n}");
                let cancel = rng.random_bool(0.25);
                let done = if cancel {
                    let mut c = db.pool.get().await.unwrap();
                    bk::cancel_occurrence(&mut c.conn(), w.me, w.series, &key, ANA, Some(b.version)).await.map(|_| ())
                } else {
                    let shift = rng.random_range(0..2i64);
                    let (_, _, start) = occurrence_here(&b, n);
                    let changes = bk::OccurrenceChanges {
                        version: b.version,
                        title: Some(title.clone()),
                        start: Some((start + Days::hours(shift)).to_rfc3339()),
                        end: Some((start + Days::hours(shift + 1)).to_rfc3339()),
                        allow_conflict: true,
                    };
                    let mut c = db.pool.get().await.unwrap();
                    bk::change_occurrence(&mut c.conn(), w.me, w.series, &key, ANA, changes).await.map(|_| ())
                };
                let what = if cancel { "cancel".to_string() } else { format!("edit to {title}") };
                log.push(format!("{step}: local occurrence {what} of {n}: {}", if done.is_ok() { "ok" } else { "refused" }));
                if done.is_ok() {
                    if !cancel {
                        versions.push(title);
                    }
                    w.engine.push_booking(w.series).await.unwrap();
                }
            }
            11 | 12 => {
                // One occurrence changed in Google: retitled and maybe moved, or deleted.
                let Some(master_id) = copy(db, w.series).await.external_id else { continue };
                let n = rng.random_range(0..OCCURRENCES);
                let b = {
                    let mut c = db.pool.get().await.unwrap();
                    bk::get(&mut c.conn(), w.me, w.series).await.unwrap()
                };
                let at = original(&b, n);
                let id = instance_id(&master_id, at);
                let title = format!("RO{step}-{n}");
                let cancel = rng.random_bool(0.25);
                let shift = rng.random_range(0..2i64);
                let changed = w.sandbox.with(|s| {
                    let Some((master, _)) = s.calendars[&w.account].events.get(&master_id).cloned() else { return false };
                    if master["status"] == "cancelled" {
                        return false;
                    }
                    let mut e = s.calendars[&w.account].events.get(&id).map(|(e, _)| e.clone()).unwrap_or_else(|| {
                        let mut e = master.clone();
                        e.as_object_mut().unwrap().remove("recurrence");
                        e["recurringEventId"] = json!(master_id);
                        e["originalStartTime"] = json!({"dateTime": at.to_rfc3339(), "timeZone": "UTC"});
                        e["start"] = json!({"dateTime": at.to_rfc3339(), "timeZone": "UTC"});
                        e["end"] = json!({"dateTime": (at + Days::hours(1)).to_rfc3339(), "timeZone": "UTC"});
                        e
                    });
                    if e["status"] == "cancelled" {
                        return false;
                    }
                    e["summary"] = json!(title);
                    for k in ["start", "end"] {
                        let t = chrono::DateTime::parse_from_rfc3339(e[k]["dateTime"].as_str().unwrap()).unwrap().to_utc() + Days::hours(shift);
                        e[k] = json!({"dateTime": t.to_rfc3339(), "timeZone": "UTC"});
                    }
                    s.put_event(&w.account, &id, e);
                    if cancel {
                        s.delete_event(&w.account, &id);
                    }
                    true
                });
                log.push(format!(
                    "{step}: remote occurrence {} of {n}{}",
                    if cancel { "deletion" } else { "edit" },
                    if cancel { String::new() } else { format!(" to {title} (+{shift} h)") }
                ));
                if changed {
                    remote_occ[n as usize] = (!cancel).then_some(title);
                }
            }
            0..=2 => {
                let title = format!("L{step}-{i}");
                let b = {
                    let mut c = db.pool.get().await.unwrap();
                    bk::get(&mut c.conn(), w.me, id).await.unwrap()
                };
                let shift = rng.random_range(0..2i64);
                let changes = Changes {
                    version: b.version,
                    title: Some(title.clone()),
                    start: Some((b.start.and_utc() + Days::hours(shift)).to_rfc3339()),
                    end: Some((b.end.and_utc() + Days::hours(shift)).to_rfc3339()),
                    allow_conflict: true,
                    ..Changes::default()
                };
                let done = {
                    let mut c = db.pool.get().await.unwrap();
                    bk::update(&mut c.conn(), w.me, id, ANA, changes).await
                };
                log.push(format!("{step}: local edit of {i} to {title} (+{shift} h): {}", if done.is_ok() { "ok" } else { "refused" }));
                if done.is_ok() {
                    versions.push(title);
                    w.engine.push_booking(id).await.unwrap();
                }
            }
            3..=5 => {
                let Some(event_id) = copy(db, id).await.external_id else { continue };
                let title = format!("R{step}-{i}");
                let shift = rng.random_range(0..2i64);
                let changed = w.sandbox.with(|s| {
                    let Some((mut e, _)) = s.calendars[&w.account].events.get(&event_id).cloned() else { return false };
                    e["summary"] = json!(title);
                    if shift > 0 {
                        for k in ["start", "end"] {
                            let t = chrono::DateTime::parse_from_rfc3339(e[k]["dateTime"].as_str().unwrap()).unwrap().to_utc() + Days::hours(shift);
                            e[k] = json!({"dateTime": t.to_rfc3339(), "timeZone": "UTC"});
                        }
                    }
                    s.put_event(&w.account, &event_id, e).is_some()
                });
                log.push(format!("{step}: remote edit of {i} to {title} (+{shift} h)"));
                if changed {
                    remote_now[i] = Some(title);
                }
            }
            6 | 7 => {
                let run = w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
                log.push(format!("{step}: sync {}{}", run.status, run.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()));
                if run.status == "Success" {
                    versions.extend(remote_now.iter_mut().chain(remote_occ.iter_mut()).filter_map(|r| r.take()));
                }
            }
            8 => {
                make_due(db).await;
                let n = w.engine.push_due().await.unwrap();
                log.push(format!("{step}: retry ({n} due)"));
            }
            _ => {
                let lost = rng.random_bool(0.5);
                let fault = Fault {
                    path: "/events".into(),
                    status: if lost { 0 } else { 503 },
                    body: None,
                    retry_after: None,
                    delay_ms: None,
                    times: rng.random_range(1..4),
                    after: lost,
                };
                log.push(format!("{step}: fault {} ×{}", if lost { "answer lost after commit" } else { "503" }, fault.times));
                w.sandbox.with(|s| s.faults.push(fault));
            }
        }
    }
    // The faults stop; retries and syncs settle it.
    w.sandbox.with(|s| s.faults.clear());
    for _ in 0..4 {
        make_due(db).await;
        w.engine.push_due().await.unwrap();
        let run = w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
        assert_eq!(run.status, "Success", "{log:#?}");
        versions.extend(remote_now.iter_mut().chain(remote_occ.iter_mut()).filter_map(|r| r.take()));
    }
    for (i, id) in w.ids.iter().enumerate() {
        let events = live_events(&w, *id);
        assert_eq!(events.len(), 1, "booking {i} has {} copies: {log:#?}", events.len());
        let b = {
            let mut c = db.pool.get().await.unwrap();
            bk::get(&mut c.conn(), w.me, *id).await.unwrap()
        };
        let open = {
            let mut c = db.pool.get().await.unwrap();
            conflicts::list(&mut c.conn(), w.me, None, Some(*id), Some(conflicts::ConflictState::Open)).await.unwrap()
        };
        if !open.is_empty() {
            assert_eq!(policy, "ask", "only ask leaves a conflict open: {log:#?}");
            continue;
        }
        let e = &events[0];
        let start = chrono::DateTime::parse_from_rfc3339(e["start"]["dateTime"].as_str().unwrap()).unwrap().to_utc();
        assert_eq!(
            (b.title.as_str(), b.start.and_utc()),
            (e["summary"].as_str().unwrap(), start),
            "booking {i} and its copy differ: {:?}\n{log:#?}",
            copy(db, *id).await
        );
    }
    // The series: one master, and each occurrence as calsync has it.
    let masters = live_events(&w, w.series);
    assert_eq!(masters.len(), 1, "the series has {} copies: {log:#?}", masters.len());
    let b = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), w.me, w.series).await.unwrap()
    };
    let open = {
        let mut c = db.pool.get().await.unwrap();
        conflicts::list(&mut c.conn(), w.me, None, Some(w.series), Some(conflicts::ConflictState::Open)).await.unwrap()
    };
    if open.is_empty() {
        assert_eq!(b.title, masters[0]["summary"].as_str().unwrap(), "the series' title: {log:#?}");
        for n in 0..OCCURRENCES {
            assert_eq!(occurrence_here(&b, n), occurrence_there(&w, &masters[0], original(&b, n)), "occurrence {n} differs: {:?}\n{log:#?}", b.exceptions);
        }
    } else {
        assert_eq!(policy, "ask", "only ask leaves a conflict open: {log:#?}");
    }
    let all = recorded(db).await;
    for v in &versions {
        assert!(all.contains(&format!("\"{v}\"")), "the version '{v}' is nowhere in the history: {log:#?}");
    }
    // The next sequence starts from a clean slate: this one's bookings and calendar go.
    let mut c = db.pool.get().await.unwrap();
    for id in w.ids.iter().chain([&w.series]) {
        let _ = bk::cancel(&mut c.conn(), w.me, *id, ANA).await;
    }
    ig::delete(&mut c.conn(), w.me, &w.name).await.unwrap();
    log
}

db_test!(random_interleavings_always_end_with_both_sides_equal_and_nothing_lost, |db| {
    let runs: u64 = std::env::var("CALSYNC_MODEL_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(24);
    let seeds: Vec<u64> = match std::env::var("CALSYNC_MODEL_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => (0..runs).map(|n| 1000 + n).collect(),
    };
    let me = user(&db, ANA).await;
    let mut log = Vec::new();
    for seed in &seeds {
        log.extend(sequence(&db, me, *seed).await);
    }
    let count = |what: &str| log.iter().filter(|l| l.contains(what)).count();
    let made: i64 = {
        let mut p = db.pool.get().await.unwrap();
        run!(&mut p.conn(), |c| cf::table.count().get_result(c).await).unwrap()
    };
    eprintln!(
        "model: {} sequences, {} steps: {} local edits ({} of one occurrence), {} remote edits ({} of one occurrence), {} syncs, {} faults, {} retries; {made} conflicts recorded; all settled",
        seeds.len(),
        log.len() - seeds.len(),
        count("local edit") + count("local occurrence"),
        count("local occurrence"),
        count("remote edit") + count("remote occurrence"),
        count("remote occurrence"),
        count(": sync"),
        count("fault"),
        count("retry"),
    );
});
