//! Two-way push against the provider sandbox, on SQLite and PostgreSQL: a booking is written
//! into its member's primary calendar (Google and Outlook), follows when moved and cancelled,
//! never makes a second copy (a timeout after the provider committed, a retry), is retried
//! after a passing failure, switches a calendar that refuses writes to One-way, and leaves
//! copies where they are when the primary calendar changes.
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sandbox::{Fault, Sandbox};
use serde_json::{json, Value};
use server::{
    crypto::Secret,
    db::schema::{booking_copies as bc, change_history as ch},
    domain::{
        availability,
        bookings::{self as bk, Changes, NewBooking, Outcome},
        integrations::{self as ig, Patch, SyncDirection},
        push_queue::{self as copies, CopyView},
        users, Actor, Error,
    },
    run,
    sync::{Engine, Trigger},
};
use testkit::db_test;
use testkit::TestDb;

use crate::common;
use common::*;

const ANA: &str = "ana@example.com";

async fn setup(db: &TestDb) -> (Sandbox, Actor, String, Engine) {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let me = user(db, ANA).await;
    let name = google_calendar(db, &sandbox, me, ANA, ANA, "Work", true, None).await;
    let engine = sandbox_engine(db, &sandbox, Duration::from_secs(5));
    (sandbox, me, name, engine)
}

/// `days` from today at `hour`:00, as a wall-clock time in Berlin.
fn local(days: i64, hour: u32) -> String {
    format!("{} {hour:02}:00", (Utc::now().date_naive() + Days::days(days)).format("%Y-%m-%d"))
}

fn meeting(title: &str, days: i64, hour: u32) -> NewBooking {
    NewBooking {
        title: title.into(),
        start: local(days, hour),
        end: local(days, hour + 1),
        time_zone: "Europe/Berlin".into(),
        attendees: vec!["lee@example.com".into()],
        ..NewBooking::default()
    }
}

async fn book(db: &TestDb, me: Actor, new: NewBooking) -> bk::Booking {
    let mut c = db.pool.get().await.unwrap();
    match bk::create(&mut c.conn(), me, ANA, new).await.unwrap() {
        Outcome::Booked(b) => b,
        Outcome::Busy(c) => panic!("refused: {c:?}"),
    }
}

async fn copies_of(db: &TestDb, id: i64) -> Vec<CopyView> {
    let mut c = db.pool.get().await.unwrap();
    copies::of(&mut c.conn(), &[id]).await.unwrap()
}

/// The sandbox events of a calendar that belong to a booking (by the private property).
fn events_of(sandbox: &Sandbox, calendar: &str, booking: i64) -> Vec<Value> {
    sandbox.with(|s| {
        s.calendars[calendar]
            .events
            .values()
            .map(|(e, _)| e.clone())
            .filter(|e| e["extendedProperties"]["private"]["calsyncBooking"].as_str() == Some(booking.to_string().as_str()))
            .collect()
    })
}

async fn history_actions(db: &TestDb, booking: i64) -> Vec<(String, String)> {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    run!(&mut c, |c| ch::table
        .filter(ch::entity.eq("booking").and(ch::entity_key.eq(booking.to_string())))
        .order(ch::id)
        .select((ch::action, ch::actor))
        .load::<(String, String)>(c)
        .await)
    .unwrap()
}

/// Makes every waiting copy due now (the scheduler's retry, without waiting a minute).
async fn make_due(db: &TestDb) {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let at = Utc::now().naive_utc() - Days::seconds(1);
    run!(&mut c, |c| diesel::update(bc::table.filter(bc::due_at.is_not_null())).set(bc::due_at.eq(Some(at))).execute(c).await).unwrap();
}

