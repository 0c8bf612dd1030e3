//! Two-way sync against the provider sandbox on loopback (issue #11), on SQLite and
//! PostgreSQL: (a) writing 1,000 bookings into a Google calendar and into an Outlook calendar,
//! next to 1,000 bare create requests to the same sandbox; (b) a sync run that detects and
//! merges 1,000 copies changed in Google, next to the same run without changes.
//!
//! calsync's own request budget for one Google account is 600 a minute (Google's documented
//! per-user default), so 1,000 writes in one go would wait for it; the figures here raise the
//! budgets to measure calsync itself, and the note under them says what the budget adds.
//!
//! Run with `make bench` (sets CALSYNC_TEST_DATABASE_URL).
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use sandbox::Sandbox;
use serde_json::json;
use server::{
    crypto::Secret,
    domain::{
        bookings::{self as bk, NewBooking, Outcome},
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    password::Cost,
    providers::{fetch::FeedClient, pace::Rate},
    sync::{Engine, Settings, Trigger},
};
use testkit::{Kind, TestDb};

const BOOKINGS: usize = 1_000;
const ANA: &str = "ana@example.com";
const MS: &str = "ana@contoso.com";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Figures {
    label: &'static str,
    google_push: Duration,
    outlook_push: Duration,
    google_bare: Duration,
    outlook_bare: Duration,
    quiet_run: Duration,
    merge_run: Duration,
    merged: usize,
}

/// Books 1,000 meetings for `me` over the next 50 days (allowed to overlap).
async fn book_all(db: &TestDb, me: Actor) -> Vec<i64> {
    let mut ids = Vec::with_capacity(BOOKINGS);
    let mut c = db.pool.get().await.unwrap();
    for i in 0..BOOKINGS {
        let day = (Utc::now().date_naive() + Days::days(1 + (i % 50) as i64)).format("%Y-%m-%d").to_string();
        let hour = 7 + (i % 10);
        let new = NewBooking {
            title: format!("Booking {i}"),
            start: format!("{day} {hour:02}:00"),
            end: format!("{day} {hour:02}:30"),
            time_zone: "Europe/Berlin".into(),
            allow_conflict: true,
            ..NewBooking::default()
        };
        match bk::create(&mut c.conn(), me, ANA, new).await.unwrap() {
            Outcome::Booked(b) => ids.push(b.id),
            Outcome::Busy(_) => unreachable!("conflicts allowed"),
        }
    }
    ids
}

/// Pushes every waiting copy; answers how long it took.
async fn push_all(engine: &Engine) -> Duration {
    let started = Instant::now();
    while engine.push_due().await.unwrap() > 0 {}
    started.elapsed()
}

async fn user(db: &TestDb) -> Actor {
    let mut c = db.pool.get().await.unwrap();
    let u = users::create(
        &mut c.conn(),
        Cost::Test,
        NewUser { email: ANA.into(), full_name: String::new(), password: "bench password 1".into(), role: Role::User, time_zone: "UTC".into() },
    )
    .await
    .unwrap();
    Actor::of(&u)
}

async fn connect(db: &TestDb, me: Actor, kind: &str, calendar: &str, access: String, refresh: String) -> String {
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some(kind.into()),
        integration_name: Some(kind.into()),
        calendar_id: Some(calendar.into()),
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(55)).to_rfc3339()),
        is_primary: Some(true),
        ..Patch::default()
    };
    ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name
}

