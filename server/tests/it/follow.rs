//! Following the calendar against the provider sandbox, on SQLite and PostgreSQL: a booking's
//! copy moved, edited or deleted in Google Calendar is merged at the next sync under each
//! conflict policy; simultaneous edits make a conflict with the right base, local and remote.
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use sandbox::Sandbox;
use serde_json::{json, Value};
use server::{
    domain::{
        bookings::{self as bk, Changes, NewBooking, Outcome},
        conflicts,
        integrations::{self as ig, Patch},
        push_queue as copies, Actor,
    },
    sync::{Engine, Trigger},
};
use testkit::db_test;
use testkit::TestDb;

use crate::common;
use common::*;

const ANA: &str = "ana@example.com";

struct World {
    sandbox: Sandbox,
    me: Actor,
    name: String,
    engine: Engine,
}

async fn setup(db: &TestDb, policy: &str) -> World {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let me = user(db, ANA).await;
    let name = google_calendar(db, &sandbox, me, ANA, ANA, "Work", true, Some(policy)).await;
    let engine = sandbox_engine(db, &sandbox, Duration::from_secs(5));
    World { sandbox, me, name, engine }
}

fn local(days: i64, hour: u32) -> String {
    format!("{} {hour:02}:00", (Utc::now().date_naive() + Days::days(days)).format("%Y-%m-%d"))
}

fn utc(days: i64, hour: u32) -> chrono::DateTime<Utc> {
    (Utc::now().date_naive() + Days::days(days)).and_hms_opt(hour, 0, 0).unwrap().and_utc()
}

/// A booking written to the calendar and synced back (the copy is current on both sides).
async fn booked(db: &TestDb, w: &World, title: &str) -> (bk::Booking, String) {
    written(
        db,
        w,
        NewBooking {
            title: title.into(),
            start: local(2, 10),
            end: local(2, 11),
            time_zone: "UTC".into(),
            location: Some("Room 1".into()),
            allow_conflict: true,
            ..NewBooking::default()
        },
    )
    .await
}

/// `new` booked, written to the calendar and synced back; with its event's id.
async fn written(db: &TestDb, w: &World, new: NewBooking) -> (bk::Booking, String) {
    let b = {
        let mut c = db.pool.get().await.unwrap();
        match bk::create(&mut c.conn(), w.me, ANA, new).await.unwrap() {
            Outcome::Booked(b) => b,
            Outcome::Busy(x) => panic!("{x:?}"),
        }
    };
    w.engine.push_booking(b.id).await.unwrap();
    w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
    let id = copy(db, b.id).await.external_id.unwrap();
    (b, id)
}

async fn copy(db: &TestDb, booking: i64) -> copies::CopyView {
    let mut c = db.pool.get().await.unwrap();
    copies::of(&mut c.conn(), &[booking]).await.unwrap().remove(0)
}

async fn booking(db: &TestDb, me: Actor, id: i64) -> bk::Booking {
    let mut c = db.pool.get().await.unwrap();
    bk::get(&mut c.conn(), me, id).await.unwrap()
}

async fn conflicts_of(db: &TestDb, me: Actor, id: i64) -> Vec<conflicts::Conflict> {
    let mut c = db.pool.get().await.unwrap();
    conflicts::list(&mut c.conn(), me, None, Some(id), None).await.unwrap()
}

/// A person edits the event in Google Calendar.
fn edit(sandbox: &Sandbox, id: &str, change: Value) {
    sandbox.with(|s| {
        let mut e = s.calendars[ANA].events[id].0.clone();
        for (k, v) in change.as_object().unwrap() {
            e[k] = v.clone();
        }
        s.put_event(ANA, id, e).unwrap();
    });
}

fn event(sandbox: &Sandbox, id: &str) -> Value {
    sandbox.with(|s| s.calendars[ANA].events[id].0.clone())
}

fn at(t: chrono::DateTime<Utc>) -> Value {
    json!({"dateTime": t.to_rfc3339(), "timeZone": "UTC"})
}

async fn sync(w: &World) {
    w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
}

db_test!(last_write_wins_takes_a_move_made_in_the_calendar, |db| {
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked(&db, &w, "Review").await;
    edit(&w.sandbox, &id, json!({"start": at(utc(2, 14)), "end": at(utc(2, 15)), "summary": "Review (moved by Ana)"}));
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert_eq!((now.start.and_utc(), now.end.and_utc(), now.title.as_str(), now.version), (utc(2, 14), utc(2, 15), "Review (moved by Ana)", b.version + 1));
    assert_eq!(now.location.as_deref(), Some("Room 1"), "what the calendar did not change stays");
    assert!(conflicts_of(&db, w.me, b.id).await.is_empty(), "one side changed: no conflict");
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
    // A second sync changes nothing more.
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.version, b.version + 1);
    let history = count_history(&db, "update").await;
    assert!(history >= 1);

    // Deleted in the calendar: the booking is cancelled.
    w.sandbox.with(|s| s.delete_event(ANA, &id));
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.status, "cancelled");
    let c = copy(&db, b.id).await;
    assert_eq!(c.note.as_deref(), Some("Deleted in 'Work': the booking was cancelled."));
    assert!(conflicts_of(&db, w.me, b.id).await.is_empty());
});

