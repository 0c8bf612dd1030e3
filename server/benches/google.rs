//! Google Calendar sync against the provider sandbox on loopback (issue #8): a full sync of a
//! 10,000-event calendar (20 % recurring, pages of 250) and a no-change incremental sync, next
//! to one bare HTTP round trip to the sandbox; on SQLite and PostgreSQL. No rate budget applies
//! (calsync has none of its own yet; the sandbox answers as fast as it can).
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
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    password::Cost,
    providers::{fetch::FeedClient, google::GoogleCalendar, ical_feed::ReadLimits, Cursor, Provider},
    sync::{default_window, Engine, Settings, Trigger},
};
use testkit::{Kind, TestDb};

mod provider;
use provider::{median, peak_mb, Figures};

const EVENTS: usize = 10_000;
const ANA: &str = "ana@example.com";

/// 8,000 single events over the window and 2,000 weekly series of ten (20 % recurring).
fn seed(sandbox: &Sandbox) {
    let today = Utc::now().date_naive();
    sandbox.with(|s| {
        s.add_account(ANA);
        for i in 0..EVENTS {
            let day = today + Days::days((i % 110) as i64 - 20);
            let hour = 7 + (i % 10) as u32;
            let at = |h: u32| format!("{}T{h:02}:00:00Z", day.format("%Y-%m-%d"));
            let mut event = json!({"summary": format!("Meeting {i}"), "start": {"dateTime": at(hour)}, "end": {"dateTime": at(hour + 1)}});
            if i % 5 == 0 {
                event["start"]["timeZone"] = json!("Europe/Berlin");
                event["end"]["timeZone"] = json!("Europe/Berlin");
                event["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=10"]);
            }
            s.put_event(ANA, &format!("ev{i:05}"), event);
        }
    });
}

async fn measure(kind: Kind) -> Figures {
    let db = TestDb::new(kind).await;
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    seed(&sandbox);
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let mut pooled = db.pool.get().await.unwrap();
    let user = users::create(
        &mut pooled.conn(),
        Cost::Test,
        NewUser { email: ANA.into(), full_name: String::new(), password: "bench password 1".into(), role: Role::User, time_zone: "UTC".into() },
    )
    .await
    .unwrap();
    let me = Actor::of(&user);
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some(ANA.into()),
        access_token: Some(Some(Secret::new(access.clone()))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(55)).to_rfc3339()),
        ..Patch::default()
    };
    let name = ig::create(&mut pooled.conn(), &db.keys, me, patch).await.unwrap().integration.name;
    drop(pooled);
    let settings = Settings { google: sandbox.google_endpoints(), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(settings.feeds.clone())), settings.clone());

    // The adapter alone, in full (what the engine's fetch costs without the store).
    let adapter = GoogleCalendar {
        client: server::providers::http::client(Duration::from_secs(30)),
        api: sandbox.google_api_url(),
        calendar_id: ANA.into(),
        access_token: Secret::new(access.clone()),
        floating: chrono_tz::UTC,
        limits: ReadLimits {
            max_instances: settings.max_instances,
            max_steps: settings.max_steps,
            deadline: settings.read_deadline,
            cursor_body_max: settings.cursor_body_max,
        },
        repair_every: settings.repair_every,
        pacer: std::sync::Arc::new(server::providers::pace::Pacer::new("Google Calendar", None)),
        owner: server::busy::Owner::new([ANA]),
    };
    let window = default_window(server::domain::now());
    let started = Instant::now();
    adapter.fetch(window, &Cursor::default()).await.unwrap();
    let full_fetch = started.elapsed();

    let before = peak_mb();
    let started = Instant::now();
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let full_run = started.elapsed();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let peak_growth = peak_mb() - before;
    let instances = run.created_count;

    // No change: the adapter's incremental fetch, the whole run, and one bare round trip.
    let cursor = {
        let mut pooled = db.pool.get().await.unwrap();
        let mut conn = pooled.conn();
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use server::db::schema::sync_cursors as sc;
        let state: String = server::run!(&mut conn, |c| sc::table.select(sc::state).first(c).await).unwrap();
        Cursor(Some(state))
    };
    let token = serde_json::from_str::<serde_json::Value>(cursor.0.as_deref().unwrap()).unwrap()["sync_token"].as_str().unwrap().to_string();
    let client = server::providers::http::client(Duration::from_secs(30));
    let url = format!("{}/calendars/{ANA}/events", sandbox.google_api_url());
    let mut fetches = Vec::new();
    let mut runs = Vec::new();
    let mut bares = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        client.get(&url).query(&[("syncToken", token.as_str()), ("maxResults", "250")]).bearer_auth(&access).send().await.unwrap().bytes().await.unwrap();
        bares.push(t.elapsed());
        let t = Instant::now();
        adapter.fetch(window, &cursor).await.unwrap();
        fetches.push(t.elapsed());
        let t = Instant::now();
        let r = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
        runs.push(t.elapsed());
        assert_eq!((r.status.as_str(), r.created_count + r.updated_count + r.deleted_count), ("Success", 0));
    }
    Figures {
        label: match kind {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        },
        full_run,
        full_fetch,
        instances,
        incremental_fetch: median(fetches),
        incremental_run: median(runs),
        bare: median(bares),
        peak_growth,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let runs = [measure(Kind::Sqlite).await, measure(Kind::Postgres).await];
        provider::print(
            "Google Calendar, 10,000 events (20 % recurring), sandbox on loopback",
            "the adapter's full fetch alone (41 pages of 250, expanded)",
            &runs,
        );
    });
}
