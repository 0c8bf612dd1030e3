//! One hostile feed cannot hurt anyone else (issue #12): `/health` latency and another user's
//! sync while the app reads each of the hostile feeds, next to `/health` at rest. The
//! whole app runs on a loopback port at default settings (SQLite), the feeds come from a local
//! feed host, and `/health` is asked every 20 ms over a fresh connection, as a load balancer does.
//!
//! Run with `make bench` (or `cargo bench -p app --no-default-features --features ssr --bench health`).
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use server::{
    domain::{
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    password::Cost,
    sync::Trigger,
};
use testkit::{
    feeds::{FeedHost, Reply},
    Kind, TestDb,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn hostile_feeds() -> Vec<(&'static str, String)> {
    let secondly: String =
        (0..250_000).map(|i| format!("BEGIN:VEVENT\r\nUID:s{i}\r\nDTSTART:19000101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n")).collect();
    vec![
        ("1,000,000 BEGIN:VEVENT under a stray BEGIN:X", format!("BEGIN:X\r\n{}", "BEGIN:VEVENT\r\n".repeat(1_000_000))),
        (
            "500,000 nested BEGIN:X then 500,000 END:Y",
            format!("BEGIN:VCALENDAR\r\n{}{}END:VCALENDAR\r\n", "BEGIN:X\r\n".repeat(500_000), "END:Y\r\n".repeat(500_000)),
        ),
        ("250,000 FREQ=SECONDLY rules from 1900", format!("BEGIN:VCALENDAR\r\n{secondly}END:VCALENDAR\r\n")),
    ]
}

async fn health_ms(addr: SocketAddr) -> f64 {
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..answer.len().min(200)]));
    start.elapsed().as_secs_f64() * 1000.0
}

/// Asks `/health` every 20 ms until `stop`, returning the latencies.
async fn probe(addr: SocketAddr, stop: tokio::sync::watch::Receiver<bool>) -> Vec<f64> {
    let mut out = Vec::new();
    while !*stop.borrow() {
        out.push(health_ms(addr).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    out
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!("{} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", ms.len(), at(0.5), at(0.99), ms[ms.len() - 1])
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let db = TestDb::new(Kind::Sqlite).await;
    let host = FeedHost::start().await;
    host.set("/fine.ics", Reply::Feed("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20991201T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".into()));
    let mut config = server::config::Config::from_env().expect("config");
    config.database_url = db.url.clone();
    config.password_cost = Cost::Test;
    // Default limits, but the feeds live on loopback and the biggest is 22 MB.
    config.sync.feeds.allow_private = true;
    config.sync.feeds.max_bytes = 64 * 1024 * 1024;
    let state = app::ssr::AppState::new(db.pool.clone(), config.clone(), db.keys.clone());
    let engine = state.engine.clone();
    let options = leptos::config::get_configuration(None).expect("leptos options").leptos_options;
    let router = app::ssr::http::router(state, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await });

    let mut pooled = db.pool.get().await.unwrap();
    let mut person = async |email: &str| {
        let new = NewUser { email: email.into(), full_name: String::new(), password: "bench password 1".into(), role: Role::User, time_zone: "UTC".into() };
        Actor::of(&users::create(&mut pooled.conn(), Cost::Test, new).await.unwrap())
    };
    let mallory = person("mallory@example.com").await;
    let sarah = person("sarah@example.com").await;
    drop(pooled);
    let calendar = async |who: Actor, name: &str, url: String| {
        let mut pooled = db.pool.get().await.unwrap();
        let patch = Patch { integration_type: Some("iCal".into()), integration_name: Some(name.into()), ical_url: Some(url), ..Patch::default() };
        ig::create(&mut pooled.conn(), &db.keys, who, patch).await.unwrap().integration.name
    };
    let fine = calendar(sarah, "Fine", host.url("/fine.ics")).await;

    // At rest.
    let (tx, rx) = tokio::sync::watch::channel(false);
    let idle = tokio::spawn(probe(addr, rx));
    tokio::time::sleep(Duration::from_secs(3)).await;
    tx.send(true).unwrap();
    println!("/health at rest: {}", summary(idle.await.unwrap()));
    println!("limits: CALSYNC_SYNC_READ_SECONDS {} s, CALSYNC_SYNC_MAX_STEPS {}", config.sync.read_deadline.as_secs(), config.sync.max_steps);

    for (i, (what, text)) in hostile_feeds().into_iter().enumerate() {
        let path = format!("/hostile{i}.ics");
        let bytes = text.len();
        host.set(&path, Reply::Feed(text));
        let name = calendar(mallory, &format!("Hostile {i}"), host.url(&path)).await;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let probes = tokio::spawn(probe(addr, rx));
        let started = Instant::now();
        let hostile = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.sync_and_wait(mallory, &name, Trigger::Manual).await })
        };
        // Sarah's calendar, half a second into the hostile read.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let other = Instant::now();
        let fine_run = engine.sync_and_wait(sarah, &fine, Trigger::Manual).await.expect("fine sync");
        let other_ms = other.elapsed().as_secs_f64() * 1000.0;
        let run = hostile.await.unwrap().expect("hostile run");
        let hostile_s = started.elapsed().as_secs_f64();
        tx.send(true).unwrap();
        let latencies = probes.await.unwrap();
        println!("\n{what} ({:.1} MB):", bytes as f64 / 1e6);
        println!("  hostile run: {} in {hostile_s:.2} s — {}", run.status, run.error.as_deref().unwrap_or("no error"));
        println!("  another user's sync meanwhile: {} in {other_ms:.0} ms", fine_run.status);
        println!("  /health meanwhile: {}", summary(latencies));
    }
}