db_test!(prefer_calsync_restores_the_copy_and_keeps_the_change_in_a_decided_conflict, |db| {
    let w = setup(&db, "prefer-calsync").await;
    let (b, id) = booked(&db, &w, "Budget").await;
    edit(&w.sandbox, &id, json!({"summary": "Budget (edited in Google)", "location": "Room 9"}));
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert_eq!((now.title.as_str(), now.version), ("Budget", b.version));
    let e = event(&w.sandbox, &id);
    assert_eq!((e["summary"].as_str(), e["location"].as_str()), (Some("Budget"), Some("Room 1")), "restored");
    let list = conflicts_of(&db, w.me, b.id).await;
    assert_eq!(list.len(), 1);
    let k = &list[0];
    assert_eq!((k.state.as_str(), k.policy.as_str(), k.decided_by.as_deref()), ("decided", "prefer-calsync", Some("prefer-calsync")));
    assert_eq!(k.remote.as_ref().unwrap().title, "Budget (edited in Google)");
    assert_eq!(k.fields, vec!["title", "location"]);
    assert_eq!(k.outcome.as_ref().unwrap()["title"], "local");

    // Deleted there: made again.
    w.sandbox.with(|s| s.delete_event(ANA, &id));
    sync(&w).await;
    let c = copy(&db, b.id).await;
    assert_eq!(c.state.as_str(), "written");
    let again = c.external_id.unwrap();
    assert_ne!(again, id, "a new event");
    assert_eq!(event(&w.sandbox, &again)["summary"], "Budget");
    assert_eq!(booking(&db, w.me, b.id).await.status, "confirmed");
});

db_test!(prefer_calendar_follows_the_calendar_even_over_a_local_change, |db| {
    let w = setup(&db, "prefer-calendar").await;
    let (b, id) = booked(&db, &w, "Sync").await;
    edit(&w.sandbox, &id, json!({"summary": "Sync (calendar)"}));
    // A local change to the same field after the calendar's: its push is refused (412), and
    // the policy lets the calendar win.
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: b.version, title: Some("Sync (calsync)".into()), ..Changes::default() }).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    let stale = copy(&db, b.id).await;
    assert_eq!(stale.state.as_str(), "pending");
    assert!(stale.error.as_deref().unwrap().contains("changed in Google Calendar meanwhile"), "{stale:?}");
    assert_eq!(event(&w.sandbox, &id)["summary"], "Sync (calendar)", "nothing overwritten");
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.title, "Sync (calendar)");
    let k = &conflicts_of(&db, w.me, b.id).await[0];
    assert_eq!(
        (k.state.as_str(), k.local.title.as_str(), k.remote.as_ref().unwrap().title.as_str(), k.base.title.as_str()),
        ("decided", "Sync (calsync)", "Sync (calendar)", "Sync")
    );
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");

    // Deleted there: the booking is cancelled.
    w.sandbox.with(|s| s.delete_event(ANA, &id));
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.status, "cancelled");
});

db_test!(ask_opens_one_conflict_and_changes_nothing, |db| {
    let w = setup(&db, "ask").await;
    let (b, id) = booked(&db, &w, "Interview").await;
    edit(&w.sandbox, &id, json!({"start": at(utc(2, 16)), "end": at(utc(2, 17))}));
    sync(&w).await;
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert_eq!((now.start.and_utc(), now.version), (utc(2, 10), b.version), "nothing changed");
    assert_eq!(event(&w.sandbox, &id)["start"]["dateTime"], at(utc(2, 16))["dateTime"], "nothing changed there either");
    let list = conflicts_of(&db, w.me, b.id).await;
    assert_eq!(list.len(), 1, "one conflict however often it syncs");
    let k = &list[0];
    assert_eq!((k.state.as_str(), k.decided_by.as_deref(), k.outcome.is_none()), ("open", None, true));
    assert_eq!((k.base.start, k.local.start, k.remote.as_ref().unwrap().start), (utc(2, 10), utc(2, 10), utc(2, 16)));
    assert_eq!(k.fields, vec!["start", "end"]);
});

db_test!(simultaneous_edits_make_a_conflict_the_later_change_wins, |db| {
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked(&db, &w, "Planning").await;
    // Google first, then calsync: calsync's change is the later one.
    edit(&w.sandbox, &id, json!({"summary": "Planning (Google)", "location": "Room 7"}));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: b.version, title: Some("Planning (calsync)".into()), ..Changes::default() })
            .await
            .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert_eq!((now.title.as_str(), now.location.as_deref()), ("Planning (calsync)", Some("Room 7")), "each side's own change kept; the title to the later");
    let e = event(&w.sandbox, &id);
    assert_eq!((e["summary"].as_str(), e["location"].as_str()), (Some("Planning (calsync)"), Some("Room 7")));
    let k = &conflicts_of(&db, w.me, b.id).await[0];
    assert_eq!(k.state.as_str(), "decided");
    assert_eq!(
        (k.base.title.as_str(), k.local.title.as_str(), k.remote.as_ref().unwrap().title.as_str()),
        ("Planning", "Planning (calsync)", "Planning (Google)")
    );
    assert_eq!(k.outcome.as_ref().unwrap()["title"], "local");
    assert_eq!(k.outcome.as_ref().unwrap()["location"], "remote");
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
});

