//! Scheduler capacity (issue #12): how fast the sync slots drain 10,000 due small feeds from a
//! local feed host at default settings, next to the feed host's bare request rate; then how
//! late calendars that fall due one after another are picked up (does "next run" hold?).
//! SQLite with one engine; PostgreSQL with two engines, each with its own connection pool and
//! HTTP client, as two processes would be (in one process here, so one run measures both).
//!
//! Run with `make bench` (sets CALSYNC_TEST_DATABASE_URL).
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use server::{
    db::schema::{sync_runs as sr, sync_states as ss},
    domain::{
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    password::Cost,
    providers::fetch::{FeedClient, FeedLimits},
    run,
    sync::{Engine, Settings},
};
use testkit::{
    feeds::{FeedHost, Reply},
    Kind, TestDb,
};

const CALENDARS: usize = 10_000;
const PER_USER: usize = 50;

/// A small feed: five single events in the coming week.
fn small_feed() -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync capacity//EN\r\n");
    for d in 1..=5 {
        let day = (Utc::now().date_naive() + Days::days(d)).format("%Y%m%d");
        text.push_str(&format!("BEGIN:VEVENT\r\nUID:e{d}\r\nDTSTART:{day}T090000Z\r\nDTEND:{day}T100000Z\r\nSUMMARY:Event {d}\r\nEND:VEVENT\r\n"));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

/// 200 users with 50 feed calendars each, all due at once. Returns one actor per user.
async fn calendars(db: &TestDb, url: &str) -> Vec<Actor> {
    let mut actors = Vec::new();
    let mut pooled = db.pool.get().await.unwrap();
    for u in 0..CALENDARS / PER_USER {
        let user = users::create(
            &mut pooled.conn(),
            Cost::Test,
            NewUser {
                email: format!("user{u}@example.com"),
                full_name: String::new(),
                password: "capacity password".into(),
                role: Role::User,
                time_zone: "UTC".into(),
            },
        )
        .await
        .unwrap();
        let actor = Actor::of(&user);
        for c in 0..PER_USER {
            let patch =
                Patch { integration_type: Some("iCal".into()), integration_name: Some(format!("Feed {c}")), ical_url: Some(url.into()), ..Patch::default() };
            ig::create(&mut pooled.conn(), &db.keys, actor, patch).await.unwrap();
        }
        actors.push(actor);
    }
    actors
}

fn engine(db: &TestDb, pool: server::db::Pool) -> Engine {
    let feeds = FeedLimits { allow_private: true, ..FeedLimits::default() };
    Engine::with_feed_client(pool, db.keys.clone(), Arc::new(FeedClient::new(feeds.clone())), Settings { feeds, ..Settings::default() })
}

async fn successes(db: &TestDb) -> i64 {
    let mut pooled = db.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    run!(&mut conn, |c| sr::table.filter(sr::status.eq("Success")).count().get_result::<i64>(c).await).unwrap()
}

/// GETs of the feed, four at a time (the engines' default slots), per second.
async fn bare_rate(url: &str) -> f64 {
    let client = reqwest::Client::new();
    let n = 4000;
    let started = Instant::now();
    futures_util::stream::iter(0..n)
        .map(|_| {
            let client = client.clone();
            async move { client.get(url).send().await.unwrap().bytes().await.unwrap().len() }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    n as f64 / started.elapsed().as_secs_f64()
}

struct Figures {
    label: String,
    drain: Duration,
    bare: f64,
    lag_p50: Duration,
    lag_max: Duration,
}

async fn measure(kind: Kind, engines: usize) -> Figures {
    let db = TestDb::new(kind).await;
    let host = FeedHost::start().await;
    host.set("/small.ics", Reply::Feed(small_feed()));
    let url = host.url("/small.ics");
    let setup = Instant::now();
    calendars(&db, &url).await;
    eprintln!("{kind:?}: {CALENDARS} calendars created in {:.1} s", setup.elapsed().as_secs_f64());
    let bare = bare_rate(&url).await;

    let start = || async {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut running = Vec::new();
        for _ in 0..engines {
            let pool = server::db::Pool::connect(&db.url).await.unwrap();
            running.push(tokio::spawn(engine(&db, pool).scheduler(stopped.clone())));
        }
        (stop, running)
    };
    let (stop, running) = start().await;
    let started = Instant::now();
    while successes(&db).await < CALENDARS as i64 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = started.elapsed();
    stop.send(true).unwrap();
    for r in running {
        r.await.unwrap();
    }

    // "Next run": 1,000 calendars fall due one every 5 ms, from two seconds after the engines
    // start again (as after a deploy); how long after its due time is each run started?
    let base = server::domain::now() + Days::seconds(2);
    let ids: Vec<i64> = {
        let mut pooled = db.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        run!(&mut conn, |c| ss::table.select(ss::integration_id).order(ss::integration_id).limit(1000).load(c).await).unwrap()
    };
    {
        let mut pooled = db.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        for (n, id) in ids.iter().enumerate() {
            let due = base + Days::milliseconds(5 * n as i64);
            run!(&mut conn, |c| diesel::update(ss::table.find(*id)).set(ss::due_at.eq(Some(due))).execute(c).await).unwrap();
        }
    }
    let (stop, running) = start().await;
    let target = CALENDARS as i64 + ids.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while successes(&db).await < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut lags: Vec<Duration> = {
        let mut pooled = db.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        let mut out = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            let due = base + Days::milliseconds(5 * n as i64);
            let started: Option<chrono::NaiveDateTime> = run!(&mut conn, |c| sr::table
                .filter(sr::integration_id.eq(*id).and(sr::started_at.ge(base - Days::seconds(1))))
                .select(diesel::dsl::max(sr::started_at))
                .first(c)
                .await)
            .unwrap();
            out.push(started.map(|s| (s - due).to_std().unwrap_or_default()).unwrap_or(Duration::from_secs(120)));
        }
        out
    };
    lags.sort();
    stop.send(true).unwrap();
    for r in running {
        r.await.unwrap();
    }
    let label = match kind {
        Kind::Sqlite => "SQLite, one engine".to_string(),
        Kind::Postgres => format!("PostgreSQL, {engines} engines"),
    };
    Figures { label, drain, bare, lag_p50: lags[lags.len() / 2], lag_max: lags[lags.len() - 1] }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let runs = [measure(Kind::Sqlite, 1).await, measure(Kind::Postgres, 2).await];
        println!();
        println!("| capacity | syncs/s | feed host's bare rate (4 at a time) | goal | \"next run\" lag p50 / max |");
        println!("|---|---|---|---|---|");
        for (f, goal) in runs.iter().zip([200.0, 500.0]) {
            let rate = CALENDARS as f64 / f.drain.as_secs_f64();
            println!(
                "| {} drains {CALENDARS} due feeds in {:.1} s | {rate:.0} | {:.0} req/s | ≥ {goal:.0} ({:.2}×) | {:.0} ms / {:.0} ms |",
                f.label,
                f.drain.as_secs_f64(),
                f.bare,
                rate / goal,
                f.lag_p50.as_secs_f64() * 1000.0,
                f.lag_max.as_secs_f64() * 1000.0
            );
        }
    });
}