db_test!(a_booking_is_written_to_the_google_primary_and_follows_moves_and_cancelling, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    let b = book(&db, me, meeting("Design review", 2, 10)).await;
    let pending = copies_of(&db, b.id).await;
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].state.as_str(), pending[0].calendar.as_str(), pending[0].integration.as_deref()), ("pending", "Work", Some(name.as_str())));

    engine.push_booking(b.id).await.unwrap();
    let written = copies_of(&db, b.id).await;
    assert_eq!(written[0].state.as_str(), "written", "{written:?}");
    let external = written[0].external_id.clone().unwrap();
    assert!(external.starts_with("cs") && external.len() == 34, "a client-chosen base32hex id: {external}");
    let events = events_of(&sandbox, ANA, b.id);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["id"], external.as_str());
    assert_eq!(e["summary"], "Design review");
    assert_eq!(e["start"]["timeZone"], "Europe/Berlin");
    let start = chrono::DateTime::parse_from_rfc3339(e["start"]["dateTime"].as_str().unwrap()).unwrap().to_utc();
    assert_eq!(start.naive_utc(), b.start, "the same instant");
    assert_eq!(e["attendees"][0]["email"], "lee@example.com");
    assert!(sandbox.with(|s| s.requests.iter().any(|r| r == &format!("POST event {ANA} sendUpdates=none"))), "no email to attendees unless asked");

    // Synced back, the copy and the booking count once.
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let member = {
        let mut c = db.pool.get().await.unwrap();
        users::find_by_email(&mut c.conn(), ANA).await.unwrap().unwrap()
    };
    let (busy, _) = {
        let mut c = db.pool.get().await.unwrap();
        availability::busy(&mut c.conn(), &member, b.start.and_utc(), b.end.and_utc()).await.unwrap()
    };
    assert_eq!(busy.len(), 1);
    assert_eq!(busy[0].sources.len(), 1, "{:?}", busy[0].sources);
    assert_eq!(busy[0].sources[0].kind, "booking");

    // Moved: the copy moves.
    let moved = {
        let mut c = db.pool.get().await.unwrap();
        let changes = Changes {
            version: b.version,
            start: Some(local(2, 14)),
            end: Some(local(2, 15)),
            title: Some("Design review (moved)".into()),
            ..Changes::default()
        };
        match bk::update(&mut c.conn(), me, b.id, ANA, changes).await.unwrap() {
            Outcome::Booked(m) => m,
            Outcome::Busy(c) => panic!("{c:?}"),
        }
    };
    assert_eq!(moved.version, b.version + 1);
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "pending");
    engine.push_booking(b.id).await.unwrap();
    let e = &events_of(&sandbox, ANA, b.id)[0];
    assert_eq!(e["summary"], "Design review (moved)");
    let start = chrono::DateTime::parse_from_rfc3339(e["start"]["dateTime"].as_str().unwrap()).unwrap().to_utc();
    assert_eq!(start.naive_utc(), moved.start);
    assert_eq!(copies_of(&db, b.id).await[0].external_id.as_deref(), Some(external.as_str()), "the same event, patched");

    // A stale version is refused and changes nothing.
    {
        let mut c = db.pool.get().await.unwrap();
        let stale = bk::update(&mut c.conn(), me, b.id, ANA, Changes { version: b.version, title: Some("Lost".into()), ..Changes::default() }).await;
        assert!(matches!(stale, Err(Error::Conflict(ref m)) if m == &bk::msg_stale(moved.version)), "{stale:?}");
    }

    // Cancelled: the copy is deleted from the calendar.
    {
        let mut c = db.pool.get().await.unwrap();
        bk::cancel(&mut c.conn(), me, b.id, ANA).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    let gone = copies_of(&db, b.id).await;
    assert_eq!((gone[0].state.as_str(), gone[0].note.as_deref()), ("written", Some("Deleted from the calendar.")));
    assert_eq!(sandbox.with(|s| s.calendars[ANA].events[&external].0["status"].clone()), "cancelled");

    let actions: Vec<String> = history_actions(&db, b.id).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions, ["create", "write", "update", "write", "cancel", "delete copy"]);
    // No secret in any history row.
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let texts: Vec<Option<String>> = run!(&mut c, |c| ch::table.select(ch::after).load(c).await).unwrap();
    let tokens: Vec<String> = sandbox.with(|s| s.access.keys().cloned().collect());
    assert!(texts.iter().flatten().all(|t| tokens.iter().all(|tok| !t.contains(tok.as_str()))));
});

db_test!(a_push_that_times_out_after_google_committed_makes_exactly_one_copy, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let me = user(&db, ANA).await;
    google_calendar(&db, &sandbox, me, ANA, ANA, "Work", true, None).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_millis(800));
    let b = book(&db, me, meeting("Planning", 3, 9)).await;
    // The insert is carried out, then its answer never comes: calsync times out; its retry
    // answers 409 duplicate, and the event made is brought in line instead of a second.
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 1, after: true }));
    engine.push_booking(b.id).await.unwrap();
    let c = copies_of(&db, b.id).await;
    assert_eq!(c[0].state.as_str(), "written", "{c:?}");
    assert_eq!(events_of(&sandbox, ANA, b.id).len(), 1);
    let posts = sandbox.with(|s| s.requests.iter().filter(|r| r.starts_with("POST event")).count());
    assert_eq!(posts, 2, "the lost insert and the retry");

    // A failed push of an existing booking retried by the scheduler does not duplicate either.
    let b2 = book(&db, me, meeting("Retro", 3, 13)).await;
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 10, after: true }));
    engine.push_booking(b2.id).await.unwrap();
    let failed = copies_of(&db, b2.id).await;
    assert_eq!(failed[0].state.as_str(), "failed");
    assert!(failed[0].error.as_deref().unwrap().contains("did not answer in time"), "{failed:?}");
    assert!(failed[0].due_at.is_some(), "a timeout is retried later");
    sandbox.with(|s| s.faults.clear());
    make_due(&db).await;
    assert_eq!(engine.push_due().await.unwrap(), 1);
    assert_eq!(copies_of(&db, b2.id).await[0].state.as_str(), "written");
    assert_eq!(events_of(&sandbox, ANA, b2.id).len(), 1);
    let actions: Vec<String> = history_actions(&db, b2.id).await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(actions, ["create", "write failed", "write"]);
});

