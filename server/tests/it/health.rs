//! Sync health and honest availability, on SQLite and PostgreSQL: each kind is recognised from
//! real syncs against a loopback feed host (failed, backing off, stale, never synced, expiring)
//! and from two-way pushes against the provider sandbox (write failing, conflicts waiting),
//! and a stale calendar's busy time follows its policy (fail-open, fail-closed).
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sandbox::{Fault, Sandbox};
use serde_json::json;
use server::{
    crypto::Secret,
    db::schema::{booking_copies as bc, calendar_integrations as ci, conflicts as cf},
    domain::{
        availability,
        bookings::{self as bk, Changes, NewBooking, Outcome},
        conflicts::{self, Choice},
        health::{self, Kind},
        integrations::{self as ig, Patch},
        merge::Side,
        now,
        push_queue::{self as copies, CopyView},
        users, webhooks, Actor,
    },
    run,
    sync::Trigger,
};
use testkit::db_test;
use testkit::{
    feeds::{FeedHost, Reply},
    TestDb,
};

use crate::common;
use common::*;

async fn report(db: &TestDb, filter: health::Filter) -> health::Report {
    let mut c = db.pool.get().await.unwrap();
    health::report(&mut c.conn(), &filter, now(), true).await.unwrap()
}

fn kinds(r: &health::Report) -> Vec<(String, Kind)> {
    let mut v: Vec<(String, Kind)> = r.items.iter().map(|i| (i.integration_name.clone(), i.kind)).collect();
    v.sort();
    v
}

async fn set_times(db: &TestDb, name: &str, created_minutes_ago: i64, synced_minutes_ago: Option<i64>) {
    let mut c = db.pool.get().await.unwrap();
    let created = now() - Days::minutes(created_minutes_ago);
    let synced = synced_minutes_ago.map(|m| now() - Days::minutes(m));
    run!(&mut c.conn(), |cc| diesel::update(ci::table.filter(ci::name.eq(name))).set((ci::created_at.eq(created), ci::last_sync.eq(synced))).execute(cc).await)
        .unwrap();
}

