//! Synced events are never lost to a broken transfer or a broken feed, on SQLite and
//! PostgreSQL: a feed cut off in transfer fails and changes nothing; a sync that would remove
//! most of a calendar's events is held until someone applies it.
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{change_history as ch, event_series as es},
    domain::{
        integrations::{self as ig, Patch},
        Error,
    },
    run,
    sync::{runs, Started, Trigger},
};
use testkit::db_test;
use testkit::{
    feeds::{close_delimited, FeedHost, Reply},
    TestDb,
};

use crate::common;
use common::*;

/// Where to cut a feed: a third of the way in (inside a component), right after a component's
/// END line, and just before its END:VCALENDAR.
fn cuts(full: &str) -> Vec<usize> {
    let after_first_event = full.find("END:VEVENT\r\n").unwrap() + "END:VEVENT\r\n".len();
    vec![full.len() / 3, after_first_event, full.rfind("END:VCALENDAR").unwrap()]
}

async fn series_count(db: &TestDb) -> i64 {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    run!(&mut c, |c| es::table.count().get_result::<i64>(c).await).unwrap()
}

db_test!(a_feed_cut_off_in_transfer_fails_and_keeps_every_event, |db| {
    let full = feed(&[("a", 1, "Alpha"), ("b", 2, "Beta"), ("c", 3, "Gamma"), ("d", 4, "Delta")]);
    let me = user(&db, "sarah@example.com").await;
    let engine = engine(&db);

    // Chunked transfer that ends "cleanly" after a partial body (a generator that stopped).
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(full.clone()));
    let chunked = calendar(&db, me, "Chunked", &host.url("/f.ics")).await;
    assert_eq!(engine.sync_and_wait(me, &chunked, Trigger::Manual).await.unwrap().status, "Success");
    let synced = instances(&db).await;
    assert_eq!(synced.len(), 8);
    for cut in cuts(&full) {
        host.set("/f.ics", Reply::Chunked(full[..cut].to_owned()));
        let run = engine.sync_and_wait(me, &chunked, Trigger::Manual).await.unwrap();
        assert_eq!(run.status, "Failed", "cut at {cut}");
        let error = run.error.unwrap();
        let line = full[..cut].trim_end().lines().count();
        assert_eq!(error, format!("The feed ended early (line {line}) — it looks cut off in transfer. The events from the last complete sync are kept."),);
        assert_eq!(instances(&db).await, synced, "nothing changed");
        assert_eq!(run.deleted_count, 0);
    }

    // A server that ends its answer by closing the connection, without a length.
    for cut in cuts(&full) {
        let addr = close_delimited(full[..cut].to_owned()).await;
        let mut p = db.pool.get().await.unwrap();
        let name = calendar(&db, me, &format!("Closed {cut}"), &format!("http://{addr}/f.ics")).await;
        let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
        assert!(run.error.as_deref().unwrap().starts_with("The feed ended early (line "), "{:?}", run.error);
        let integration = ig::get(&mut p.conn(), me, &name).await.unwrap();
        assert_eq!(integration.sync_status.as_str(), "Failed");
    }
    // The whole feed from the same kind of server is fine.
    let addr = close_delimited(full.clone()).await;
    let whole = calendar(&db, me, "Closed whole", &format!("http://{addr}/f.ics")).await;
    assert_eq!(engine.sync_and_wait(me, &whole, Trigger::Manual).await.unwrap().status, "Success");
});

/// A feed of `n` single events, one a day from tomorrow.
fn many(n: usize) -> String {
    let names: Vec<(String, i64)> = (0..n).map(|i| (format!("e{i}"), i as i64 + 1)).collect();
    let singles: Vec<(&str, i64, &str)> = names.iter().map(|(uid, d)| (uid.as_str(), *d, "Busy")).collect();
    feed(&singles)
}

db_test!(a_sync_that_would_remove_most_events_is_held_until_applied, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(many(29)));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let engine = engine(&db);
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    // 29 singles and the weekly series.
    assert_eq!(series_count(&db).await, 30);
    let before = instances(&db).await;

    // The feed now has 4 of its 29 events: 25 of 30 series would go.
    host.set("/f.ics", Reply::Feed(many(4)));
    let run = engine.sync_and_wait(me, &name, Trigger::Scheduler).await.unwrap();
    assert_eq!(run.status, "Failed");
    assert!(run.held);
    assert_eq!(
        run.error.as_deref().unwrap(),
        format!("This sync would remove 25 of 30 events. If that is intended, press Apply on the Sync page (or run `calsync sync --once --integration {name} --allow-mass-delete`, or POST /api/v1/integrations/{name}/apply-held).")
    );
    assert_eq!(instances(&db).await, before, "nothing deleted, nothing changed");
    {
        let mut p = db.pool.get().await.unwrap();
        let id = ig::get(&mut p.conn(), me, &name).await.unwrap().id;
        assert!(runs::held(&mut p.conn(), id).await.unwrap());
    }

    // Apply: the same sync with the guard lifted, recorded as applied by the person.
    let started = match engine.apply_held(me, &name, "sarah@example.com").await.unwrap() {
        (_, Started::Running(run)) => run,
        other => panic!("a slot was free: {other:?}"),
    };
    assert_eq!(started.applied_by.as_deref(), Some("sarah@example.com"));
    let applied = wait_for_run(&db, started.id).await;
    assert_eq!(applied.status, "Success", "{:?}", applied.error);
    assert_eq!(series_count(&db).await, 5);
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let actors: Vec<String> =
        run!(&mut c, |c| ch::table.filter(ch::run_id.eq(applied.id).and(ch::action.eq("delete"))).select(ch::actor).load(c).await).unwrap();
    assert!(!actors.is_empty() && actors.iter().all(|a| a == "sync (applied by sarah@example.com)"), "{actors:?}");

    // Nothing is held any more: Apply is refused.
    match engine.apply_held(me, &name, "sarah@example.com").await {
        Err(Error::Conflict(m)) => assert_eq!(m, server::sync::MSG_NOTHING_HELD),
        other => panic!("{other:?}"),
    }
});

db_test!(removals_below_the_thresholds_or_caused_by_the_window_are_not_held, |db| {
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(many(40)));
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", &host.url("/f.ics")).await;
    let engine = engine(&db);
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(instances(&db).await.len(), 40 + 4);

    // A shorter window: 35 events fall out of it, none left the feed.
    let mut p = db.pool.get().await.unwrap();
    let current = ig::get(&mut p.conn(), me, &name).await.unwrap();
    let patch = Patch { sync_future_days: Some("5".into()), version: Some(current.version), ..Patch::default() };
    ig::update(&mut p.conn(), &db.keys, me, &name, patch).await.unwrap();
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert!(run.deleted_count >= 35, "{}", run.deleted_count);

    // 19 of 41 series leave the feed: under half, and under 20.
    host.set("/f.ics", Reply::Feed(many(21)));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(series_count(&db).await, 22);
});

/// Waits for a background run to finish.
async fn wait_for_run(db: &TestDb, id: i64) -> runs::Run {
    for _ in 0..200 {
        let mut p = db.pool.get().await.unwrap();
        let mut c = p.conn();
        let run: runs::Run = run!(&mut c, |c| server::db::schema::sync_runs::table.find(id).select(runs::Run::as_select()).first(c).await).unwrap();
        if run.finished_at.is_some() {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("run {id} did not finish");
}