db_test!(a_calendar_that_refuses_writes_is_switched_to_one_way_and_says_why, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_calendar(ANA, "team@group.calendar.google.com", "Team", "reader"));
    let me = user(&db, ANA).await;
    let name = google_calendar(&db, &sandbox, me, ANA, "team@group.calendar.google.com", "Team", true, None).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    let b = book(&db, me, meeting("Sync", 2, 9)).await;
    engine.push_booking(b.id).await.unwrap();
    let c = copies_of(&db, b.id).await;
    assert_eq!(c[0].state.as_str(), "failed");
    let error = c[0].error.clone().unwrap();
    assert!(error.starts_with("calsync could not write to 'Team': Google Calendar refused access to this calendar (403 requiredAccessLevel"), "{error}");
    assert!(error.contains("switched to One-way (Read Only)"));
    assert!(c[0].due_at.is_none(), "not retried: someone must change something");
    let record = {
        let mut p = db.pool.get().await.unwrap();
        ig::get(&mut p.conn(), me, &name).await.unwrap()
    };
    assert_eq!(record.sync_direction, SyncDirection::OneWay);
    assert_eq!(record.sync_error_log.as_deref(), Some(error.as_str()));
    // The next booking is not written anywhere.
    let next = book(&db, me, meeting("Later", 2, 15)).await;
    assert!(copies_of(&db, next.id).await.is_empty());
});

db_test!(a_passing_failure_is_retried_and_a_new_primary_gets_new_pushes, |db| {
    let (sandbox, me, work, engine) = setup(&db).await;
    let b = book(&db, me, meeting("1:1", 4, 10)).await;
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 503, body: None, retry_after: None, delay_ms: None, times: 20, after: false }));
    engine.push_booking(b.id).await.unwrap();
    let c = copies_of(&db, b.id).await;
    assert_eq!(c[0].state.as_str(), "failed");
    assert!(c[0].error.as_deref().unwrap().contains("server error (503)"), "{c:?}");
    assert!(c[0].due_at.unwrap() > Utc::now().naive_utc(), "retried after a wait");
    assert_eq!(engine.push_due().await.unwrap(), 0, "not due yet");
    sandbox.with(|s| s.faults.clear());
    make_due(&db).await;
    engine.push_due().await.unwrap();
    let written = copies_of(&db, b.id).await;
    assert_eq!(written[0].state.as_str(), "written");

    // Another calendar becomes primary: the old copy stays and says so; the next change goes
    // to the new primary.
    sandbox.with(|s| s.add_calendar(ANA, "personal", "Personal", "owner"));
    let personal = google_calendar(&db, &sandbox, me, ANA, "personal", "Personal", false, None).await;
    {
        let mut p = db.pool.get().await.unwrap();
        ig::make_primary(&mut p.conn(), me, &personal).await.unwrap();
    }
    {
        let mut p = db.pool.get().await.unwrap();
        bk::update(&mut p.conn(), me, b.id, ANA, Changes { version: b.version, title: Some("1:1 (new room)".into()), ..Changes::default() }).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    let now = copies_of(&db, b.id).await;
    assert_eq!(now.len(), 2, "{now:?}");
    let old = now.iter().find(|c| c.integration.as_deref() == Some(work.as_str())).unwrap();
    assert_eq!(old.state.as_str(), "written");
    assert_eq!(old.note.as_deref(), Some("Not updated: 'Work' is no longer the primary two-way calendar; the copy stays in it."));
    let new = now.iter().find(|c| c.integration.as_deref() == Some(personal.as_str())).unwrap();
    assert_eq!(new.state.as_str(), "written");
    assert_eq!(events_of(&sandbox, "personal", b.id)[0]["summary"], "1:1 (new room)");
    assert_eq!(events_of(&sandbox, ANA, b.id)[0]["summary"], "1:1", "the old copy is left as it was");

    // The old calendar removed from calsync: the copy's record is gone, the copy says so.
    {
        let mut p = db.pool.get().await.unwrap();
        ig::delete(&mut p.conn(), me, &work).await.unwrap();
    }
    {
        let mut p = db.pool.get().await.unwrap();
        bk::update(&mut p.conn(), me, b.id, ANA, Changes { version: b.version + 1, title: Some("1:1 again".into()), ..Changes::default() }).await.unwrap();
    }
    let left = copies_of(&db, b.id).await;
    let old = left.iter().find(|c| c.integration.is_none()).unwrap();
    assert_eq!(old.note.as_deref(), Some("Not updated: the calendar 'Work' was removed from calsync; the copy stays in it."));
});

db_test!(one_way_and_ical_primaries_are_never_written, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let me = user(&db, ANA).await;
    let name = google_calendar(&db, &sandbox, me, ANA, ANA, "Work", true, None).await;
    {
        let mut p = db.pool.get().await.unwrap();
        let r = ig::get(&mut p.conn(), me, &name).await.unwrap();
        ig::update(
            &mut p.conn(),
            &db.keys,
            me,
            &name,
            Patch { sync_direction: Some(SyncDirection::OneWay.as_str().into()), version: Some(r.version), ..Patch::default() },
        )
        .await
        .unwrap();
    }
    let b = book(&db, me, meeting("Quiet", 2, 9)).await;
    assert!(copies_of(&db, b.id).await.is_empty());
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    assert_eq!(engine.push_due().await.unwrap(), 0);
    assert!(events_of(&sandbox, ANA, b.id).is_empty());
});