db_test!(each_kind_is_recognised_once_in_order, |db| {
    let host = FeedHost::start().await;
    let good = feed(&[("a", 1, "Alpha")]);
    host.set("/ok.ics", Reply::Feed(good.clone()));
    host.set("/gone.ics", Reply::Status(404));
    host.set("/down.ics", Reply::Status(503));
    let sarah = user(&db, "sarah@example.com").await;
    let john = user(&db, "john@example.com").await;
    let engine = engine(&db);

    let healthy = calendar(&db, sarah, "Healthy", &host.url("/ok.ics")).await;
    let failed = calendar(&db, sarah, "Gone feed", &host.url("/gone.ics")).await;
    let backing = calendar(&db, john, "Flaky host", &host.url("/down.ics")).await;
    let stale = calendar(&db, john, "Old news", &host.url("/ok.ics")).await;
    let never = calendar(&db, sarah, "Never ran", &host.url("/ok.ics")).await;
    let paused = calendar(&db, sarah, "Paused", &host.url("/gone.ics")).await;
    for name in [&healthy, &failed, &backing, &stale, &paused] {
        engine.sync_and_wait(server::domain::Actor::SYSTEM, name, Trigger::Manual).await.unwrap();
    }
    // Stale: its last success was four intervals (of 15 minutes) ago; never synced: added 20
    // minutes ago; a calendar added a minute ago is not overdue yet.
    set_times(&db, &stale, 24 * 60, Some(60)).await;
    set_times(&db, &never, 20, None).await;
    let _fresh = calendar(&db, sarah, "Just added", &host.url("/ok.ics")).await;
    {
        let mut c = db.pool.get().await.unwrap();
        ig::update(&mut c.conn(), &db.keys, sarah, &paused, Patch { is_active: Some(false), ..Patch::default() }).await.unwrap();
    }
    // Expiring: a Google calendar whose typed-in token ends in three days, with nothing to
    // refresh it; and one whose push channel was not renewed.
    let expiring = {
        let mut c = db.pool.get().await.unwrap();
        let expiry = (Utc::now() + Days::days(3)).format("%Y-%m-%d %H:%M:%S").to_string();
        let patch = Patch {
            integration_type: Some("Google Calendar".into()),
            integration_name: Some("Typed token".into()),
            access_token: Some(Some(Secret::new("ya29.typed"))),
            token_expiry: Some(expiry),
            ..Patch::default()
        };
        ig::create(&mut c.conn(), &db.keys, john, patch).await.unwrap().integration
    };
    let pushed = {
        let mut c = db.pool.get().await.unwrap();
        let patch = Patch {
            integration_type: Some("Google Calendar".into()),
            integration_name: Some("Push lapsed".into()),
            access_token: Some(Some(Secret::new("ya29.other"))),
            ..Patch::default()
        };
        let i = ig::create(&mut c.conn(), &db.keys, john, patch).await.unwrap().integration;
        webhooks::add(&mut c.conn(), i.id, "chan-1", None, "secret", now() + Days::hours(2)).await.unwrap();
        i
    };
    let _ = (&expiring, &pushed);

    let r = report(&db, health::Filter::default()).await;
    assert_eq!(
        kinds(&r),
        vec![
            ("Flaky host".into(), Kind::BackingOff),
            ("Gone feed".into(), Kind::Failed),
            ("Never ran".into(), Kind::NeverSynced),
            ("Old news".into(), Kind::Stale),
            ("Push lapsed".into(), Kind::Expiring),
            ("Typed token".into(), Kind::Expiring),
        ],
        "healthy, paused and just-added calendars are not listed"
    );
    assert_eq!(r.checked, 8, "the active calendars looked at");
    let count = |k: Kind| r.counts.iter().find(|(kind, _)| *kind == k).unwrap().1;
    assert_eq!([count(Kind::Failed), count(Kind::Expiring), count(Kind::BackingOff), count(Kind::Stale), count(Kind::NeverSynced)], [1, 2, 1, 1, 1]);
    let gone = r.items.iter().find(|i| i.integration == failed).unwrap();
    assert!(gone.error.as_deref().unwrap().contains("404"), "the last error's first line: {:?}", gone.error);
    assert!(!gone.error.as_deref().unwrap().contains('\n'));
    let flaky = r.items.iter().find(|i| i.integration == backing).unwrap();
    assert!(flaky.next_run.unwrap() > now(), "backing off names its next try");
    let typed = r.items.iter().find(|i| i.integration_name == "Typed token").unwrap();
    assert!(typed.error.as_deref().unwrap().contains("no refresh token"), "{:?}", typed.error);
    // With push notifications off, channels left from before are no one's problem.
    let without_push = {
        let mut c = db.pool.get().await.unwrap();
        health::report(&mut c.conn(), &health::Filter::default(), now(), false).await.unwrap()
    };
    assert!(without_push.items.iter().all(|i| i.integration_name != "Push lapsed"), "{:?}", kinds(&without_push));
    // Longest broken first: the stale calendar's last success (an hour ago) leads.
    assert_eq!(r.items[0].integration, stale);

    // Filters: kind, user, provider, error text; counts follow all but the kind.
    let only_failed = report(&db, health::Filter { kind: Some(Kind::Failed), ..Default::default() }).await;
    assert_eq!(kinds(&only_failed), vec![("Gone feed".into(), Kind::Failed)]);
    assert_eq!(only_failed.counts, r.counts, "counts do not follow the kind filter");
    let johns = report(&db, health::Filter { user: Some("john@example.com".into()), ..Default::default() }).await;
    assert_eq!(johns.items.len(), 4);
    let google = report(&db, health::Filter { provider: Some("Google Calendar".into()), ..Default::default() }).await;
    assert_eq!(google.items.len(), 2);
    let text = report(&db, health::Filter { text: Some("503".into()), ..Default::default() }).await;
    assert_eq!(kinds(&text), vec![("Flaky host".into(), Kind::BackingOff)]);

    // Transient failures escalate: the third in a row is a failure.
    for _ in 0..2 {
        engine.sync_and_wait(server::domain::Actor::SYSTEM, &backing, Trigger::Manual).await.unwrap();
    }
    let r = report(&db, health::Filter { user: Some("john@example.com".into()), ..Default::default() }).await;
    assert_eq!(r.items.iter().find(|i| i.integration == backing).unwrap().kind, Kind::Failed);

    // Fixing the feed and retrying takes it off the list.
    host.set("/gone.ics", Reply::Feed(good));
    engine.sync_and_wait(server::domain::Actor::SYSTEM, &failed, Trigger::Manual).await.unwrap();
    let r = report(&db, health::Filter::default()).await;
    assert!(r.items.iter().all(|i| i.integration != failed));
});