db_test!(a_conflict_is_resolved_field_by_field_once_and_both_sides_agree, |db| {
    let w = setup(&db, "ask").await;
    let (b, id) = booked(&db, &w, "Offsite").await;
    edit(&w.sandbox, &id, json!({"summary": "Offsite (Google)", "start": at(utc(2, 12)), "end": at(utc(2, 13))}));
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(
            &mut c.conn(),
            w.me,
            b.id,
            ANA,
            Changes { version: b.version, title: Some("Offsite (calsync)".into()), location: Some(Some("Lisbon".into())), ..Changes::default() },
        )
        .await
        .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;
    let open = conflicts_of(&db, w.me, b.id).await.remove(0);
    assert_eq!(open.state.as_str(), "open");
    assert_eq!(open.fields, vec!["title", "start", "end", "location"]);
    assert_eq!(event(&w.sandbox, &id)["summary"], "Offsite (Google)", "nothing overwritten while open");

    // Bad choices change nothing.
    let mut c = db.pool.get().await.unwrap();
    let missing = conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Fields([("title".to_string(), "local".to_string())].into())).await;
    assert!(
        matches!(missing, Err(server::domain::Error::Invalid(ref r)) if r.errors[0].message == "Choose a side for every field that differs; missing: start, end, location."),
        "{missing:?}"
    );
    let unknown = conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Fields([("colour".to_string(), "local".to_string())].into())).await;
    assert!(
        matches!(unknown, Err(server::domain::Error::Invalid(ref r)) if r.errors[0].message == "'colour' is not a field that differs here (those are: title, start, end, location).")
    );

    // Title from calsync, the time from the calendar, the place from calsync.
    let pick: std::collections::BTreeMap<String, String> =
        [("title", "local"), ("start", "remote"), ("end", "remote"), ("location", "local")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let done = conflicts::resolve(&mut c.conn(), w.me, open.id, "ana@example.com", conflicts::Choice::Fields(pick.clone())).await.unwrap();
    assert_eq!((done.state.as_str(), done.decided_by.as_deref()), ("resolved", Some("ana@example.com")));
    drop(c);
    w.engine.push_booking(b.id).await.unwrap();
    let now = booking(&db, w.me, b.id).await;
    assert_eq!((now.title.as_str(), now.start.and_utc(), now.location.as_deref()), ("Offsite (calsync)", utc(2, 12), Some("Lisbon")));
    let e = event(&w.sandbox, &id);
    assert_eq!((e["summary"].as_str(), e["location"].as_str()), (Some("Offsite (calsync)"), Some("Lisbon")));
    assert_eq!(chrono::DateTime::parse_from_rfc3339(e["start"]["dateTime"].as_str().unwrap()).unwrap().to_utc(), utc(2, 12));
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
    // The next sync finds both sides equal: nothing new.
    sync(&w).await;
    assert_eq!(conflicts_of(&db, w.me, b.id).await.len(), 1);
    assert_eq!(booking(&db, w.me, b.id).await.version, now.version);

    // Resolving again: 409 naming who and when, nothing changes.
    let mut c = db.pool.get().await.unwrap();
    let again = conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Take(server::domain::merge::Side::Remote)).await;
    let expected = conflicts::msg_resolved("ana@example.com", done.decided_at.unwrap());
    assert!(matches!(again, Err(server::domain::Error::Conflict(ref m)) if *m == expected), "{again:?}");
    assert!(expected.starts_with("Already resolved by ana@example.com at "));
    assert_eq!(booking(&db, w.me, b.id).await.title, "Offsite (calsync)");
});