db_test!(an_outlook_primary_gets_its_copy_once_with_a_transaction_id, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_millis(800));
    let graph_events = |s: &Sandbox| s.with(|st| st.graph[&cal].events.values().filter_map(|(e, _)| e.clone()).collect::<Vec<Value>>());
    // The create is carried out and its answer lost: the retry repeats the transactionId and
    // gets the first event back.
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 1, after: true }));
    let b = book(&db, me, NewBooking { notify_attendees: false, recurrence: Some("RRULE:FREQ=WEEKLY;COUNT=4".into()), ..meeting("Weekly sync", 2, 10) }).await;
    engine.push_booking(b.id).await.unwrap();
    let c = copies_of(&db, b.id).await;
    assert_eq!(c[0].state.as_str(), "written", "{c:?}");
    let all = graph_events(&sandbox);
    let events: Vec<&Value> = all.iter().filter(|e| e["type"] == "seriesMaster").collect();
    assert_eq!(events.len(), 1, "{all:?}");
    assert_eq!(all.iter().filter(|e| e["type"] == "occurrence").count(), 4, "Outlook lays out the four occurrences");
    let e = events[0];
    assert_eq!(c[0].external_id.as_deref(), e["id"].as_str());
    assert_eq!(e["subject"], "Weekly sync");
    assert_eq!(e["start"]["timeZone"], "Europe/Berlin");
    assert_eq!(e["start"]["dateTime"].as_str().unwrap(), format!("{}T10:00:00", &local(2, 10)[..10]));
    assert_eq!(e["recurrence"]["pattern"]["type"], "weekly");
    assert_eq!(e["recurrence"]["range"]["numberOfOccurrences"], 4);
    // Not asked to notify: Graph would email attendees, so they are named in the body.
    assert_eq!(e["attendees"], serde_json::json!([]));
    assert!(e["body"]["content"].as_str().unwrap().contains("Attendees: lee@example.com"));

    // Cancelled: deleted in Outlook.
    {
        let mut p = db.pool.get().await.unwrap();
        bk::cancel(&mut p.conn(), me, b.id, ANA).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    assert!(graph_events(&sandbox).is_empty());
    assert_eq!(copies_of(&db, b.id).await[0].note.as_deref(), Some("Deleted from the calendar."));

    // A rule Outlook cannot hold fails with why, and is not retried.
    let odd = book(&db, me, NewBooking { recurrence: Some("RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=4".into()), ..meeting("Odd", 3, 8) }).await;
    engine.push_booking(odd.id).await.unwrap();
    let c = copies_of(&db, odd.id).await;
    assert_eq!(c[0].state.as_str(), "failed");
    assert_eq!(c[0].error.as_deref(), Some("Outlook cannot hold the recurrence 'RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=4': BYHOUR has no Outlook equivalent."));
    assert!(c[0].due_at.is_none());
});

db_test!(new_outlook_copies_go_out_twenty_to_a_batch, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(book(&db, me, NewBooking { allow_conflict: true, ..meeting(&format!("Batch {i}"), 2 + i / 10, 8 + (i % 10) as u32) }).await.id);
    }
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    assert_eq!(engine.push_due().await.unwrap(), 25);
    let requests = sandbox.with(|s| s.requests.clone());
    assert_eq!(requests.iter().filter(|r| *r == "POST $batch").count(), 2, "20 and 5: {requests:?}");
    assert_eq!(sandbox.with(|s| s.graph[&cal].events.len()), 25, "one event each");
    for id in ids {
        let c = copies_of(&db, id).await;
        assert_eq!(c[0].state.as_str(), "written", "{c:?}");
    }
});

/// The name of Ana's (only) calendar record.
async fn record_name(db: &TestDb, me: Actor) -> String {
    let mut c = db.pool.get().await.unwrap();
    ig::list(&mut c.conn(), me, &ig::Filter { limit: 10, ..ig::Filter::default() }).await.unwrap().0.remove(0).name
}

/// Ana's Outlook calendar at the sandbox, connected as her primary; answers its Graph id.
async fn outlook_primary(db: &TestDb, sandbox: &Sandbox, me: Actor) -> String {
    const MS: &str = "ana@contoso.com";
    let (access, refresh) = sandbox.with(|s| s.issue_ms_tokens(MS));
    let cal = sandbox.with(|s| s.add_ms_account(MS));
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("Outlook Calendar".into()),
        integration_name: Some("Office".into()),
        calendar_id: Some(cal.clone()),
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        is_primary: Some(true),
        ..Patch::default()
    };
    ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap();
    cal
}

db_test!(review_an_outlook_create_whose_answer_was_lost_is_brought_in_line_after_an_edit, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_millis(500));
    let b = book(&db, me, meeting("Draft", 2, 10)).await;
    // Every answer is lost, though Outlook made the event the first time.
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 20, after: true }));
    engine.push_booking(b.id).await.unwrap();
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "failed");
    sandbox.with(|s| s.faults.clear());
    // Edited meanwhile: the retry gets the first event back and brings it in line.
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), me, b.id, ANA, Changes { version: b.version, title: Some("Final".into()), ..Changes::default() }).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    let events: Vec<Value> = sandbox.with(|s| s.graph[&cal].events.values().filter_map(|(e, _)| e.clone()).collect());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subject"], "Final");
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "written");
});