db_test!(a_stale_calendar_follows_its_policy_in_availability, |db| {
    let host = FeedHost::start().await;
    host.set("/team.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let sarah = user(&db, "sarah@example.com").await;
    let name = calendar(&db, sarah, "Team", &host.url("/team.ics")).await;
    engine(&db).sync_and_wait(sarah, &name, Trigger::Manual).await.unwrap();
    let u = {
        let mut c = db.pool.get().await.unwrap();
        users::get(&mut c.conn(), sarah.user_id).await.unwrap()
    };
    // Tomorrow 00:00–24:00 UTC holds Alpha at 09:00–10:00.
    let from = (Utc::now().date_naive() + Days::days(1)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    let to = from + Days::days(1);
    let busy = |db: &TestDb| {
        let (pool, u) = (db.pool.clone(), u.clone());
        async move {
            let mut c = pool.get().await.unwrap();
            availability::busy(&mut c.conn(), &u, from, to).await.unwrap()
        }
    };
    let (fresh, degraded) = busy(&db).await;
    assert!(degraded.is_empty(), "a fresh calendar degrades nothing");
    assert_eq!(fresh.len(), 1);
    assert_eq!((fresh[0].end - fresh[0].start).num_minutes(), 60);

    // Four intervals without a success: stale.
    set_times(&db, &name, 24 * 60, Some(60)).await;
    let (open, degraded) = busy(&db).await;
    assert_eq!(degraded.len(), 1);
    assert_eq!((degraded[0].kind, degraded[0].stale_policy.as_str(), degraded[0].integration_name.as_str()), (Kind::Stale, "fail-open", "Team"));
    assert_eq!(open, fresh, "fail-open: the last known busy time, as it was");

    {
        let mut c = db.pool.get().await.unwrap();
        let saved = ig::update(&mut c.conn(), &db.keys, sarah, &name, Patch { stale_policy: Some("fail-closed".into()), ..Patch::default() }).await.unwrap();
        assert_eq!(saved.integration.stale_policy.as_str(), "fail-closed");
        let refused = ig::update(&mut c.conn(), &db.keys, sarah, &name, Patch { stale_policy: Some("maybe".into()), ..Patch::default() }).await;
        match refused {
            Err(server::domain::Error::Invalid(r)) => assert_eq!(r.errors[0].message, "Stale Policy 'maybe' is not one of fail-open, fail-closed."),
            other => panic!("{other:?}"),
        }
    }
    let (closed, degraded) = busy(&db).await;
    assert_eq!(degraded[0].stale_policy, "fail-closed");
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].start, closed[0].end), (from, to), "fail-closed: the whole range is busy");
    assert!(closed[0].sources.iter().any(|s| s.kind == availability::OUT_OF_DATE && s.integration_name.as_ref() == "Team"));
    let (conflicts, _) = {
        let mut c = db.pool.get().await.unwrap();
        availability::conflicts(&mut c.conn(), &u, from + Days::hours(14), from + Days::hours(15)).await.unwrap()
    };
    assert_eq!(conflicts.len(), 1, "a free hour is not free while the calendar is out of date");
    assert_eq!(conflicts[0].summary, "Stale calendar: treated as busy");

    // A successful sync makes it trustworthy again.
    engine(&db).sync_and_wait(sarah, &name, Trigger::Manual).await.unwrap();
    let (again, degraded) = busy(&db).await;
    assert!(degraded.is_empty());
    assert_eq!(again, fresh);
});

const ANA: &str = "ana@example.com";
const BEN: &str = "ben@example.com";
const CLEO: &str = "cleo@example.com";

/// A member's primary Two-way Google calendar at the sandbox, its typed-in token good for
/// weeks (so it is not "Expiring"); `policy`: its conflict policy.
async fn google(db: &TestDb, sandbox: &Sandbox, me: Actor, owner: &str, label: &str, policy: Option<&str>) -> String {
    let name = google_calendar(db, sandbox, me, owner, owner, label, true, policy).await;
    let mut c = db.pool.get().await.unwrap();
    let later = now() + Days::days(60);
    run!(&mut c.conn(), |cc| diesel::update(ci::table.filter(ci::name.eq(&name))).set(ci::token_expiry.eq(Some(later))).execute(cc).await).unwrap();
    name
}

