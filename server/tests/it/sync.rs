//! The sync engine against a real iCal host on loopback, on SQLite and PostgreSQL: the diff,
//! idempotence, 304 and the sliding window, failures that keep what was synced, the address
//! guard, leases and two schedulers.
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Days;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{change_history as ch, event_series as es, sync_states as ss},
    domain::{
        integrations::{self as ig, Patch},
        now, Error,
    },
    providers::{
        fetch::{FeedClient, FeedLimits},
        guard::StaticResolver,
    },
    run,
    sync::{runs, Engine, Settings, Trigger},
};
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

use crate::common;
use common::*;

db_test!(a_sync_creates_copies_and_a_second_changes_nothing, |db| {
    let host = FeedHost::start().await;
    host.set("/team.ics", Reply::Feed(feed(&[("a", 1, "Alpha"), ("b", 2, "Beta")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/team.ics")).await;
    let engine = engine(&db);

    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(counts(&run), (6, 0, 0, 0));
    assert_eq!(instances(&db).await.len(), 6);
    assert_eq!(count_history(&db, "create").await, 6 + 3, "one row per created instance and series");

    let mut p = db.pool.get().await.unwrap();
    let integration = ig::get(&mut p.conn(), me, &name).await.unwrap();
    assert_eq!(integration.sync_status.as_str(), "Success");
    assert!(integration.last_sync.is_some());
    assert_eq!(integration.sync_error_log, None);
    drop(p);

    // The same feed again: a 304, nothing written.
    let again = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(counts(&again), (0, 0, 0, 6));
    assert_eq!(host.not_modified(), 1);
    assert_eq!(count_history(&db, "create").await, 9);

    let mut p = db.pool.get().await.unwrap();
    let (runs, total) = runs::recent(&mut p.conn(), integration.id, 50, 0).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(runs[0].trigger, "manual");
});

db_test!(the_diff_creates_updates_and_deletes_by_uid_and_recurrence_id, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha"), ("b", 2, "Beta")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let engine = engine(&db);
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();

    // Alpha renamed, Beta gone, Gamma new; the series unchanged.
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha (moved room)"), ("c", 3, "Gamma")])));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(counts(&run), (1, 1, 1, 4));
    let summaries: Vec<String> = instances(&db).await.into_iter().filter(|i| i.1.is_empty()).map(|i| i.2).collect();
    assert_eq!(summaries, vec!["Alpha (moved room)", "Gamma"]);
    assert_eq!(count_history(&db, "update").await, 2, "the instance and its series");
    assert_eq!(count_history(&db, "delete").await, 2);

    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let (before, after): (Option<String>, Option<String>) =
        run!(&mut c, |c| ch::table.filter(ch::action.eq("update").and(ch::entity.eq("instance"))).select((ch::before, ch::after)).first(c).await).unwrap();
    assert!(before.unwrap().contains("\"summary\":\"Alpha\""));
    assert!(after.unwrap().contains("Alpha (moved room)"));
    let series = run!(&mut c, |c| es::table.select(es::uid).order(es::uid.asc()).load::<String>(c).await).unwrap();
    assert_eq!(series, vec!["a", "c", "weekly"]);
});

db_test!(a_304_re_expands_the_stored_feed_when_the_window_moved, |db| {
    let host = FeedHost::start().await;
    // Weekly series from 7 days ago, 4 of them, plus one event 100 days ahead: outside the
    // default 90-day window until the window grows.
    host.set("/f.ics", Reply::Feed(feed(&[("far", 100, "Far ahead")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let engine = engine(&db);
    let first = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(counts(&first), (4, 0, 0, 0));

    let mut p = db.pool.get().await.unwrap();
    ig::update(&mut p.conn(), &db.keys, me, &name, Patch { sync_future_days: Some("120".into()), ..Patch::default() }).await.unwrap();
    drop(p);
    let moved = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(host.not_modified(), 1, "the feed itself did not change");
    assert_eq!(counts(&moved), (1, 0, 0, 4));
});

db_test!(failures_say_what_happened_and_keep_what_was_synced, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let feeds = FeedLimits { max_bytes: 64 * 1024, timeout: Duration::from_secs(1), ..limits() };
    let engine = engine_with(&db, feeds, None);
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();

    let cases = [
        (Reply::Status(404), "404 Not Found"),
        (Reply::Status(503), "503 Service Unavailable"),
        (Reply::Html("<!doctype html><p>Sign in".into()), "HTML"),
        (Reply::Stall(Duration::from_secs(3)), "did not answer within 1 seconds"),
        (Reply::Endless(200 * 1024), "larger than the 1 MB limit"),
        (Reply::Feed("x".repeat(100 * 1024)), "larger than the 1 MB limit"),
    ];
    for (n, (reply, expected)) in cases.into_iter().enumerate() {
        host.set("/f.ics", reply);
        let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
        assert_eq!(run.status, "Failed");
        let message = run.error.unwrap();
        assert!(message.contains(expected), "{message}");
        let mut p = db.pool.get().await.unwrap();
        let integration = ig::get(&mut p.conn(), me, &name).await.unwrap();
        assert_eq!(integration.sync_status.as_str(), "Failed");
        assert_eq!(integration.sync_error_log.as_deref(), Some(message.as_str()));
        let failures: i32 = {
            let mut c = p.conn();
            run!(&mut c, |c| ss::table.find(integration.id).select(ss::failures).first(c).await).unwrap()
        };
        assert_eq!(failures, n as i32 + 1, "failures are counted for the back-off");
        assert_eq!(instances(&db).await.len(), 5, "nothing already synced is lost");
    }
});

db_test!(a_server_that_asks_to_wait_is_not_asked_again_sooner, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Throttled(3 * 3600));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let run = engine(&db).sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("429 Too Many Requests"), "{:?}", run.error);
    let mut p = db.pool.get().await.unwrap();
    let integration = ig::get(&mut p.conn(), me, &name).await.unwrap();
    // The back-off alone would retry after the 15-minute interval; Retry-After says 3 hours.
    let wait = integration.next_sync().unwrap() - run.finished_at.unwrap();
    assert_eq!(wait.num_minutes(), 180, "{wait:?}");
});

db_test!(addresses_inside_the_network_are_refused, |db| {
    let me = user(&db, "sarah@example.com").await;
    // The feed hosts of this test listen on random ports: widen the port list (as the
    // operator's CALSYNC_ICAL_ALLOWED_PORTS may) to reach the address checks.
    let default_ports = FeedLimits { timeout: Duration::from_secs(2), ..FeedLimits::default() };
    let strict = FeedLimits { allowed_ports: vec![(1, 65535)], ..default_ports.clone() };

    // A loopback literal.
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[])));
    let direct = calendar(&db, me, "Direct", &host.url("/f.ics")).await;
    let run = engine_with(&db, strict.clone(), None).sync_and_wait(me, &direct, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("127.0.0.1 is a loopback address"), "{:?}", run.error);
    // A port outside the list (80, 443, 8000–8999) is refused before anything else.
    let run = engine_with(&db, default_ports, None).sync_and_wait(me, &direct, Trigger::Manual).await.unwrap();
    let message = run.error.unwrap();
    assert!(
        message.starts_with(&format!("Refused to fetch the feed: port {} is not one feeds are fetched from (80, 443, 8000–8999).", host.addr.port())),
        "{message}"
    );

    // Names that resolve inside (through an injected resolver: no DNS), directly or through
    // NAT64, 6to4 or the IPv4-compatible form; the message never names the inside address.
    for (n, inside) in ["10.1.2.3", "64:ff9b::a01:203", "2002:a01:203::1", "::10.1.2.3"].into_iter().enumerate() {
        let host_name = format!("calendar{n}.example.com");
        let named = calendar(&db, me, &format!("Named {n}"), &format!("https://{host_name}/f.ics")).await;
        let resolver = StaticResolver(vec![(host_name.clone(), inside.parse().unwrap())]);
        let run = engine_with(&db, strict.clone(), Some(resolver)).sync_and_wait(me, &named, Trigger::Manual).await.unwrap();
        let message = run.error.unwrap();
        assert!(message.contains(&format!("{host_name} resolves to a private network address")), "{message}");
        assert!(!message.contains("10.1.2.3") && !message.contains(inside), "{message}");
    }

    // A public server (stood in for by 127.0.0.2) that redirects to 127.0.0.1.
    let outside = FeedHost::start_on("127.0.0.2".parse().unwrap()).await;
    outside.set("/f.ics", Reply::Redirect(host.url("/f.ics")));
    let redirected = calendar(&db, me, "Redirected", &outside.url("/f.ics")).await;
    let stand_in = FeedLimits { public_stand_ins: vec!["127.0.0.2".parse().unwrap()], ..strict.clone() };
    let run = engine_with(&db, stand_in.clone(), None).sync_and_wait(me, &redirected, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("127.0.0.1 is a loopback address"), "{:?}", run.error);
    assert_eq!(host.requests(), 0, "the refused address was never contacted");

    // Link-local (cloud metadata) stays refused even when private addresses are allowed.
    outside.set("/meta.ics", Reply::Redirect("http://169.254.169.254/latest/".into()));
    let meta = calendar(&db, me, "Meta", &outside.url("/meta.ics")).await;
    let open = FeedLimits { allow_private: true, ..stand_in };
    let run = engine_with(&db, open, None).sync_and_wait(me, &meta, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("169.254.169.254 is a link-local address"), "{:?}", run.error);
});