db_test!(review_an_outlook_copy_moved_out_of_the_window_is_not_a_deletion, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    let b = book(&db, me, meeting("Offsite", 3, 9)).await;
    engine.push_booking(b.id).await.unwrap();
    let name = record_name(&db, me).await;
    engine.sync_and_wait(me, &name, server::sync::Trigger::Manual).await.unwrap();
    // Moved in Outlook to next year: out of the sync window (90 days ahead), not deleted.
    let external = copies_of(&db, b.id).await[0].external_id.clone().unwrap();
    sandbox.with(|s| {
        let (e, _) = s.graph[&cal].events[&external].clone();
        let mut e = e.unwrap();
        e["start"]["dateTime"] = json!("2027-11-20T09:00:00");
        e["end"]["dateTime"] = json!("2027-11-20T10:00:00");
        s.put_graph_event(&cal, &external, e);
    });
    engine.sync_and_wait(me, &name, server::sync::Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.status, "confirmed", "not cancelled");
    // Deleted for real: then it is.
    sandbox.with(|s| s.delete_graph_event(&cal, &external));
    engine.sync_and_wait(me, &name, server::sync::Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.status, "cancelled");
});

db_test!(review_a_write_that_outlived_its_lease_does_not_overwrite_the_newer_result, |db| {
    let (sandbox, me, _name, engine) = setup(&db).await;
    let b = book(&db, me, meeting("Lease", 2, 10)).await;
    let copy_id: i64 = {
        let mut p = db.pool.get().await.unwrap();
        run!(&mut p.conn(), |c| bc::table.filter(bc::booking_id.eq(b.id)).select(bc::id).first(c).await).unwrap()
    };
    // A first pusher claims the copy; its write takes longer than the lease.
    let first = {
        let mut p = db.pool.get().await.unwrap();
        copies::claim(&mut p.conn(), copy_id, Days::seconds(-1)).await.unwrap().unwrap()
    };
    // Meanwhile a second pusher claims it and writes it.
    engine.push_booking(b.id).await.unwrap();
    let written = copies_of(&db, b.id).await;
    assert_eq!(written[0].state.as_str(), "written");
    // The first pusher's late answer (the calendar refused it as changed) changes nothing.
    let mut p = db.pool.get().await.unwrap();
    let again = copies::finish(&mut p.conn(), &first, "Work", copies::Finish::Stale { error: "late".into(), external_id: None }).await.unwrap();
    assert!(!again);
    assert_eq!(copies_of(&db, b.id).await, written);
    assert_eq!(events_of(&sandbox, ANA, b.id).len(), 1);
});

db_test!(review_a_copy_that_may_have_been_made_stays_on_record_when_the_primary_changes, |db| {
    let (sandbox, me, work, engine) = setup(&db).await;
    let b = book(&db, me, meeting("Maybe", 2, 10)).await;
    // Google makes the event, but no answer reaches calsync.
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 20, after: true }));
    let engine_short = sandbox_engine(&db, &sandbox, Duration::from_millis(300));
    engine_short.push_booking(b.id).await.unwrap();
    sandbox.with(|s| s.faults.clear());
    assert_eq!(events_of(&sandbox, ANA, b.id).len(), 1, "made, though calsync does not know");
    // Another calendar becomes primary, and the booking changes.
    sandbox.with(|s| s.add_calendar(ANA, "personal", "Personal", "owner"));
    let personal = google_calendar(&db, &sandbox, me, ANA, "personal", "Personal", false, None).await;
    {
        let mut p = db.pool.get().await.unwrap();
        ig::make_primary(&mut p.conn(), me, &personal).await.unwrap();
    }
    {
        let mut p = db.pool.get().await.unwrap();
        bk::update(&mut p.conn(), me, b.id, ANA, Changes { version: b.version, title: Some("Maybe (moved)".into()), ..Changes::default() }).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    let now = copies_of(&db, b.id).await;
    assert_eq!(now.len(), 2, "the tried copy stays on record: {now:?}");
    let old = now.iter().find(|c| c.integration.as_deref() == Some(work.as_str())).unwrap();
    assert!(old.note.as_deref().unwrap().contains("no longer the primary"), "{old:?}");
});

/// A weekly Outlook series of four, written to Ana's Outlook primary and synced back.
struct OutlookSeries {
    sandbox: Sandbox,
    me: Actor,
    cal: String,
    engine: Engine,
    name: String,
    b: bk::Booking,
}

async fn outlook_weekly(db: &TestDb, title: &str) -> OutlookSeries {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(db, ANA).await;
    let cal = outlook_primary(db, &sandbox, me).await;
    let engine = sandbox_engine(db, &sandbox, Duration::from_secs(5));
    let name = record_name(db, me).await;
    let b = book(db, me, NewBooking { recurrence: Some("RRULE:FREQ=WEEKLY;COUNT=4".into()), allow_conflict: true, ..meeting(title, 2, 10) }).await;
    engine.push_booking(b.id).await.unwrap();
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    OutlookSeries { sandbox, me, cal, engine, name, b }
}

