//! Operations (issue #10), through the whole router on SQLite and PostgreSQL:
//! (e) an export feed of a 10,000-event calendar — server time and bytes of `GET /ics/…`, the
//!     304 of an unchanged feed, and `calsync ical inspect` reading the private feed back;
//! (h) Admin → Sync health over 10,000 calendars of which 1,000 are failing — server time per
//!     request of `GET /api/v1/admin/sync-health` and of the page itself.
//!
//! Run with `make bench` (sets CALSYNC_BIN and CALSYNC_TEST_DATABASE_URL).
use std::time::{Duration, Instant};

use axum::{body::Body, http::Request};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{calendar_integrations as ci, sync_states as ss},
    domain::{
        audit::By,
        exports,
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    password::Cost,
    run,
    sync::Trigger,
};
use testkit::{
    feeds::{FeedHost, Reply},
    Kind, TestDb,
};
use tower::ServiceExt;

#[path = "../../server/benches/synthetic/mod.rs"]
mod synthetic;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn send(app: &axum::Router, req: Request<Body>) -> (Answer, Duration) {
    let started = Instant::now();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec();
    (Answer { status, headers, body }, started.elapsed())
}

fn get(path: &str, header: Option<(&str, &str)>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some((k, v)) = header {
        b = b.header(k, v);
    }
    b.body(Body::empty()).unwrap()
}

async fn person(db: &TestDb, email: &str, role: Role) -> Actor {
    let mut c = db.pool.get().await.unwrap();
    let new = NewUser { email: email.into(), full_name: String::new(), password: "bench password 1".into(), role, time_zone: "UTC".into() };
    Actor::of(&users::create(&mut c.conn(), Cost::Test, new).await.unwrap())
}

fn router(db: &TestDb) -> axum::Router {
    let mut config = server::config::Config::from_env().expect("config");
    config.database_url = db.url.clone();
    config.password_cost = Cost::Test;
    config.sync.feeds.allow_private = true;
    config.sync.feeds.max_bytes = 64 * 1024 * 1024;
    let state = app::ssr::AppState::new(db.pool.clone(), config, db.keys.clone());
    let options = leptos::config::get_configuration(None).expect("leptos options").leptos_options;
    app::ssr::http::router(state, options)
}

struct ExportFigures {
    label: &'static str,
    instances: i64,
    private: (Duration, usize, usize),
    freebusy: (Duration, usize, usize),
    not_modified: Duration,
    inspect: Duration,
    inspected: usize,
}