db_test!(every_step_is_in_a_history_without_secrets_and_a_resolution_can_be_undone, |db| {
    use server::domain::history::{self as h, Subject};
    let w = setup(&db, "ask").await;
    let (b, id) = booked(&db, &w, "Launch").await;
    edit(&w.sandbox, &id, json!({"summary": "Launch (Google)"}));
    sync(&w).await;
    let open = conflicts_of(&db, w.me, b.id).await.remove(0);
    let mut c = db.pool.get().await.unwrap();
    conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Take(server::domain::merge::Side::Remote)).await.unwrap();
    drop(c);
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(booking(&db, w.me, b.id).await.title, "Launch (Google)");

    // Undo: the booking is as before, the copy follows, the conflict is open again.
    let mut c = db.pool.get().await.unwrap();
    let undone = conflicts::undo(&mut c.conn(), w.me, open.id, ANA).await.unwrap();
    assert_eq!((undone.state.as_str(), undone.decided_by.as_deref(), undone.undoable), ("open", None, false));
    let twice = conflicts::undo(&mut c.conn(), w.me, open.id, ANA).await;
    assert!(matches!(twice, Err(server::domain::Error::Conflict(ref m)) if m == conflicts::MSG_NOT_UNDOABLE));
    drop(c);
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(booking(&db, w.me, b.id).await.title, "Launch");
    assert_eq!(event(&w.sandbox, &id)["summary"], "Launch");

    // The booking's timeline, newest first, each step with its source.
    let mut c = db.pool.get().await.unwrap();
    let (entries, total) = h::list(&mut c.conn(), w.me, &Subject::Booking(b.id), 100, 0).await.unwrap();
    let steps: Vec<(&str, &str)> = entries.iter().rev().map(|e| (e.action.as_str(), e.source)).collect();
    assert_eq!(
        steps,
        [
            ("create", "user"),
            ("write", "push"),
            ("resolve conflict", "conflict resolution"),
            ("update", "conflict resolution"),
            ("write", "push"),
            ("undo resolution", "undo"),
            ("update", "undo"),
            ("write", "push"),
        ]
    );
    assert_eq!(total, 8);
    let update = entries.iter().find(|e| e.action == "update" && e.source == "conflict resolution").unwrap();
    assert_eq!(
        (update.before.as_ref().unwrap()["title"].as_str(), update.after.as_ref().unwrap()["title"].as_str()),
        (Some("Launch"), Some("Launch (Google)"))
    );

    // The calendar's timeline: its record (settings, never a token) and its events.
    {
        let r = ig::get(&mut c.conn(), w.me, &w.name).await.unwrap();
        ig::update(
            &mut c.conn(),
            &db.keys,
            w.me,
            &w.name,
            Patch { conflict_policy: Some("prefer-calendar".into()), version: Some(r.version), ..Patch::default() },
        )
        .await
        .unwrap();
    }
    let (entries, _) = h::list(&mut c.conn(), w.me, &Subject::Integration(w.name.clone()), 100, 0).await.unwrap();
    let record: Vec<&h::Entry> = entries.iter().filter(|e| e.entity == "integration").collect();
    assert_eq!(record.iter().map(|e| (e.action.as_str(), e.actor.as_str(), e.source)).collect::<Vec<_>>(), [("update", ANA, "user"), ("create", ANA, "user")]);
    assert_eq!(
        (record[0].before.as_ref().unwrap()["conflict_policy"].as_str(), record[0].after.as_ref().unwrap()["conflict_policy"].as_str()),
        (Some("ask"), Some("prefer-calendar"))
    );
    assert_eq!(record[1].after.as_ref().unwrap()["has_access_token"], true);
    let tokens: Vec<String> = w.sandbox.with(|s| s.access.keys().chain(s.refresh.keys()).cloned().collect());
    for e in &entries {
        let text = format!("{:?}{:?}", e.before, e.after);
        assert!(tokens.iter().all(|t| !text.contains(t.as_str())), "a token in history: {text}");
    }
    assert!(entries.iter().any(|e| e.entity == "series" && e.key == id && e.source == "sync"));
    // One event's timeline.
    let (one, _) = h::list(&mut c.conn(), w.me, &Subject::Event(w.name.clone(), id.clone()), 100, 0).await.unwrap();
    assert!(!one.is_empty() && one.iter().all(|e| e.key == id || e.key.starts_with(&format!("{id} "))));
    // Someone else's timelines do not exist for them.
    let other = user(&db, "bo@example.com").await;
    assert!(matches!(h::list(&mut c.conn(), other, &Subject::Booking(b.id), 10, 0).await, Err(server::domain::Error::NotFound)));
    assert!(matches!(h::list(&mut c.conn(), other, &Subject::Integration(w.name.clone()), 10, 0).await, Err(server::domain::Error::NotFound)));
});

db_test!(review_a_booking_change_the_merge_does_not_compare_is_still_written_after_a_412, |db| {
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked(&db, &w, "Kickoff").await;
    // In Google, something the merge does not compare changes (the event's colour): its
    // version moves on.
    edit(&w.sandbox, &id, json!({"colorId": "5"}));
    // In calsync, an attendee is added: the push is refused (412), nothing overwritten.
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: b.version, attendees: Some(vec!["kim@example.com".into()]), ..Changes::default() })
            .await
            .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(copy(&db, b.id).await.state.as_str(), "pending");
    sync(&w).await;
    let e = event(&w.sandbox, &id);
    assert_eq!(
        (e["attendees"].clone(), e["colorId"].clone()),
        (json!([{"email": "kim@example.com", "responseStatus": "needsAction"}]), json!("5")),
        "the attendee written (Google adds its answer), the colour kept"
    );
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
});

db_test!(review_resolving_an_open_conflict_keeps_a_later_local_change, |db| {
    let w = setup(&db, "ask").await;
    let (b, id) = booked(&db, &w, "Retro").await;
    edit(&w.sandbox, &id, json!({"summary": "Retro (Google)"}));
    sync(&w).await;
    let open = conflicts_of(&db, w.me, b.id).await.remove(0);
    // A later change in calsync, while the conflict is open.
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: b.version, title: Some("Retro (later)".into()), ..Changes::default() }).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    let mut c = db.pool.get().await.unwrap();
    conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Take(server::domain::merge::Side::Local)).await.unwrap();
    drop(c);
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(booking(&db, w.me, b.id).await.title, "Retro (later)");
    assert_eq!(event(&w.sandbox, &id)["summary"], "Retro (later)");
    // A booking cancelled while its conflict is open: nothing left to resolve.
    let (b2, id2) = booked(&db, &w, "Demo").await;
    edit(&w.sandbox, &id2, json!({"summary": "Demo (Google)"}));
    sync(&w).await;
    let open = conflicts_of(&db, w.me, b2.id).await.remove(0);
    let mut c = db.pool.get().await.unwrap();
    bk::cancel(&mut c.conn(), w.me, b2.id, ANA).await.unwrap();
    let refused = conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Take(server::domain::merge::Side::Local)).await;
    assert!(matches!(refused, Err(server::domain::Error::Conflict(ref m)) if m == conflicts::MSG_CANCELLED_SINCE), "{refused:?}");
    assert_eq!(booking(&db, w.me, b2.id).await.status, "cancelled");
});

/// A weekly booking of four, written to the calendar and synced back.
async fn booked_weekly(db: &TestDb, w: &World, title: &str) -> (bk::Booking, String) {
    written(
        db,
        w,
        NewBooking {
            title: title.into(),
            start: local(2, 10),
            end: local(2, 11),
            time_zone: "UTC".into(),
            recurrence: Some("RRULE:FREQ=WEEKLY;COUNT=4".into()),
            allow_conflict: true,
            ..NewBooking::default()
        },
    )
    .await
}

