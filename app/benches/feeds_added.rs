//! Many calendars added at once (issue #21, item 1): 1,000 members' small iCal feeds added one
//! after another through `POST /api/v1/integrations`, with the scheduler of `calsync serve`
//! running at default settings (one process, SQLite, a 60 s tick). Each new calendar is due at
//! once and wakes the scheduler, so syncing starts with the first request, not at the next tick.
//! Prints how long the adding took, when the first sync finished, and when the last did.
//!
//! Run with `make bench` (or `cargo bench -p app --no-default-features --features ssr --bench feeds_added`).
use std::time::{Duration, Instant};

use axum::{body::Body, http::Request};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::calendar_integrations as ci,
    domain::users::{self, NewUser, Role},
    password::Cost,
    run,
};
use testkit::{
    feeds::{FeedHost, Reply},
    Kind, TestDb,
};
use tower::ServiceExt;

const FEEDS: usize = 1_000;

/// A member's small feed: three meetings in the coming weeks.
fn feed(i: usize) -> String {
    let day = chrono::Utc::now().date_naive();
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n");
    for n in 0..3 {
        let at = (day + chrono::Duration::days(1 + n + (i % 7) as i64)).format("%Y%m%d");
        out.push_str(&format!("BEGIN:VEVENT\r\nUID:m{i}-{n}@bench\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:{at}T09{n}000Z\r\nDTEND:{at}T10{n}000Z\r\nSUMMARY:Meeting {n}\r\nEND:VEVENT\r\n"));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// (calendars synced at least once, calendars)
async fn synced(pool: &server::db::Pool) -> (i64, i64) {
    let mut c = pool.get().await.unwrap();
    let mut conn = c.conn();
    let done: i64 = run!(&mut conn, |cc| ci::table.filter(ci::last_sync.is_not_null()).count().get_result(cc).await).unwrap();
    let all: i64 = run!(&mut conn, |cc| ci::table.count().get_result(cc).await).unwrap();
    (done, all)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let db = TestDb::new(Kind::Sqlite).await;
    let host = FeedHost::start().await;
    let mut config = server::config::Config::from_env().expect("config");
    config.database_url = db.url.clone();
    config.password_cost = Cost::Test;
    // Default settings, but the feeds live on loopback.
    config.sync.feeds.allow_private = true;
    let state = app::ssr::AppState::new(db.pool.clone(), config.clone(), db.keys.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(state.engine.clone().dispatch(server::sync::Claim::Due, stopped));
    let options = leptos::config::get_configuration(None).expect("leptos options").leptos_options;
    let router = app::ssr::http::router(state, options);

    // The members and their API tokens (not timed).
    let mut tokens = Vec::with_capacity(FEEDS);
    for i in 0..FEEDS {
        host.set(&format!("/m{i}.ics"), Reply::Feed(feed(i)));
        let mut c = db.pool.get().await.unwrap();
        let new = NewUser {
            email: format!("member{i}@example.com"),
            full_name: String::new(),
            password: "bench password 1".into(),
            role: Role::User,
            time_zone: "UTC".into(),
        };
        let u = users::create(&mut c.conn(), Cost::Test, new).await.unwrap();
        tokens.push(server::domain::api_tokens::create(&mut c.conn(), u.id, "bench", None, &server::domain::audit::By::cli()).await.unwrap().1);
    }

    // Watch the calendars get synced while they are added.
    let started = Instant::now();
    let watcher = {
        let pool = db.pool.clone();
        tokio::spawn(async move {
            let mut first = None;
            loop {
                let (done, all) = synced(&pool).await;
                if done > 0 && first.is_none() {
                    first = Some(started.elapsed());
                }
                if all as usize == FEEDS && done == all {
                    return (first.unwrap_or_default(), started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut slowest = Duration::ZERO;
    for (i, token) in tokens.iter().enumerate() {
        let body = serde_json::json!({"integration_type": "iCal", "integration_name": "Team feed", "ical_url": host.url(&format!("/m{i}.ics"))});
        let req = Request::post("/api/v1/integrations")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let sent = Instant::now();
        let res = router.clone().oneshot(req).await.unwrap();
        slowest = slowest.max(sent.elapsed());
        assert_eq!(res.status().as_u16(), 201, "adding feed {i}");
    }
    let added = started.elapsed();
    let (first, last) = tokio::time::timeout(Duration::from_secs(600), watcher).await.expect("every calendar synced within 10 minutes").unwrap();
    let _ = stop.send(true);
    let _ = scheduler.await;
    let (done, all) = synced(&db.pool).await;
    println!(
        "{FEEDS} small iCal feeds added through POST /api/v1/integrations (SQLite, one process, default settings: tick {} s, {} sync slots):",
        config.sync.tick.as_secs(),
        config.sync.concurrency
    );
    println!("  added in {:.1} s (slowest request {:.0} ms)", added.as_secs_f64(), slowest.as_secs_f64() * 1000.0);
    println!("  first sync finished {:.2} s after the first request", first.as_secs_f64());
    println!(
        "  all {done} of {all} synced {:.1} s after the first request, {:.1} s after the first sync finished (target ≤ 30 s), {:.1} s after the last was added",
        last.as_secs_f64(),
        (last - first).as_secs_f64(),
        (last.saturating_sub(added)).as_secs_f64()
    );
    println!("  feed host requests: {}", host.requests());
}