async fn export(kind: Kind, label: &'static str) -> ExportFigures {
    let db = TestDb::new(kind).await;
    let host = FeedHost::start().await;
    host.set("/big.ics", Reply::Feed(synthetic::synthetic_feed(10_000, synthetic::PAST_DAYS + synthetic::FUTURE_DAYS, 5)));
    let me = person(&db, "bench@example.com", Role::User).await;
    let name = {
        let mut c = db.pool.get().await.unwrap();
        let patch = Patch {
            integration_type: Some("iCal".into()),
            integration_name: Some("Big".into()),
            ical_url: Some(host.url("/big.ics")),
            sync_past_days: Some(synthetic::PAST_DAYS.to_string()),
            sync_future_days: Some(synthetic::FUTURE_DAYS.to_string()),
            ..Patch::default()
        };
        ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name
    };
    let app_state_router = router(&db);
    let engine = {
        let feeds = server::providers::fetch::FeedLimits { allow_private: true, max_bytes: 64 * 1024 * 1024, ..Default::default() };
        server::sync::Engine::with_feed_client(
            db.pool.clone(),
            db.keys.clone(),
            std::sync::Arc::new(server::providers::fetch::FeedClient::new(feeds.clone())),
            server::sync::Settings { feeds, ..Default::default() },
        )
    };
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let instances = run.created_count as i64;
    let link = async |kind: &str| {
        let mut c = db.pool.get().await.unwrap();
        let (_, token) = exports::create(&mut c.conn(), me, exports::NewLink { kind: Some(kind.into()), ..Default::default() }, &By::cli()).await.unwrap();
        format!("/ics/{token}.ics")
    };
    let (private_path, freebusy_path) = (link("private").await, link("freebusy").await);
    let measure = async |path: &str| {
        let mut samples = Vec::new();
        let mut last = None;
        for _ in 0..7 {
            let (a, took) = send(&app_state_router, get(path, None)).await;
            assert_eq!(a.status, 200);
            samples.push(took);
            last = Some(a);
        }
        let a = last.unwrap();
        let events = String::from_utf8_lossy(&a.body).matches("BEGIN:VEVENT").count();
        (median(samples), a.body.len(), events, a)
    };
    let (private_time, private_bytes, private_events, private_answer) = measure(&private_path).await;
    let (freebusy_time, freebusy_bytes, freebusy_events, _) = measure(&freebusy_path).await;
    let etag = private_answer.headers["etag"].to_str().unwrap().to_owned();
    let mut samples = Vec::new();
    for _ in 0..7 {
        let (a, took) = send(&app_state_router, get(&private_path, Some(("if-none-match", &etag)))).await;
        assert_eq!(a.status, 304);
        samples.push(took);
    }
    let not_modified = median(samples);

    // calsync's own reader on the exported file, as a user would run it.
    let file = std::env::temp_dir().join(format!("calsync-export-{}.ics", std::process::id()));
    std::fs::write(&file, &private_answer.body).unwrap();
    let bin = std::env::var("CALSYNC_BIN").unwrap_or_else(|_| "target/release/calsync".into());
    let from = (chrono::Utc::now().date_naive() - chrono::Duration::days(synthetic::PAST_DAYS)).to_string();
    let to = (chrono::Utc::now().date_naive() + chrono::Duration::days(synthetic::FUTURE_DAYS + 1)).to_string();
    let mut samples = Vec::new();
    let mut inspected = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let out = std::process::Command::new(&bin)
            .args(["ical", "inspect"])
            .arg(&file)
            .args(["--from", &from, "--to", &to, "--json"])
            .output()
            .expect("calsync ical inspect");
        samples.push(started.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        inspected = json.as_array().map(|a| a.len()).unwrap_or(0);
    }
    let _ = std::fs::remove_file(&file);
    ExportFigures {
        label,
        instances,
        private: (private_time, private_bytes, private_events),
        freebusy: (freebusy_time, freebusy_bytes, freebusy_events),
        not_modified,
        inspect: median(samples),
        inspected,
    }
}

struct HealthFigures {
    label: &'static str,
    seeded: Duration,
    api: Duration,
    items: usize,
    page: Duration,
    page_bytes: usize,
}