/// The occurrence (or exception) of the series in Graph calendar `cal` that started at `original`.
fn graph_occurrence(s: &Sandbox, cal: &str, original: chrono::DateTime<Utc>) -> Option<(String, Value)> {
    let at = original.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    s.with(|st| st.graph[cal].events.iter().find_map(|(id, (e, _))| e.as_ref().filter(|e| e["originalStart"] == at.as_str()).map(|e| (id.clone(), e.clone()))))
}

db_test!(an_outlook_series_merges_per_occurrence_with_changes_on_both_sides, |db| {
    use server::domain::merge::Occurrence;
    use server::providers::write::occurrence_key;
    let OutlookSeries { sandbox, me, cal, engine, name, b } = outlook_weekly(&db, "Standup").await;
    let nth = |n: i64| b.start.and_utc() + Days::days(7 * n);
    let occurrence = |s: &Sandbox, n: i64| graph_occurrence(s, &cal, nth(n));
    // In Outlook, Ana moves the second occurrence two hours later.
    let (second, mut e) = occurrence(&sandbox, 1).unwrap();
    let later = |t: &Value| json!({"dateTime": (chrono::NaiveDateTime::parse_from_str(&t["dateTime"].as_str().unwrap()[..19], "%Y-%m-%dT%H:%M:%S").unwrap() + Days::hours(2)).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": t["timeZone"]});
    e["start"] = later(&e["start"]);
    e["end"] = later(&e["end"]);
    e["type"] = json!("exception");
    sandbox.with(|s| s.put_graph_event(&cal, &second, e));
    // In calsync, the series is retitled and the third occurrence cancelled.
    {
        let mut c = db.pool.get().await.unwrap();
        let Outcome::Booked(b2) =
            bk::update(&mut c.conn(), me, b.id, ANA, Changes { version: b.version, title: Some("Team standup".into()), ..Changes::default() }).await.unwrap()
        else {
            panic!()
        };
        bk::cancel_occurrence(&mut c.conn(), me, b.id, &occurrence_key(nth(2)), ANA, Some(b2.version)).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "written");
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();

    // Both kept, in both places, without a conflict.
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.title, "Team standup");
    let moved = Occurrence { start: Some(nth(1) + Days::hours(2)), end: Some(nth(1) + Days::hours(3)), ..Occurrence::default() };
    assert_eq!(now.exceptions.get(&occurrence_key(nth(1))), Some(&moved), "{:?}", now.exceptions);
    assert!(now.exceptions[&occurrence_key(nth(2))].cancelled);
    assert_eq!(now.exceptions.len(), 2);
    let (_, e) = occurrence(&sandbox, 1).unwrap();
    assert_eq!(e["subject"], "Team standup", "the moved occurrence takes the new title");
    assert!(occurrence(&sandbox, 2).is_none(), "cancelled: deleted in Outlook");
    assert_eq!(occurrence(&sandbox, 3).unwrap().1["subject"], "Team standup");
    let conflicts = {
        let mut c = db.pool.get().await.unwrap();
        server::domain::conflicts::list(&mut c.conn(), me, None, Some(b.id), None).await.unwrap()
    };
    assert!(conflicts.is_empty(), "{conflicts:?}");
    // Settled.
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let again = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(again.version, now.version);

    // Outlook deletes the fourth: the booking's fourth is cancelled too, once a full round
    // (the repair run, here brought forward) no longer lists it — delta does not reliably
    // report an occurrence deleted on its own.
    let (fourth, _) = occurrence(&sandbox, 3).unwrap();
    sandbox.with(|s| s.delete_graph_event(&cal, &fourth));
    sandbox.with(|s| s.invalidate_delta(&cal));
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert!(now.exceptions[&occurrence_key(nth(3))].cancelled, "{:?}", now.exceptions);
    assert_eq!(now.status, "confirmed");
});

db_test!(review_an_outlook_occurrence_moved_out_of_the_window_is_followed_not_cancelled, |db| {
    use server::domain::merge::Occurrence;
    use server::providers::write::occurrence_key;
    let OutlookSeries { sandbox, me, cal, engine, name, b } = outlook_weekly(&db, "Review").await;
    let nth = |n: i64| b.start.and_utc() + Days::days(7 * n);
    let occurrence = |s: &Sandbox, n: i64| graph_occurrence(s, &cal, nth(n));
    // In Outlook, the second occurrence moves to next quarter: out of the 90-day window.
    let (second, mut e) = occurrence(&sandbox, 1).unwrap();
    let (start, end) = (nth(1) + Days::days(120), nth(1) + Days::days(120) + Days::hours(1));
    let at = |t: chrono::DateTime<Utc>| json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"});
    e["start"] = at(start);
    e["end"] = at(end);
    e["type"] = json!("exception");
    sandbox.with(|s| s.put_graph_event(&cal, &second, e));
    // The third is deleted there for real.
    let (third, _) = occurrence(&sandbox, 2).unwrap();
    sandbox.with(|s| s.delete_graph_event(&cal, &third));
    // A full round (delta does not reliably report occurrences on their own): neither listed.
    sandbox.with(|s| s.invalidate_delta(&cal));
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.status, "confirmed");
    let moved = Occurrence { start: Some(start), end: Some(end), ..Occurrence::default() };
    assert_eq!(now.exceptions.get(&occurrence_key(nth(1))), Some(&moved), "moved, not cancelled: {:?}", now.exceptions);
    assert!(now.exceptions[&occurrence_key(nth(2))].cancelled, "deleted there: cancelled here");
    assert_eq!(now.exceptions.len(), 2);
    // Settled: the next syncs change nothing, and Outlook keeps the move.
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let again = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!((again.version, again.status.as_str()), (now.version, "confirmed"));
    let (_, e) = occurrence(&sandbox, 1).unwrap();
    assert_eq!(e["start"]["dateTime"].as_str().unwrap().get(..19), Some(start.format("%Y-%m-%dT%H:%M:%S").to_string().as_str()));
    // Outlook not answering where it went: unknown, nothing cancelled.
    let (second, mut e) = occurrence(&sandbox, 1).unwrap();
    e["start"] = at(start + Days::days(1));
    e["end"] = at(end + Days::days(1));
    sandbox.with(|s| s.put_graph_event(&cal, &second, e));
    sandbox.with(|s| s.faults.push(Fault { path: "/instances".into(), status: 503, body: None, retry_after: None, delay_ms: None, times: 50, after: false }));
    sandbox.with(|s| s.invalidate_delta(&cal));
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let unknown = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(unknown.status, "confirmed");
    assert!(!unknown.exceptions[&occurrence_key(nth(1))].cancelled);
});