/// The original start of the n-th occurrence (from 0) of `booked_weekly`.
fn nth(n: i64) -> chrono::DateTime<Utc> {
    utc(2 + 7 * n, 10)
}

fn key(n: i64) -> String {
    server::providers::write::occurrence_key(nth(n))
}

fn instance_id(master: &str, n: i64) -> String {
    format!("{master}_{}", nth(n).format("%Y%m%dT%H%M%SZ"))
}

/// A person moves one occurrence in Google Calendar: it becomes an exception of its own.
fn move_there(sandbox: &Sandbox, master: &str, n: i64, start: chrono::DateTime<Utc>, end: chrono::DateTime<Utc>) {
    sandbox.with(|s| {
        let mut e = s.calendars[ANA].events[master].0.clone();
        let o = e.as_object_mut().unwrap();
        o.remove("recurrence");
        o.insert("recurringEventId".into(), json!(master));
        o.insert("originalStartTime".into(), at(nth(n)));
        o.insert("start".into(), at(start));
        o.insert("end".into(), at(end));
        s.put_event(ANA, &instance_id(master, n), e).unwrap();
    });
}

fn time_of(v: &Value) -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(v["dateTime"].as_str().unwrap()).unwrap().to_utc()
}

db_test!(a_recurring_series_merges_per_occurrence_with_changes_on_both_sides, |db| {
    use server::domain::merge::Occurrence;
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked_weekly(&db, &w, "Standup").await;
    // In Google, Ana moves the second occurrence to 14:00.
    move_there(&w.sandbox, &id, 1, utc(9, 14), utc(9, 15));
    // In calsync, the series is retitled and the third occurrence cancelled.
    {
        let mut c = db.pool.get().await.unwrap();
        let Outcome::Booked(b2) =
            bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: b.version, title: Some("Team standup".into()), ..Changes::default() }).await.unwrap()
        else {
            panic!()
        };
        bk::cancel_occurrence(&mut c.conn(), w.me, b.id, &key(2), ANA, Some(b2.version)).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;

    // Both changes kept, on both sides, without a conflict.
    let now = booking(&db, w.me, b.id).await;
    assert_eq!(now.title, "Team standup");
    let moved = Occurrence { start: Some(utc(9, 14)), end: Some(utc(9, 15)), ..Occurrence::default() };
    let cancelled = Occurrence { cancelled: true, ..Occurrence::default() };
    assert_eq!(now.exceptions, [(key(1), moved), (key(2), cancelled)].into_iter().collect());
    let slots = now.slots(utc(0, 0), utc(40, 0), 10);
    let seen: Vec<(chrono::DateTime<Utc>, &str)> = slots.iter().map(|s| (s.start, s.title.as_str())).collect();
    assert_eq!(seen, vec![(nth(0), "Team standup"), (utc(9, 14), "Team standup"), (nth(3), "Team standup")]);
    assert!(conflicts_of(&db, w.me, b.id).await.is_empty());
    assert_eq!(event(&w.sandbox, &id)["summary"], "Team standup");
    let second = event(&w.sandbox, &instance_id(&id, 1));
    assert_eq!((second["summary"].as_str(), time_of(&second["start"])), (Some("Team standup"), utc(9, 14)), "the moved occurrence takes the new title");
    assert_eq!(event(&w.sandbox, &instance_id(&id, 2))["status"], "cancelled");
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
    // Settled: another sync changes nothing.
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.version, now.version);
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");

    // The calendar cancels the fourth; calsync moves the first: again both kept.
    w.sandbox.with(|s| {
        let mut e = s.calendars[ANA].events[&id].0.clone();
        e.as_object_mut().unwrap().remove("recurrence");
        e["recurringEventId"] = json!(id);
        e["originalStartTime"] = at(nth(3));
        e["start"] = at(nth(3));
        e["end"] = at(nth(3) + Days::hours(1));
        s.put_event(ANA, &instance_id(&id, 3), e).unwrap();
        s.delete_event(ANA, &instance_id(&id, 3));
    });
    {
        let mut c = db.pool.get().await.unwrap();
        let ch = bk::OccurrenceChanges { version: now.version, start: Some(local(2, 8)), end: Some(local(2, 9)), ..Default::default() };
        bk::change_occurrence(&mut c.conn(), w.me, b.id, &key(0), ANA, ch).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert!(now.exceptions[&key(3)].cancelled);
    assert_eq!(now.exceptions[&key(0)].start, Some(utc(2, 8)));
    assert_eq!(time_of(&event(&w.sandbox, &instance_id(&id, 0))["start"]), utc(2, 8));
    assert!(conflicts_of(&db, w.me, b.id).await.is_empty());
});