db_test!(a_running_sync_refuses_a_second_and_an_inactive_calendar_is_refused, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let engine = engine(&db);
    let (_, _run) = engine.start(me, &name, Trigger::Manual, None).await.unwrap();
    match engine.sync_now(me, &name).await {
        Err(Error::Conflict(m)) => assert_eq!(m, runs::MSG_RUNNING),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut p = db.pool.get().await.unwrap();
    ig::update(&mut p.conn(), &db.keys, me, &name, Patch { is_active: Some(false), ..Patch::default() }).await.unwrap();
    match engine.sync_now(me, &name).await {
        Err(Error::Invalid(report)) => assert_eq!(report.errors[0].message, server::sync::MSG_INACTIVE),
        other => panic!("expected a refusal, got {other:?}"),
    }
});

db_test!(a_crashed_runs_lease_is_taken_over, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let mut p = db.pool.get().await.unwrap();
    let id = ig::get(&mut p.conn(), me, &name).await.unwrap().id;
    // A process claimed it an hour ago, opened a run, and died.
    let long_ago = now() - Days::hours(1);
    let lapsed = runs::claim_one(&mut p.conn(), id, "dead-worker", long_ago, long_ago + Days::minutes(10)).await.unwrap();
    assert!(!lapsed, "a calendar never claimed has no lapsed lease");
    let orphan = runs::open(&mut p.conn(), id, Trigger::Scheduler, "dead-worker", long_ago, None, lapsed).await.unwrap();
    drop(p);

    let done = engine(&db).run_due().await.unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, "Success");
    let mut p = db.pool.get().await.unwrap();
    let (all, _) = runs::recent(&mut p.conn(), id, 10, 0).await.unwrap();
    let old = all.iter().find(|r| r.id == orphan.id).unwrap();
    assert_eq!((old.status.as_str(), old.error.as_deref()), ("Failed", Some(runs::MSG_LEASE_EXPIRED)));
});