db_test!(review_a_place_changed_in_outlook_is_followed_not_overwritten, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    let name = record_name(&db, me).await;
    let b = book(&db, me, NewBooking { location: Some("Room 1".into()), ..meeting("Planning", 3, 9) }).await;
    engine.push_booking(b.id).await.unwrap();
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    // Ana moves the meeting to another room in Outlook; calsync retitles it meanwhile.
    let external = copies_of(&db, b.id).await[0].external_id.clone().unwrap();
    sandbox.with(|s| {
        let mut e = s.graph[&cal].events[&external].0.clone().unwrap();
        e["location"] = json!({"displayName": "Room 7"});
        s.put_graph_event(&cal, &external, e);
    });
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    {
        let mut c = db.pool.get().await.unwrap();
        let now = bk::get(&mut c.conn(), me, b.id).await.unwrap();
        assert_eq!(now.location.as_deref(), Some("Room 7"), "the calendar's place is taken");
        bk::update(&mut c.conn(), me, b.id, ANA, Changes { version: now.version, title: Some("Planning (final)".into()), ..Changes::default() }).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    let e = sandbox.with(|s| s.graph[&cal].events[&external].0.clone().unwrap());
    assert_eq!((e["subject"].as_str(), e["location"]["displayName"].as_str()), (Some("Planning (final)"), Some("Room 7")), "the next push keeps it");
});

db_test!(review_a_calendar_removed_and_added_again_takes_up_the_copy_it_holds, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    let b = book(&db, me, meeting("Roadmap", 2, 10)).await;
    engine.push_booking(b.id).await.unwrap();
    let first = events_of(&sandbox, ANA, b.id);
    assert_eq!(first.len(), 1);
    // The calendar record is removed and added again; then the booking changes.
    {
        let mut c = db.pool.get().await.unwrap();
        ig::delete(&mut c.conn(), me, &name).await.unwrap();
    }
    google_calendar(&db, &sandbox, me, ANA, ANA, "Work again", true, None).await;
    {
        let mut c = db.pool.get().await.unwrap();
        bk::update(&mut c.conn(), me, b.id, ANA, Changes { version: b.version, title: Some("Roadmap (v2)".into()), ..Changes::default() }).await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    // Its event is found by the booking's private property and brought in line: no second one.
    let now: Vec<Value> = events_of(&sandbox, ANA, b.id).into_iter().filter(|e| e["status"] != "cancelled").collect();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!((now[0]["id"].clone(), now[0]["summary"].as_str()), (first[0]["id"].clone(), Some("Roadmap (v2)")));
    let copies = copies_of(&db, b.id).await;
    let live: Vec<_> = copies.iter().filter(|c| c.integration.is_some()).collect();
    assert_eq!((live[0].state.as_str(), live[0].external_id.as_deref()), ("written", first[0]["id"].as_str()));
});

db_test!(review_an_event_changed_in_google_before_a_lost_create_was_retried_is_not_overwritten, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let me = user(&db, ANA).await;
    let name = google_calendar(&db, &sandbox, me, ANA, ANA, "Work", true, None).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_millis(500));
    let b = book(&db, me, meeting("Roadmap", 3, 9)).await;
    // Google makes the event, but no answer reaches calsync: the push fails for now.
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 10, after: true }));
    engine.push_booking(b.id).await.unwrap();
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "failed");
    sandbox.with(|s| s.faults.clear());
    // Meanwhile Ana renames the event calsync made.
    let made = events_of(&sandbox, ANA, b.id);
    assert_eq!(made.len(), 1);
    let id = made[0]["id"].as_str().unwrap().to_string();
    sandbox.with(|s| {
        let mut e = s.calendars[ANA].events[&id].0.clone();
        e["summary"] = json!("Roadmap (Ana's)");
        s.put_event(ANA, &id, e).unwrap();
    });
    // The retry finds its event changed: nothing is overwritten, and the sync merges it in.
    make_due(&db).await;
    engine.push_due().await.unwrap();
    assert_eq!(events_of(&sandbox, ANA, b.id)[0]["summary"], "Roadmap (Ana's)", "not overwritten unseen");
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.title, "Roadmap (Ana's)", "the calendar's change is taken");
    let c = copies_of(&db, b.id).await;
    assert_eq!((c[0].state.as_str(), c[0].external_id.as_deref()), ("written", Some(id.as_str())));
    assert_eq!(events_of(&sandbox, ANA, b.id).len(), 1);
});