async fn health(kind: Kind, label: &'static str) -> HealthFigures {
    const USERS: usize = 200;
    const PER_USER: usize = 50;
    let db = TestDb::new(kind).await;
    let admin = person(&db, "admin@example.com", Role::Admin).await;
    let started = Instant::now();
    let mut names = Vec::new();
    for u in 0..USERS {
        let who = person(&db, &format!("user{u}@example.com"), Role::User).await;
        let mut c = db.pool.get().await.unwrap();
        for n in 0..PER_USER {
            let patch = Patch {
                integration_type: Some("iCal".into()),
                integration_name: Some(format!("Feed {n}")),
                ical_url: Some(format!("https://calendar.example.com/{u}/{n}.ics")),
                ..Patch::default()
            };
            names.push(ig::create(&mut c.conn(), &db.keys, who, patch).await.unwrap().integration.name);
        }
    }
    // 9,000 synced a minute ago; 1,000 failing (every tenth) since an hour ago.
    {
        let mut c = db.pool.get().await.unwrap();
        let now = server::domain::now();
        run!(&mut c.conn(), |cc| diesel::update(ci::table)
            .set((ci::sync_status.eq("Success"), ci::last_sync.eq(Some(now - chrono::Duration::minutes(1)))))
            .execute(cc)
            .await)
        .unwrap();
        let failing: Vec<&String> = names.iter().step_by(10).collect();
        run!(&mut c.conn(), |cc| diesel::update(ci::table.filter(ci::name.eq_any(&failing)))
            .set((
                ci::sync_status.eq("Failed"),
                ci::last_sync.eq(Some(now - chrono::Duration::hours(1))),
                ci::sync_error_log.eq(Some("The feed server answered 404 Not Found: check the URL.\nMore detail."))
            ))
            .execute(cc)
            .await)
        .unwrap();
        let ids: Vec<i64> = run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq_any(&failing)).select(ci::id).load(cc).await).unwrap();
        run!(&mut c.conn(), |cc| diesel::update(ss::table.filter(ss::integration_id.eq_any(&ids))).set(ss::failures.eq(2)).execute(cc).await).unwrap();
    }
    let seeded = started.elapsed();
    let token = {
        let mut c = db.pool.get().await.unwrap();
        server::domain::api_tokens::create(&mut c.conn(), admin.user_id, "bench", None, &By::cli()).await.unwrap().1
    };
    let app = router(&db);
    let auth = format!("Bearer {token}");
    let mut samples = Vec::new();
    let mut items = 0;
    for _ in 0..15 {
        let (a, took) = send(&app, get("/api/v1/admin/sync-health", Some(("authorization", &auth)))).await;
        assert_eq!(a.status, 200);
        samples.push(took);
        items = serde_json::from_slice::<serde_json::Value>(&a.body).unwrap()["items"].as_array().unwrap().len();
    }
    let api = median(samples);
    // The page, rendered on the server for a signed-in admin.
    let sign_in = Request::post(<app::api::auth::SignIn as leptos::server_fn::ServerFn>::PATH)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .header("origin", "http://127.0.0.1:3000")
        .body(Body::from("email=admin%40example.com&password=bench+password+1&next=/"))
        .unwrap();
    let (a, _) = send(&app, sign_in).await;
    let cookie = a
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.contains("calsync_session="))
        .expect("signed in");
    let mut samples = Vec::new();
    let mut page_bytes = 0;
    for _ in 0..9 {
        let (a, took) = send(&app, get("/admin/sync-health", Some(("cookie", &cookie)))).await;
        assert_eq!(a.status, 200);
        assert!(String::from_utf8_lossy(&a.body).contains("Feed 0"));
        samples.push(took);
        page_bytes = a.body.len();
    }
    HealthFigures { label, seeded, api, items, page: median(samples), page_bytes }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut exports_done = Vec::new();
    let mut health_done = Vec::new();
    for (kind, label) in [(Kind::Sqlite, "SQLite"), (Kind::Postgres, "PostgreSQL")] {
        exports_done.push(export(kind, label).await);
        health_done.push(health(kind, label).await);
    }
    println!("\n(e) export of a 10,000-event calendar (GET /ics/…, whole router, median of 7)");
    println!("| database | stored instances | private feed | free/busy feed | 304 (unchanged) | `calsync ical inspect` on the private feed (median of 5) |");
    println!("|---|---|---|---|---|---|");
    for f in &exports_done {
        println!(
            "| {} | {} | {} · {:.2} MB · {} VEVENTs | {} · {:.2} MB · {} VEVENTs | {} | {} → {} instances |",
            f.label,
            f.instances,
            ms(f.private.0),
            f.private.1 as f64 / 1e6,
            f.private.2,
            ms(f.freebusy.0),
            f.freebusy.1 as f64 / 1e6,
            f.freebusy.2,
            ms(f.not_modified),
            ms(f.inspect),
            f.inspected
        );
    }
    println!("\n(h) Admin → Sync health, 10,000 calendars of which 1,000 failing (whole router)");
    println!("| database | seeding | GET /api/v1/admin/sync-health (median of 15) | the page, server-rendered (median of 9) |");
    println!("|---|---|---|---|");
    for f in &health_done {
        println!(
            "| {} | {:.1} s | {} ({} items) | {} ({:.0} KB of HTML) |",
            f.label,
            f.seeded.as_secs_f64(),
            ms(f.api),
            f.items,
            ms(f.page),
            f.page_bytes as f64 / 1024.0
        );
    }
}