db_test!(two_schedulers_never_sync_the_same_calendar_twice, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    for n in 0..12 {
        calendar(&db, me, &format!("Calendar {n}"), &host.url("/f.ics")).await;
    }
    let (one, two) = (engine(&db), engine(&db));
    assert_ne!(one.worker(), two.worker());
    let mut total = 0;
    loop {
        let (a, b) = tokio::join!(one.run_due(), two.run_due());
        let round = a.unwrap().len() + b.unwrap().len();
        if round == 0 {
            break;
        }
        total += round;
    }
    assert_eq!(total, 12);
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let per_calendar: Vec<i64> = run!(&mut c, |c| server::db::schema::sync_runs::table
        .group_by(server::db::schema::sync_runs::integration_id)
        .select(diesel::dsl::count_star())
        .load(c)
        .await)
    .unwrap();
    assert_eq!(per_calendar, vec![1; 12], "each calendar synced exactly once");
});

db_test!(deleting_a_calendar_deletes_its_copies_keeps_its_history_and_stops_a_running_sync, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let engine = engine(&db);
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(instances(&db).await.len(), 5);
    let mut p = db.pool.get().await.unwrap();
    ig::delete(&mut p.conn(), me, &name).await.unwrap();
    assert_eq!(instances(&db).await.len(), 0);
    let series: i64 = {
        let mut c = p.conn();
        run!(&mut c, |c| es::table.count().get_result(c).await).unwrap()
    };
    assert_eq!(series, 0);
    assert_eq!(count_history(&db, "create").await, 5 + 2, "history outlives the calendar");

    // A sync claimed before its calendar is deleted writes nothing afterwards.
    let other = calendar(&db, me, "Other", &host.url("/f.ics")).await;
    let (integration, run) = engine.start(me, &other, Trigger::Manual, None).await.unwrap();
    ig::delete(&mut p.conn(), me, &other).await.unwrap();
    drop(p);
    engine.perform(integration, run).await;
    assert_eq!(instances(&db).await.len(), 0, "no copies of a deleted calendar");
});