async fn measure(kind: Kind) -> Figures {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let wide = Rate { requests: 1_000_000, per: Duration::from_secs(60) };
    let settings = Settings {
        google: sandbox.google_endpoints(),
        outlook: sandbox.microsoft_endpoints(),
        google_project_rate: wide,
        google_user_rate: wide,
        outlook_mailbox_rate: wide,
        ..Settings::default()
    };
    let client = reqwest::Client::new();

    // (a) Google: 1,000 bookings written, then 1,000 bare inserts.
    let db = TestDb::new(kind).await;
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(settings.feeds.clone())), settings.clone());
    let me = user(&db).await;
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let google = connect(&db, me, "Google Calendar", ANA, access.clone(), refresh).await;
    book_all(&db, me).await;
    let google_push = push_all(&engine).await;
    let written = sandbox.with(|s| s.calendars[ANA].events.len());
    assert_eq!(written, BOOKINGS, "one event per booking");
    sandbox.with(|s| s.add_calendar(ANA, "bare", "Bare", "owner"));
    let url = format!("{}/calendars/bare/events", sandbox.google_api_url());
    let started = Instant::now();
    for i in 0..BOOKINGS {
        let body = json!({"summary": format!("Bare {i}"), "start": {"dateTime": "2026-12-02T10:00:00+01:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2026-12-02T10:30:00+01:00", "timeZone": "Europe/Berlin"}});
        client.post(&url).bearer_auth(&access).json(&body).send().await.unwrap().bytes().await.unwrap();
    }
    let google_bare = started.elapsed();

    // (b) The run that finds nothing changed, then the one that merges 1,000 changed copies.
    engine.sync_and_wait(me, &google, Trigger::Manual).await.unwrap();
    let mut quiet = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let run = engine.sync_and_wait(me, &google, Trigger::Manual).await.unwrap();
        quiet.push(t.elapsed());
        assert_eq!((run.status.as_str(), run.updated_count), ("Success", 0));
    }
    sandbox.with(|s| {
        let ids: Vec<String> = s.calendars[ANA].events.keys().cloned().collect();
        for id in ids {
            let mut e = s.calendars[ANA].events[&id].0.clone();
            e["summary"] = json!(format!("{} (moved in Google)", e["summary"].as_str().unwrap_or("")));
            s.put_event(ANA, &id, e);
        }
    });
    let t = Instant::now();
    let run = engine.sync_and_wait(me, &google, Trigger::Manual).await.unwrap();
    let merge_run = t.elapsed();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let merged = {
        let mut c = db.pool.get().await.unwrap();
        bk::list(&mut c.conn(), me, None, Utc::now(), Utc::now() + Days::days(60))
            .await
            .unwrap()
            .iter()
            .filter(|b| b.title.ends_with("(moved in Google)"))
            .count()
    };
    assert_eq!(merged, BOOKINGS, "every change taken into its booking");

    // (a) Outlook, on a fresh database: the same 1,000 into a Graph calendar.
    let db = TestDb::new(kind).await;
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(settings.feeds.clone())), settings.clone());
    let me = user(&db).await;
    let (access, refresh) = sandbox.with(|s| s.issue_ms_tokens(MS));
    let cal = sandbox.with(|s| s.add_ms_account(MS));
    connect(&db, me, "Outlook Calendar", &cal, access.clone(), refresh).await;
    book_all(&db, me).await;
    let outlook_push = push_all(&engine).await;
    assert_eq!(sandbox.with(|s| s.graph[&cal].events.len()), BOOKINGS);
    let url = format!("{}/me/calendars/{cal}/events", sandbox.graph_url());
    let started = Instant::now();
    for i in 0..BOOKINGS {
        let body = json!({"subject": format!("Bare {i}"), "start": {"dateTime": "2026-12-02T10:00:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2026-12-02T10:30:00", "timeZone": "Europe/Berlin"}});
        client.post(&url).bearer_auth(&access).json(&body).send().await.unwrap().bytes().await.unwrap();
    }
    let outlook_bare = started.elapsed();
    Figures {
        label: match kind {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        },
        google_push,
        outlook_push,
        google_bare,
        outlook_bare,
        quiet_run: median(quiet),
        merge_run,
        merged,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let runs = [measure(Kind::Sqlite).await, measure(Kind::Postgres).await];
        println!();
        println!("| two-way sync, sandbox on loopback | figure | next to | ratio |");
        println!("|---|---|---|---|");
        for f in &runs {
            println!(
                "| 1,000 bookings written into Google, {} | {:.2} s ({:.1} ms each) | 1,000 bare inserts: {:.2} s | {:.2}× |",
                f.label,
                f.google_push.as_secs_f64(),
                ms(f.google_push) / 1000.0,
                f.google_bare.as_secs_f64(),
                ms(f.google_push) / ms(f.google_bare)
            );
            println!(
                "| 1,000 bookings written into Outlook ($batch of 20), {} | {:.2} s ({:.1} ms each) | 1,000 bare creates: {:.2} s | {:.2}× |",
                f.label,
                f.outlook_push.as_secs_f64(),
                ms(f.outlook_push) / 1000.0,
                f.outlook_bare.as_secs_f64(),
                ms(f.outlook_push) / ms(f.outlook_bare)
            );
            println!(
                "| sync run merging {} copies changed in Google, {} | {:.0} ms | the same run without changes: {:.0} ms (median of 5) | {:.1}× |",
                f.merged,
                f.label,
                ms(f.merge_run),
                ms(f.quiet_run),
                ms(f.merge_run) / ms(f.quiet_run)
            );
        }
    });
}