db_test!(one_occurrence_changed_on_both_sides_is_a_conflict_of_its_own, |db| {
    let w = setup(&db, "ask").await;
    let (b, id) = booked_weekly(&db, &w, "Retro").await;
    move_there(&w.sandbox, &id, 1, utc(9, 14), utc(9, 15));
    {
        let mut c = db.pool.get().await.unwrap();
        let ch = bk::OccurrenceChanges {
            version: b.version,
            start: Some(local(9, 16)),
            end: Some(local(9, 17)),
            title: Some("Retro (long)".into()),
            ..Default::default()
        };
        bk::change_occurrence(&mut c.conn(), w.me, b.id, &key(1), ANA, ch).await.unwrap();
    }
    // The push finds the occurrence changed in Google and leaves it alone.
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(time_of(&event(&w.sandbox, &instance_id(&id, 1))["start"]), utc(9, 14), "nothing overwritten unseen");
    sync(&w).await;
    let open = conflicts_of(&db, w.me, b.id).await.remove(0);
    assert_eq!(open.state.as_str(), "open");
    assert_eq!(open.fields, vec![format!("occurrence:{}", key(1))]);
    assert_eq!(open.remote.as_ref().unwrap().occurrences[&key(1)].start, Some(utc(9, 14)));
    assert_eq!(open.local.occurrences[&key(1)].start, Some(utc(9, 16)));
    assert!(open.base.occurrences.is_empty());

    // The calendar's time for it, chosen by a person: both sides agree.
    let mut c = db.pool.get().await.unwrap();
    let pick = [(format!("occurrence:{}", key(1)), "remote".to_string())].into_iter().collect();
    conflicts::resolve(&mut c.conn(), w.me, open.id, ANA, conflicts::Choice::Fields(pick)).await.unwrap();
    drop(c);
    w.engine.push_booking(b.id).await.unwrap();
    let now = booking(&db, w.me, b.id).await;
    assert_eq!(now.exceptions[&key(1)].start, Some(utc(9, 14)));
    assert_eq!(now.exceptions[&key(1)].title, None, "the calendar's version of it kept the series' title");
    let e = event(&w.sandbox, &instance_id(&id, 1));
    assert_eq!((e["summary"].as_str(), time_of(&e["start"])), (Some("Retro"), utc(9, 14)));
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.version, now.version);
    assert_eq!(conflicts_of(&db, w.me, b.id).await.len(), 1);
});

db_test!(review_an_attendee_added_in_google_is_followed_not_overwritten, |db| {
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = written(
        &db,
        &w,
        NewBooking {
            title: "Kickoff".into(),
            start: local(2, 10),
            end: local(2, 11),
            time_zone: "UTC".into(),
            attendees: vec!["lee@example.com".into()],
            allow_conflict: true,
            ..NewBooking::default()
        },
    )
    .await;
    edit(&w.sandbox, &id, json!({"attendees": [{"email": "lee@example.com"}, {"email": "kim@example.com"}]}));
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert_eq!(now.attendees, vec!["lee@example.com", "kim@example.com"], "the calendar's guest list is taken");
    // The next change made in calsync keeps the guest added in Google.
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: now.version, title: Some("Kickoff (final)".into()), ..Changes::default() })
            .await
            .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    let e = event(&w.sandbox, &id);
    let guests: Vec<&str> = e["attendees"].as_array().unwrap().iter().map(|a| a["email"].as_str().unwrap()).collect();
    assert_eq!((e["summary"].as_str(), guests), (Some("Kickoff (final)"), vec!["lee@example.com", "kim@example.com"]));
});