db_test!(the_scheduler_syncs_due_calendars_on_its_tick_and_stops_on_shutdown, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let feeds = limits();
    let settings = Settings { tick: Duration::from_millis(50), feeds: feeds.clone(), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    let mut synced = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut p = db.pool.get().await.unwrap();
        let i = ig::get(&mut p.conn(), me, &name).await.unwrap();
        if i.sync_status.as_str() == "Success" {
            synced = Some(i);
            break;
        }
    }
    let synced = synced.expect("the scheduler synced the new calendar");
    // Next due one interval later: not synced again on the next ticks.
    let due = synced.due_at.unwrap();
    assert_eq!((due - synced.last_sync.unwrap()).num_minutes(), synced.sync_interval_minutes as i64);
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), scheduler).await.expect("the scheduler stops").unwrap();
    let mut p = db.pool.get().await.unwrap();
    let (_, total) = runs::recent(&mut p.conn(), synced.id, 10, 0).await.unwrap();
    assert_eq!(total, 1);
});

db_test!(the_scheduler_leaves_paused_calendars_alone_until_they_are_turned_back_on, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let on = calendar(&db, me, "On", &host.url("/f.ics")).await;
    let manual = calendar(&db, me, "Manual", &host.url("/f.ics")).await;
    let off = calendar(&db, me, "Off", &host.url("/f.ics")).await;
    {
        let mut p = db.pool.get().await.unwrap();
        ig::update(&mut p.conn(), &db.keys, me, &manual, Patch { auto_sync_enabled: Some(false), ..Patch::default() }).await.unwrap();
        ig::update(&mut p.conn(), &db.keys, me, &off, Patch { is_active: Some(false), ..Patch::default() }).await.unwrap();
    }
    let feeds = limits();
    let settings = Settings { tick: Duration::from_millis(50), feeds: feeds.clone(), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    let wait_for = |name: String| {
        let db = &db;
        async move {
            for _ in 0..100 {
                if status_of(db, me, &name).await.sync_status.as_str() == "Success" {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(wait_for(on.clone()).await, "the active calendar with auto-sync on is synced");
    tokio::time::sleep(Duration::from_millis(300)).await;
    for name in [&manual, &off] {
        let i = status_of(&db, me, name).await;
        assert_eq!(i.last_sync, None, "{name} is not synced by the scheduler");
        assert_eq!(i.next_sync(), None, "{name} shows no next run");
    }
    // Auto-sync on again: the scheduler picks it up on its next tick.
    {
        let mut p = db.pool.get().await.unwrap();
        ig::update(&mut p.conn(), &db.keys, me, &manual, Patch { auto_sync_enabled: Some(true), ..Patch::default() }).await.unwrap();
    }
    assert!(wait_for(manual.clone()).await, "turned back on, it is synced");
    assert_eq!(status_of(&db, me, &off).await.last_sync, None, "the inactive one still waits");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), scheduler).await.expect("the scheduler stops").unwrap();
});

fn engine_with_slots(db: &testkit::TestDb, slots: usize) -> Engine {
    let feeds = limits();
    let settings = Settings { concurrency: slots, tick: Duration::from_secs(3600), feeds: feeds.clone(), ..Settings::default() };
    Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings)
}

async fn status_of(db: &testkit::TestDb, me: server::domain::Actor, name: &str) -> ig::Integration {
    let mut p = db.pool.get().await.unwrap();
    ig::get(&mut p.conn(), me, name).await.unwrap()
}

db_test!(sync_now_waits_in_the_queue_when_every_slot_is_busy, |db| {
    let host = FeedHost::start().await;
    host.set("/slow.ics", Reply::Stall(Duration::from_millis(800)));
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let slow = calendar(&db, me, "Slow", &host.url("/slow.ics")).await;
    let fast = calendar(&db, me, "Fast", &host.url("/f.ics")).await;
    let engine = engine_with_slots(&db, 1);

    // The one slot takes the slow calendar; "Sync now" on the other waits in the queue.
    assert!(matches!(engine.sync_now(me, &slow).await.unwrap().1, server::sync::Started::Running(_)));
    assert!(matches!(engine.sync_now(me, &fast).await.unwrap().1, server::sync::Started::Queued(_)));
    let queued = status_of(&db, me, &fast).await;
    assert!(queued.queued_at.is_some());
    assert_eq!(queued.sync_status.as_str(), "Pending");
    // Pressed again while queued, or while running: 409.
    match engine.sync_now(me, &fast).await {
        Err(Error::Conflict(m)) => assert_eq!(m, runs::MSG_QUEUED),
        other => panic!("{other:?}"),
    }
    match engine.sync_now(me, &slow).await {
        Err(Error::Conflict(m)) => assert_eq!(m, runs::MSG_RUNNING),
        other => panic!("{other:?}"),
    }

    // The slots (here taking queued calendars only, as with CALSYNC_SCHEDULER=0) run it as
    // soon as the slow sync frees its slot.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let pool = tokio::spawn(engine.clone().dispatch(server::sync::Claim::Queued, stopped));
    let mut done = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let i = status_of(&db, me, &fast).await;
        if i.sync_status.as_str() == "Success" {
            done = Some(i);
            break;
        }
    }
    let done = done.expect("the queued calendar was synced");
    assert!(done.queued_at.is_none());
    let mut p = db.pool.get().await.unwrap();
    let (fast_runs, _) = runs::recent(&mut p.conn(), done.id, 10, 0).await.unwrap();
    assert_eq!((fast_runs.len(), fast_runs[0].trigger.as_str()), (1, "manual"));
    let slow_run = runs::latest(&mut p.conn(), status_of(&db, me, &slow).await.id, 1, 0).await.unwrap().remove(0);
    assert!(slow_run.finished_at.unwrap() <= fast_runs[0].started_at, "one slot: one sync at a time");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), pool).await.expect("the slots stop").unwrap();
});