db_test!(a_disabled_members_copies_stay_where_they_are_and_say_so, |db| {
    let (sandbox, me, _name, engine) = setup(&db).await;
    let b = book(&db, me, meeting("Standup", 2, 9)).await;
    engine.push_booking(b.id).await.unwrap();
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "written");
    // Ana is disabled; an admin cancels her booking afterwards.
    {
        let mut c = db.pool.get().await.unwrap();
        users::set_disabled(&mut c.conn(), me.user_id, true, &server::domain::audit::By::cli()).await.unwrap();
        bk::cancel(&mut c.conn(), Actor { user_id: 0, is_admin: true }, b.id, "admin@example.com").await.unwrap();
    }
    engine.push_booking(b.id).await.unwrap();
    let c = copies_of(&db, b.id).await;
    assert_eq!(c[0].note.as_deref(), Some("Not updated: ana@example.com is disabled; the copy stays in 'Work'."));
    assert_eq!(events_of(&sandbox, ANA, b.id).iter().filter(|e| e["status"] != "cancelled").count(), 1, "nothing written with a disabled member's access");
});

db_test!(review_an_outlook_event_changed_before_a_lost_create_was_retried_is_not_overwritten, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_millis(500));
    let name = record_name(&db, me).await;
    let b = book(&db, me, meeting("Roadmap", 3, 9)).await;
    // Outlook makes the event, but no answer reaches calsync.
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 20, after: true }));
    engine.push_booking(b.id).await.unwrap();
    assert_eq!(copies_of(&db, b.id).await[0].state.as_str(), "failed");
    sandbox.with(|s| s.faults.clear());
    // Meanwhile Ana renames it in Outlook.
    let id = sandbox.with(|s| s.graph[&cal].events.iter().find_map(|(id, (e, _))| e.as_ref().map(|_| id.clone())).unwrap());
    sandbox.with(|s| {
        let mut e = s.graph[&cal].events[&id].0.clone().unwrap();
        e["subject"] = json!("Roadmap (Ana's)");
        s.put_graph_event(&cal, &id, e);
    });
    // The retry gets the event back by its transactionId, finds it changed, and leaves it.
    make_due(&db).await;
    engine.push_due().await.unwrap();
    assert_eq!(sandbox.with(|s| s.graph[&cal].events[&id].0.clone().unwrap())["subject"], "Roadmap (Ana's)", "not overwritten unseen");
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.title, "Roadmap (Ana's)", "the calendar's change is taken");
    let c = copies_of(&db, b.id).await;
    assert_eq!((c[0].state.as_str(), c[0].external_id.as_deref()), ("written", Some(id.as_str())));
    assert_eq!(sandbox.with(|s| s.graph[&cal].events.values().filter(|(e, _)| e.is_some()).count()), 1);
});

db_test!(review_one_outlook_occurrence_retitled_does_not_retitle_the_series, |db| {
    use server::providers::write::occurrence_key;
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(&db, ANA).await;
    let cal = outlook_primary(&db, &sandbox, me).await;
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    let name = record_name(&db, me).await;
    let b = book(&db, me, NewBooking { recurrence: Some("RRULE:FREQ=WEEKLY;COUNT=2".into()), allow_conflict: true, ..meeting("Workshop", 2, 10) }).await;
    engine.push_booking(b.id).await.unwrap();
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    // Ana renames the first of the two in Outlook.
    let first = b.start.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (id, mut e) = sandbox.with(|s| {
        s.graph[&cal]
            .events
            .iter()
            .find_map(|(id, (e, _))| e.as_ref().filter(|e| e["originalStart"] == first.as_str()).map(|e| (id.clone(), e.clone())))
            .unwrap()
    });
    e["subject"] = json!("Workshop part 1");
    e["type"] = json!("exception");
    sandbox.with(|s| s.put_graph_event(&cal, &id, e));
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let now = {
        let mut c = db.pool.get().await.unwrap();
        bk::get(&mut c.conn(), me, b.id).await.unwrap()
    };
    assert_eq!(now.title, "Workshop", "the series keeps its title");
    assert_eq!(now.exceptions[&occurrence_key(b.start.and_utc())].title.as_deref(), Some("Workshop part 1"));
    let subjects: Vec<String> = sandbox.with(|s| {
        s.graph[&cal]
            .events
            .values()
            .filter_map(|(e, _)| e.clone())
            .filter(|e| e["type"] != "seriesMaster")
            .map(|e| e["subject"].as_str().unwrap().to_string())
            .collect()
    });
    assert!(subjects.contains(&"Workshop".to_string()), "the other occurrence keeps the series' title: {subjects:?}");
});