db_test!(review_keeping_a_deletion_the_policy_undid_removes_the_event_made_again, |db| {
    let w = setup(&db, "prefer-calsync").await;
    let (b, id) = booked(&db, &w, "Budget").await;
    // Deleted in Google; prefer-calsync makes it again and records a decided conflict.
    w.sandbox.with(|s| s.delete_event(ANA, &id));
    sync(&w).await;
    let again = copy(&db, b.id).await.external_id.unwrap();
    assert_eq!(event(&w.sandbox, &again)["status"], "confirmed");
    let k = conflicts_of(&db, w.me, b.id).await.remove(0);
    assert!(k.remote.is_none());
    // A person keeps the deletion after all: the booking is cancelled and the event made
    // again is deleted too, so the calendar holds nothing of it.
    {
        let mut c = db.pool.get().await.unwrap();
        conflicts::resolve(&mut c.conn(), w.me, k.id, ANA, conflicts::Choice::Take(server::domain::merge::Side::Remote)).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(booking(&db, w.me, b.id).await.status, "cancelled");
    let live: Vec<Value> = w.sandbox.with(|s| s.calendars[ANA].events.values().map(|(e, _)| e.clone()).filter(|e| e["status"] != "cancelled").collect());
    assert!(live.is_empty(), "{live:?}");
});

db_test!(review_a_series_moved_after_an_occurrence_was_cancelled_settles, |db| {
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked_weekly(&db, &w, "Standup").await;
    {
        let mut c = db.pool.get().await.unwrap();
        bk::cancel_occurrence(&mut c.conn(), w.me, b.id, &key(2), ANA, Some(b.version)).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;
    // The whole series moves an hour later: the cancelled occurrence is gone with its time.
    let now = booking(&db, w.me, b.id).await;
    {
        let mut c = db.pool.get().await.unwrap();
        let ch = Changes { version: now.version, start: Some(local(2, 11)), end: Some(local(2, 12)), ..Changes::default() };
        bk::update(&mut c.conn(), w.me, b.id, ANA, ch).await.unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written", "{:?}", copy(&db, b.id).await);
    assert_eq!(time_of(&event(&w.sandbox, &id)["start"]), utc(2, 11));
    sync(&w).await;
    let settled = booking(&db, w.me, b.id).await;
    sync(&w).await;
    w.engine.push_due().await.unwrap();
    sync(&w).await;
    let again = booking(&db, w.me, b.id).await;
    assert_eq!((again.version, again.exceptions.len()), (settled.version, 0), "no loop: {:?}", again.exceptions);
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
    assert!(conflicts_of(&db, w.me, b.id).await.is_empty());
});

/// `n` bookings written to Google ("Call 0" …), then deleted there by a person.
async fn deleted_in_google(db: &TestDb, w: &World, n: u32) -> Vec<(bk::Booking, String)> {
    let mut made = Vec::new();
    for i in 0..n {
        let new = NewBooking {
            title: format!("Call {i}"),
            start: local(2, 8 + i),
            end: local(2, 9 + i),
            time_zone: "UTC".into(),
            allow_conflict: true,
            ..NewBooking::default()
        };
        made.push(written(db, w, new).await);
    }
    for (_, id) in &made {
        w.sandbox.with(|s| s.delete_event(ANA, id));
    }
    made
}

/// Apply on the held sync; a slot is free, so it starts at once.
async fn apply(w: &World) -> server::sync::Run {
    match w.engine.apply_held(w.me, &w.name, ANA).await.unwrap() {
        (_, server::sync::Started::Running(run)) => run,
        other => panic!("a slot was free: {other:?}"),
    }
}

// Review finding: the deletion guard held only full syncs, and no sync for the bookings it
// would cancel. Six bookings deleted in Google at once are held by an incremental sync.
db_test!(a_sync_that_would_cancel_many_bookings_is_held_until_applied, |db| {
    let w = setup(&db, "last-write-wins").await;
    let made = deleted_in_google(&db, &w, 6).await;
    let run = w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
    assert!(run.held, "held: {:?}", run.error);
    let error = run.error.unwrap();
    assert!(error.starts_with("This sync would cancel 6 bookings whose events were deleted in the calendar: 'Call 0' ("), "{error}");
    assert!(error.contains("'Call 5' (") && error.ends_with(&format!("or POST /api/v1/integrations/{}/apply-held).", w.name)), "{error}");
    for (b, _) in &made {
        assert_eq!(booking(&db, w.me, b.id).await.status, "confirmed", "nothing cancelled while held");
        assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
    }
    // Applied: the deletions go through and the bookings are cancelled.
    apply(&w).await;
    for _ in 0..400 {
        let mut all = true;
        for (b, _) in &made {
            all &= booking(&db, w.me, b.id).await.status == "cancelled";
        }
        if all {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for (b, _) in &made {
        assert_eq!(booking(&db, w.me, b.id).await.status, "cancelled");
    }
});

// Five at once is below the threshold (more than CALSYNC_SYNC_MASS_CANCEL_MIN = 5): followed.
db_test!(a_sync_cancelling_a_few_bookings_is_not_held, |db| {
    let w = setup(&db, "last-write-wins").await;
    let made = deleted_in_google(&db, &w, 5).await;
    let run = w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
    assert!(!run.held, "{:?}", run.error);
    for (b, _) in &made {
        assert_eq!(booking(&db, w.me, b.id).await.status, "cancelled");
    }
});

// An incremental sync (Google's sync token) that would delete most of a calendar's events is
// held like a full one.
db_test!(an_incremental_sync_that_would_remove_most_events_is_held, |db| {
    let w = setup(&db, "last-write-wins").await;
    let ids: Vec<String> = w.sandbox.with(|s| {
        (0..30)
            .map(|i| {
                let day = (Utc::now() + Days::days(1 + i)).format("%Y-%m-%d").to_string();
                let id = format!("ev{i}");
                s.put_event(ANA, &id, json!({"summary": format!("Event {i}"), "start": {"dateTime": format!("{day}T09:00:00Z")}, "end": {"dateTime": format!("{day}T10:00:00Z")}})).unwrap();
                id
            })
            .collect()
    });
    let first = w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
    assert_eq!(first.status, "Success", "{:?}", first.error);
    for id in &ids[..25] {
        w.sandbox.with(|s| s.delete_event(ANA, id));
    }
    let run = w.engine.sync_and_wait(w.me, &w.name, Trigger::Manual).await.unwrap();
    assert!(run.held, "{:?}", run.error);
    assert!(run.error.as_deref().unwrap().starts_with("This sync would remove 25 of 30 events."), "{:?}", run.error);
    let mut c = db.pool.get().await.unwrap();
    let id = ig::get(&mut c.conn(), w.me, &w.name).await.unwrap().id;
    let stored = server::domain::stored_events::instance_count(&mut c.conn(), id).await.unwrap();
    assert_eq!(stored, 30, "nothing deleted");
    drop(c);
    let started = apply(&w).await;
    for _ in 0..200 {
        let mut c = db.pool.get().await.unwrap();
        if server::domain::stored_events::instance_count(&mut c.conn(), id).await.unwrap() == 5 {
            return;
        }
        drop(c);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the applied sync {} did not remove the 25 events", started.id);
});

/// The calendar refuses writes of event `id` (503) until the faults are cleared.
fn refuse_writes(sandbox: &Sandbox, id: &str) {
    sandbox.with(|s| {
        s.faults.push(sandbox::Fault { path: format!("/events/{id}"), status: 503, body: None, retry_after: None, delay_ms: None, times: 100, after: false })
    });
}

db_test!(review_a_change_on_both_sides_while_a_push_waits_is_merged_at_the_next_sync, |db| {
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked(&db, &w, "Standup").await;
    // The calendar refuses writes: calsync's edit waits to be retried (back-off of a minute).
    refuse_writes(&w.sandbox, &id);
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: b.version, title: Some("Standup (calsync)".into()), ..Changes::default() })
            .await
            .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    let waiting = copy(&db, b.id).await;
    assert_eq!(waiting.state.as_str(), "failed");
    assert!(waiting.due_at.unwrap() > Utc::now().naive_utc() + Days::seconds(30), "{waiting:?}");
    // Then Google's side changes the same field, later; then the calendar answers again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    edit(&w.sandbox, &id, json!({"summary": "Standup (Google)", "location": "Room 9"}));
    w.sandbox.with(|s| s.faults.clear());
    sync(&w).await;
    // The first sync merged: both sides agree, and the decided conflict is listed.
    let now = booking(&db, w.me, b.id).await;
    let e = event(&w.sandbox, &id);
    assert_eq!((now.title.as_str(), now.location.as_deref()), ("Standup (Google)", Some("Room 9")), "the later change wins");
    assert_eq!((e["summary"].as_str(), e["location"].as_str()), (Some("Standup (Google)"), Some("Room 9")));
    let k = conflicts_of(&db, w.me, b.id).await.remove(0);
    assert_eq!((k.state.as_str(), k.local.title.as_str(), k.remote.as_ref().unwrap().title.as_str()), ("decided", "Standup (calsync)", "Standup (Google)"));
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");

    // The calendar fails again, and a write waits out a back-off; a person's decision does not.
    refuse_writes(&w.sandbox, &id);
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), w.me, b.id, ANA, Changes { version: now.version, description: Some(Some("Agenda".into())), ..Changes::default() })
            .await
            .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    assert_eq!(copy(&db, b.id).await.state.as_str(), "failed");
    w.sandbox.with(|s| s.faults.clear());
    let mut c = db.pool.get().await.unwrap();
    conflicts::resolve(&mut c.conn(), w.me, k.id, ANA, conflicts::Choice::Take(server::domain::merge::Side::Local)).await.unwrap();
    drop(c);
    w.engine.push_booking(b.id).await.unwrap();
    let e = event(&w.sandbox, &id);
    assert_eq!(
        (e["summary"].as_str(), e["description"].as_str()),
        (Some("Standup (calsync)"), Some("Agenda")),
        "the resolution is written within the request's wait"
    );
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");
});

db_test!(review_a_series_rule_changed_in_google_is_followed_with_the_changes_still_on_it, |db| {
    use server::domain::merge::Occurrence;
    let w = setup(&db, "last-write-wins").await;
    let (b, id) = booked_weekly(&db, &w, "Planning").await;
    // In calsync, the second and third occurrences are moved an hour later; both written.
    {
        let mut c = db.pool.get().await.unwrap();
        let mut version = b.version;
        for n in [1, 2] {
            let ch = bk::OccurrenceChanges { version, start: Some(local(2 + 7 * n, 11)), end: Some(local(2 + 7 * n, 12)), ..Default::default() };
            version = match bk::change_occurrence(&mut c.conn(), w.me, b.id, &key(n), ANA, ch).await.unwrap() {
                Outcome::Booked(b) => b.version,
                Outcome::Busy(x) => panic!("{x:?}"),
            };
        }
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.exceptions.len(), 2);
    // In Google, the series becomes every two weeks, ending with its fifth meeting's date.
    let until = nth(8).format("%Y%m%dT235959Z");
    let rule = format!("RRULE:FREQ=WEEKLY;INTERVAL=2;UNTIL={until}");
    edit(&w.sandbox, &id, json!({"recurrence": [rule]}));
    sync(&w).await;
    let now = booking(&db, w.me, b.id).await;
    assert_eq!(now.recurrence.as_deref(), Some(rule.as_str()), "the rule followed");
    let moved = Occurrence { start: Some(utc(16, 11)), end: Some(utc(16, 12)), ..Occurrence::default() };
    assert_eq!(now.exceptions, [(key(2), moved)].into_iter().collect(), "the change on the new rule kept, the one off it gone");
    let starts: Vec<_> = now.slots(utc(0, 0), utc(80, 0), 10).iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![nth(0), utc(16, 11), nth(4), nth(6), nth(8)]);
    assert!(conflicts_of(&db, w.me, b.id).await.is_empty(), "one side changed the rule");
    assert_eq!(event(&w.sandbox, &id)["recurrence"], json!([rule]));
    // Settled.
    sync(&w).await;
    assert_eq!(booking(&db, w.me, b.id).await.version, now.version);
    assert_eq!(copy(&db, b.id).await.state.as_str(), "written");

    // Changed on both sides: a conflict, the later change wins.
    edit(&w.sandbox, &id, json!({"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"]}));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(
            &mut c.conn(),
            w.me,
            b.id,
            ANA,
            Changes { version: now.version, recurrence: Some(Some("RRULE:FREQ=WEEKLY;COUNT=2".into())), ..Changes::default() },
        )
        .await
        .unwrap();
    }
    w.engine.push_booking(b.id).await.unwrap();
    sync(&w).await;
    let last = booking(&db, w.me, b.id).await;
    assert_eq!(last.recurrence.as_deref(), Some("RRULE:FREQ=WEEKLY;COUNT=2"));
    assert_eq!(event(&w.sandbox, &id)["recurrence"], json!(["RRULE:FREQ=WEEKLY;COUNT=2"]));
    let k = conflicts_of(&db, w.me, b.id).await.remove(0);
    assert_eq!((k.state.as_str(), k.outcome.as_ref().unwrap()["recurrence"].as_str()), ("decided", "local"));
});