db_test!(the_scheduler_never_waits_for_its_slowest_calendar, |db| {
    let host = FeedHost::start().await;
    host.set("/slow.ics", Reply::Stall(Duration::from_secs(3)));
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    let slow = calendar(&db, me, "Slow", &host.url("/slow.ics")).await;
    let mut fast = Vec::new();
    for n in 0..6 {
        fast.push(calendar(&db, me, &format!("Fast {n}"), &host.url("/f.ics")).await);
    }
    // Two slots: while one waits three seconds for the slow feed, the other goes through the
    // six fast ones (a tick-based scheduler that waits for its whole batch would need 3 s+).
    let engine = engine_with_slots(&db, 2);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = std::time::Instant::now();
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    loop {
        let mut synced = 0;
        for name in &fast {
            synced += (status_of(&db, me, name).await.sync_status.as_str() == "Success") as usize;
        }
        if synced == fast.len() {
            break;
        }
        assert!(started.elapsed() < Duration::from_millis(2500), "only {synced} of 6 synced while the slow feed stalls");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status_of(&db, me, &slow).await.sync_status.as_str(), "In Progress", "the slow one is still running");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), scheduler).await.expect("the scheduler stops after its running syncs").unwrap();
    assert_eq!(status_of(&db, me, &slow).await.sync_status.as_str(), "Failed", "the stalled feed (an empty answer) was recorded before the scheduler stopped");
});

