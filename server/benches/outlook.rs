//! Outlook sync against the provider sandbox's Graph on loopback (issue #8): a full round of a
//! 10,000-event calendar (20 % recurring: occurrences of 200 series; pages as calsync asks
//! them, `Prefer: odata.maxpagesize=500`) and a no-change incremental round, next to one bare
//! HTTP round trip; on SQLite and PostgreSQL, under the default per-mailbox budget (10,000
//! requests per 10 minutes; a few dozen are used).
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
    providers::{fetch::FeedClient, outlook::OutlookCalendar, Cursor, Provider},
    sync::{default_window, Engine, Settings, Trigger},
};
use testkit::{Kind, TestDb};

mod provider;
use provider::{median, peak_mb, Figures};

const EVENTS: usize = 10_000;
const ANA: &str = "ana@contoso.com";

/// 8,000 single events over the window and 2,000 occurrences of 200 weekly series of ten, in
/// Berlin's zone by its Windows name (20 % recurring). Returns the calendar's id.
fn seed(sandbox: &Sandbox) -> String {
    let today = Utc::now().date_naive();
    sandbox.with(|s| {
        let cal = s.add_ms_account(ANA);
        for i in 0..EVENTS {
            let recurring = i % 5 == 0;
            let (day, series) = match recurring {
                true => (today + Days::days(7 * ((i / 5) % 10) as i64 - 14), Some((i / 5) / 10)),
                false => (today + Days::days((i % 110) as i64 - 20), None),
            };
            let hour = 7 + (i % 10) as u32;
            let at = |h: u32| format!("{}T{h:02}:00:00.0000000", day.format("%Y-%m-%d"));
            let zone = if recurring { "W. Europe Standard Time" } else { "UTC" };
            let mut event = json!({"subject": format!("Meeting {i}"), "start": {"dateTime": at(hour), "timeZone": zone}, "end": {"dateTime": at(hour + 1), "timeZone": zone}});
            if let Some(n) = series {
                event["type"] = json!("occurrence");
                event["seriesMasterId"] = json!(format!("series{n:03}"));
                event["originalStart"] = json!(format!("{}T{hour:02}:00:00Z", day.format("%Y-%m-%d")));
            }
            s.put_graph_event(&cal, &format!("ev{i:05}"), event);
        }
        cal
    })
}

async fn measure(kind: Kind) -> Figures {
    let db = TestDb::new(kind).await;
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let calendar = seed(&sandbox);
    let (access, refresh) = sandbox.with(|s| s.issue_ms_tokens(ANA));
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
        integration_type: Some("Outlook Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some(calendar.clone()),
        access_token: Some(Some(Secret::new(access.clone()))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(55)).to_rfc3339()),
        ..Patch::default()
    };
    let name = ig::create(&mut pooled.conn(), &db.keys, me, patch).await.unwrap().integration.name;
    drop(pooled);
    let settings = Settings { outlook: sandbox.microsoft_endpoints(), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(settings.feeds.clone())), settings.clone());

    // The adapter alone, in full (what the engine's fetch costs without the store).
    let adapter = OutlookCalendar {
        client: server::providers::http::client(Duration::from_secs(30)),
        graph: sandbox.graph_url(),
        calendar_id: calendar.clone(),
        access_token: Secret::new(access.clone()),
        repair_every: settings.repair_every,
        pacer: std::sync::Arc::new(server::providers::pace::Pacer::new("Outlook", None)),
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
    let delta = serde_json::from_str::<serde_json::Value>(cursor.0.as_deref().unwrap()).unwrap()["delta_link"].as_str().unwrap().to_string();
    let client = server::providers::http::client(Duration::from_secs(30));
    let mut fetches = Vec::new();
    let mut runs = Vec::new();
    let mut bares = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        client.get(&delta).bearer_auth(&access).send().await.unwrap().bytes().await.unwrap();
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
        provider::print("Outlook, 10,000 events (20 % recurring), sandbox on loopback", "the adapter's full round alone (20 pages of 500)", &runs);
    });
}