/// A meeting the day after tomorrow, 10:00–11:00 UTC, booked by `by` for themselves.
async fn book(db: &TestDb, me: Actor, by: &str, title: &str) -> bk::Booking {
    let day = (Utc::now().date_naive() + Days::days(2)).format("%Y-%m-%d").to_string();
    let new = NewBooking {
        title: title.into(),
        start: format!("{day} 10:00"),
        end: format!("{day} 11:00"),
        time_zone: "UTC".into(),
        allow_conflict: true,
        ..NewBooking::default()
    };
    let mut c = db.pool.get().await.unwrap();
    match bk::create(&mut c.conn(), me, by, new).await.unwrap() {
        Outcome::Booked(b) => b,
        Outcome::Busy(x) => panic!("refused: {x:?}"),
    }
}

async fn copy_of(db: &TestDb, booking: i64) -> CopyView {
    let mut c = db.pool.get().await.unwrap();
    copies::of(&mut c.conn(), &[booking]).await.unwrap().remove(0)
}

db_test!(writes_failing_and_conflicts_waiting_are_listed_and_degrade_nothing, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| {
        for who in [ANA, BEN, CLEO] {
            s.add_account(who);
        }
    });
    let engine = sandbox_engine(&db, &sandbox, Duration::from_secs(5));
    let (ana, ben, cleo) = (user(&db, ANA).await, user(&db, BEN).await, user(&db, CLEO).await);
    let ana_work = google(&db, &sandbox, ana, ANA, "Ana's work", None).await;
    let ben_work = google(&db, &sandbox, ben, BEN, "Ben's work", Some("ask")).await;
    let cleo_work = google(&db, &sandbox, cleo, CLEO, "Cleo's work", None).await;
    for (who, name) in [(ana, &ana_work), (ben, &ben_work), (cleo, &cleo_work)] {
        engine.sync_and_wait(who, name, Trigger::Manual).await.unwrap();
    }
    let r = report(&db, health::Filter::default()).await;
    assert!(r.items.is_empty(), "three synced calendars: {:?}", kinds(&r));

    // Ben: a booking written, changed in Google, and under `ask` an open conflict.
    let interview = book(&db, ben, BEN, "Interview").await;
    engine.push_booking(interview.id).await.unwrap();
    engine.sync_and_wait(ben, &ben_work, Trigger::Manual).await.unwrap();
    let event_id = copy_of(&db, interview.id).await.external_id.unwrap();
    sandbox.with(|s| {
        let mut e = s.calendars[BEN].events[&event_id].0.clone();
        e["summary"] = json!("Interview (Google)");
        s.put_event(BEN, &event_id, e).unwrap();
    });
    engine.sync_and_wait(ben, &ben_work, Trigger::Manual).await.unwrap();
    let open = {
        let mut c = db.pool.get().await.unwrap();
        conflicts::list(&mut c.conn(), ben, None, Some(interview.id), Some(conflicts::ConflictState::Open)).await.unwrap()
    };
    assert_eq!(open.len(), 1, "under ask the change waits for Ben");
    // Ana: Google refuses the write (400: not retried by itself), so the copy is failed.
    let review = book(&db, ana, ANA, "Design review").await;
    sandbox.with(|s| s.faults.push(Fault { path: "/events".into(), status: 400, body: None, retry_after: None, delay_ms: None, times: 5, after: false }));
    engine.push_booking(review.id).await.unwrap();
    sandbox.with(|s| s.faults.clear());
    assert_eq!(copy_of(&db, review.id).await.state, copies::CopyState::Failed);
    // Cleo: a booking whose copy waits to be written (nothing pushed it yet).
    let standup = book(&db, cleo, CLEO, "Standup").await;
    assert_eq!(copy_of(&db, standup.id).await.state, copies::CopyState::Pending);

    // A failed copy is listed at once; a copy pending for a moment and a conflict open for a
    // moment are not.
    let r = report(&db, health::Filter::default()).await;
    assert_eq!(kinds(&r), vec![("Ana's work".into(), Kind::WriteFailing)]);
    let line = r.items[0].error.clone().unwrap();
    assert!(line.starts_with("The booking 'Design review' is not written to this calendar: "), "{line}");
    assert!(line.contains("(400"), "the calendar's answer: {line}");
    assert!(now() - r.items[0].since < Days::minutes(5), "since the last attempt: {:?}", r.items[0].since);

    // An hour and more later the copy still waits; a day and more later the conflict does.
    let (two_hours_ago, two_days_ago) = (now() - Days::hours(2), now() - Days::days(2));
    {
        let mut c = db.pool.get().await.unwrap();
        run!(&mut c.conn(), |cc| diesel::update(bc::table.filter(bc::booking_id.eq(standup.id))).set(bc::modified_at.eq(two_hours_ago)).execute(cc).await)
            .unwrap();
        run!(&mut c.conn(), |cc| diesel::update(cf::table.filter(cf::booking_id.eq(interview.id))).set(cf::created_at.eq(two_days_ago)).execute(cc).await)
            .unwrap();
    }
    let r = report(&db, health::Filter::default()).await;
    assert_eq!(
        kinds(&r),
        vec![("Ana's work".into(), Kind::WriteFailing), ("Ben's work".into(), Kind::ConflictsWaiting), ("Cleo's work".into(), Kind::WriteFailing)]
    );
    let order: Vec<&str> = r.items.iter().map(|i| i.integration_name.as_str()).collect();
    assert_eq!(order, ["Ben's work", "Cleo's work", "Ana's work"], "longest waiting first");
    let count = |k: Kind| r.counts.iter().find(|(kind, _)| *kind == k).unwrap().1;
    assert_eq!(r.counts.len(), Kind::ALL.len());
    assert_eq!((count(Kind::WriteFailing), count(Kind::ConflictsWaiting), count(Kind::Failed)), (2, 1, 0));
    let waiting = r.items.iter().find(|i| i.integration == ben_work).unwrap();
    let line = waiting.error.clone().unwrap();
    assert!(line.starts_with("1 conflict waiting for a decision since ") && line.ends_with(": 'Interview'."), "{line}");
    assert!((waiting.since - two_days_ago).num_seconds().abs() <= 1, "since the conflict arose: {:?}", waiting.since);
    let pending = r.items.iter().find(|i| i.integration == cleo_work).unwrap();
    let line = pending.error.clone().unwrap();
    assert!(line.starts_with("The booking 'Standup' is not written to this calendar: waiting to be written since "), "{line}");
    assert!((pending.since - two_hours_ago).num_seconds().abs() <= 1);

    // Each kind is a filter, by name too; the error text filter reads their lines.
    let only = report(&db, health::Filter { kind: Kind::parse("conflicts waiting"), ..Default::default() }).await;
    assert_eq!(kinds(&only), vec![("Ben's work".into(), Kind::ConflictsWaiting)]);
    assert_eq!(only.counts, r.counts);
    assert_eq!(Kind::parse("Write failing"), Some(Kind::WriteFailing));
    assert_eq!(serde_json::to_value(Kind::WriteFailing).unwrap(), json!("Write failing"));
    assert_eq!(serde_json::to_value(Kind::ConflictsWaiting).unwrap(), json!("Conflicts waiting"));
    let text = report(&db, health::Filter { text: Some("standup".into()), ..Default::default() }).await;
    assert_eq!(kinds(&text), vec![("Cleo's work".into(), Kind::WriteFailing)]);

    // Neither makes a calendar's busy time untrustworthy.
    assert!(!Kind::WriteFailing.degrades_availability() && !Kind::ConflictsWaiting.degrades_availability());
    for who in [ana, ben, cleo] {
        let mut c = db.pool.get().await.unwrap();
        let degraded = health::degraded(&mut c.conn(), who.user_id, now()).await.unwrap();
        assert!(degraded.is_empty(), "{degraded:?}");
    }

    // Fixed: Ana's booking changed and written, Cleo's written, Ben's conflict decided.
    {
        let mut c = db.pool.get().await.unwrap();
        let changes = Changes { version: review.version, title: Some("Design review (again)".into()), ..Changes::default() };
        bk::update(&mut c.conn(), ana, review.id, ANA, changes).await.unwrap();
        conflicts::resolve(&mut c.conn(), ben, open[0].id, BEN, Choice::Take(Side::Remote)).await.unwrap();
    }
    for id in [review.id, standup.id, interview.id] {
        engine.push_booking(id).await.unwrap();
    }
    assert_eq!((copy_of(&db, review.id).await.state, copy_of(&db, standup.id).await.state), (copies::CopyState::Written, copies::CopyState::Written));
    let r = report(&db, health::Filter::default()).await;
    assert!(r.items.is_empty(), "{:?}", kinds(&r));
});