db_test!(stopping_interrupts_syncs_still_running_after_the_grace_period, |db| {
    let host = FeedHost::start().await;
    host.set("/slow.ics", Reply::Stall(Duration::from_secs(4)));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Slow", &host.url("/slow.ics")).await;
    let feeds = limits();
    let settings = Settings { concurrency: 1, shutdown_grace: Duration::from_millis(300), feeds: feeds.clone(), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    for _ in 0..100 {
        if status_of(&db, me, &name).await.sync_status.as_str() == "In Progress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = std::time::Instant::now();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), scheduler).await.expect("stops after the grace period, not after the feed").unwrap();
    assert!(asked.elapsed() < Duration::from_secs(2));
    let stopped_at = status_of(&db, me, &name).await;
    assert_eq!(stopped_at.sync_status.as_str(), "Failed");
    assert_eq!(stopped_at.sync_error_log.as_deref(), Some(runs::MSG_INTERRUPTED));
    // Its lease is free: another process takes it at once.
    let other = engine_with_slots(&db, 1);
    host.set("/slow.ics", Reply::Feed(feed(&[])));
    assert_eq!(other.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
});

db_test!(a_feed_too_big_to_keep_is_fetched_again_only_when_the_window_moves, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("far", 100, "Far ahead")])));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let feeds = limits();
    // Every body is "too big" here: the cursor keeps only the validators.
    let settings = Settings { cursor_body_max: 100, feeds: feeds.clone(), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    assert_eq!(counts(&engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap()), (4, 0, 0, 0));
    let mut p = db.pool.get().await.unwrap();
    let id = ig::get(&mut p.conn(), me, &name).await.unwrap().id;
    let stored: String = {
        let mut c = p.conn();
        run!(&mut c, |c| server::db::schema::sync_cursors::table.find(id).select(server::db::schema::sync_cursors::state).first(c).await).unwrap()
    };
    assert!(stored.len() < 300 && !stored.contains("BEGIN:VCALENDAR"), "{stored}");

    // Same window: a 304 is enough.
    assert_eq!(counts(&engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap()), (0, 0, 0, 4));
    assert_eq!((host.requests(), host.not_modified()), (2, 1));
    // A moved window: the 304 cannot be expanded again, so the feed is fetched in full once.
    ig::update(&mut p.conn(), &db.keys, me, &name, Patch { sync_future_days: Some("120".into()), ..Patch::default() }).await.unwrap();
    assert_eq!(counts(&engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap()), (1, 0, 0, 4));
    assert_eq!((host.requests(), host.not_modified()), (4, 2));
});

// Review finding: a calendar added while the scheduler slept waited for its tick (60 s).
db_test!(a_calendar_added_while_the_scheduler_sleeps_is_synced_at_once, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let me = user(&db, "sarah@example.com").await;
    // An hour's tick: only a wake-up can start it soon.
    let engine = engine_with_slots(&db, 4);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    // Let it find nothing to do and go to sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let added = std::time::Instant::now();
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let mut started = None;
    while added.elapsed() < Duration::from_secs(5) {
        let mut p = db.pool.get().await.unwrap();
        let id = ig::get(&mut p.conn(), me, &name).await.unwrap().id;
        if runs::recent(&mut p.conn(), id, 1, 0).await.unwrap().1 > 0 {
            started = Some(added.elapsed());
            break;
        }
        drop(p);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = started.expect("the new calendar's first sync started within 5 s");
    assert!(started < Duration::from_secs(2), "first sync started after {started:?}");
    // Turned off and on again later: due at once, synced again without waiting for the tick.
    for _ in 0..100 {
        if status_of(&db, me, &name).await.sync_status.as_str() == "Success" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    {
        let mut p = db.pool.get().await.unwrap();
        ig::update(&mut p.conn(), &db.keys, me, &name, Patch { is_active: Some(false), ..Patch::default() }).await.unwrap();
        // Pretend the last success was long ago: re-activated, it is due now.
        let id = ig::get(&mut p.conn(), me, &name).await.unwrap().id;
        let long_ago = now() - Days::hours(2);
        run!(&mut p.conn(), |c| diesel::update(server::db::schema::calendar_integrations::table.find(id))
            .set(server::db::schema::calendar_integrations::last_sync.eq(Some(long_ago)))
            .execute(c)
            .await)
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reactivated = std::time::Instant::now();
    {
        let mut p = db.pool.get().await.unwrap();
        ig::update(&mut p.conn(), &db.keys, me, &name, Patch { is_active: Some(true), ..Patch::default() }).await.unwrap();
    }
    let mut again = false;
    while reactivated.elapsed() < Duration::from_secs(2) {
        let mut p = db.pool.get().await.unwrap();
        let id = ig::get(&mut p.conn(), me, &name).await.unwrap().id;
        if runs::recent(&mut p.conn(), id, 10, 0).await.unwrap().1 >= 2 {
            again = true;
            break;
        }
        drop(p);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again, "re-activated, the calendar was synced again within 2 s");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), scheduler).await.expect("the scheduler stops").unwrap();
});
