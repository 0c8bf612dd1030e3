//! The sync benchmarks of issue #4, in one run with figures and ratios (not timed tests):
//! (a) parse + expand + JSON through `calsync ical inspect --json` on a synthetic feed of
//!     10,000 events (20% weekly recurring, EXDATEs, overrides, three time zones);
//! (b) a full sync of it into SQLite and PostgreSQL, next to a raw bulk insert of the same rows;
//! (c) a repeated sync with the feed unchanged (200 with the same body, and 304);
//! (d) a 90-day availability query over 5,000 events.
//!
//! Run with `make bench` (starts PostgreSQL, builds the release binary, sets CALSYNC_BIN and
//! CALSYNC_TEST_DATABASE_URL).
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use server::{
    domain::{
        availability,
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    events::Snapshot,
    ical,
    password::Cost,
    providers::fetch::{FeedClient, FeedLimits},
    sync::{Engine, Settings, Trigger},
};
use testkit::{
    feeds::{FeedHost, Reply},
    Kind, TestDb,
};

mod synthetic;
use synthetic::{synthetic_feed, FUTURE_DAYS, PAST_DAYS};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

async fn owner(db: &TestDb) -> Actor {
    let mut c = db.pool.get().await.unwrap();
    let u = users::create(
        &mut c.conn(),
        Cost::Test,
        NewUser { email: "bench@example.com".into(), full_name: String::new(), password: "bench password".into(), role: Role::User, time_zone: "UTC".into() },
    )
    .await
    .unwrap();
    Actor::of(&u)
}

async fn calendar(db: &TestDb, actor: Actor, url: &str, future: i64) -> String {
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("iCal".into()),
        integration_name: Some("Bench".into()),
        ical_url: Some(url.into()),
        sync_past_days: Some(PAST_DAYS.to_string()),
        sync_future_days: Some(future.to_string()),
        ..Patch::default()
    };
    ig::create(&mut c.conn(), &db.keys, actor, patch).await.unwrap().integration.name
}

fn engine(db: &TestDb) -> Engine {
    let feeds = FeedLimits { allow_private: true, ..FeedLimits::default() };
    Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds.clone())), Settings { feeds, ..Settings::default() })
}

/// The same rows a first sync writes (series, instances and their history), written by the
/// same bulk-insert code in one transaction, without fetching, parsing, expanding or diffing.
async fn raw_insert(db: &TestDb, integration_id: i64, snapshot: Snapshot) -> Duration {
    let mut pooled = db.pool.get().await.unwrap();
    let started = Instant::now();
    pooled
        .conn()
        .write_tx(move |mut c| {
            Box::pin(async move {
                server::domain::stored_events::insert_all(
                    &mut c,
                    integration_id,
                    &server::domain::stored_events::Origin { run_id: None, applied_by: None, at: server::domain::now() },
                    &snapshot,
                )
                .await
            })
        })
        .await
        .unwrap();
    started.elapsed()
}

struct Line {
    what: String,
    figure: String,
    target: String,
    ratio: String,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let mut lines = Vec::new();
    let feed = synthetic_feed(10_000, PAST_DAYS + 330, 5);
    let path = std::env::temp_dir().join("calsync-bench-feed.ics");
    std::fs::write(&path, &feed).unwrap();
    let from = (Utc::now().date_naive() - Days::days(PAST_DAYS)).to_string();
    let to = (Utc::now().date_naive() + Days::days(FUTURE_DAYS + 1)).to_string();

    // (a) through the binary, as a support person runs it.
    let instances_in_window = {
        let mut cal = ical::parse(feed.as_bytes()).unwrap();
        let opts = ical::Options { from: ical_at(&from), to: ical_at(&to), floating: chrono_tz::UTC, max_instances: 1_000_000 };
        ical::expand(&mut cal, opts).instances.len()
    };
    match std::env::var("CALSYNC_BIN") {
        Ok(bin) => {
            // As a user runs it: `calsync ical inspect FEED --json > out.json`, the whole process
            // from start to the last byte written.
            let out_path = std::env::temp_dir().join("calsync-bench-out.json");
            let mut runs = Vec::new();
            for _ in 0..9 {
                let out_file = std::fs::File::create(&out_path).unwrap();
                let started = Instant::now();
                let status = std::process::Command::new(&bin)
                    .args(["ical", "inspect", path.to_str().unwrap(), "--from", &from, "--to", &to, "--json"])
                    .env("CALSYNC_SYNC_MAX_INSTANCES", "1000000")
                    .stdout(out_file)
                    .status()
                    .expect("run calsync");
                runs.push(started.elapsed());
                assert!(status.success());
                let written = std::fs::read(&out_path).unwrap();
                assert_eq!(written.iter().filter(|&&b| b == b'\n').count(), instances_in_window + 2);
            }
            let t = median(runs);
            let rate = instances_in_window as f64 / t.as_secs_f64();
            lines.push(Line {
                what: format!("(a) `calsync ical inspect FEED --json > out.json`: {} KB, 10,000 events → {instances_in_window} instances", feed.len() / 1024),
                figure: format!("{} = {:.0} instances/s", ms(t), rate),
                target: "≥ 600,000/s".into(),
                ratio: format!("{:.2}× the target", rate / 600_000.0),
            });
            // The same file through Python's recurring-ical-events, as whole processes.
            match std::env::var("CALSYNC_PEER_PYTHON") {
                Ok(python) => {
                    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer/count_instances.py");
                    let mut peer_runs = Vec::new();
                    let mut count = String::new();
                    for _ in 0..3 {
                        let started = Instant::now();
                        let out = std::process::Command::new(&python).args([script, path.to_str().unwrap(), &from, &to]).output().expect("run the peer");
                        peer_runs.push(started.elapsed());
                        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                        count = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    }
                    let peer = median(peer_runs);
                    lines.push(Line {
                        what: format!("(a′) the same file through recurring-ical-events 3.8.2 (Python, whole process): {count} instances"),
                        figure: format!("{:.2} s; calsync's whole process {}", peer.as_secs_f64(), ms(t)),
                        target: "calsync ≥ 100× faster".into(),
                        ratio: format!("{:.0}× faster", peer.as_secs_f64() / t.as_secs_f64()),
                    });
                }
                Err(_) => eprintln!("CALSYNC_PEER_PYTHON is not set: skipping the peer; `make bench` sets it"),
            }
        }
        Err(_) => eprintln!("CALSYNC_BIN is not set: skipping (a); `make bench` sets it"),
    }

    for kind in [Kind::Sqlite, Kind::Postgres] {
        let label = if kind == Kind::Sqlite { "SQLite" } else { "PostgreSQL" };
        // (b) a full sync, and the raw insert of the same rows.
        let db = TestDb::new(kind).await;
        let me = owner(&db).await;
        let host = FeedHost::start().await;
        host.set("/feed.ics", Reply::Feed(feed.clone()));
        host.set("/plain.ics", Reply::Plain(feed.clone()));
        let name = calendar(&db, me, &host.url("/feed.ics"), FUTURE_DAYS).await;
        let engine = self::engine(&db);
        let started = Instant::now();
        let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
        let full = started.elapsed();
        assert_eq!(run.status, "Success", "{:?}", run.error);
        let peak = peak_rss_mb();

        let raw_db = TestDb::new(kind).await;
        let raw_owner = owner(&raw_db).await;
        let raw_name = calendar(&raw_db, raw_owner, "https://example.com/x.ics", FUTURE_DAYS).await;
        let raw_id = {
            let mut c = raw_db.pool.get().await.unwrap();
            ig::get(&mut c.conn(), raw_owner, &raw_name).await.unwrap().id
        };
        let mut cal = ical::parse(feed.as_bytes()).unwrap();
        let window = {
            let mut c = db.pool.get().await.unwrap();
            server::sync::window_for(&ig::get(&mut c.conn(), me, &name).await.unwrap(), server::domain::now())
        };
        let expanded = ical::expand(&mut cal, ical::Options { from: window.from, to: window.to, floating: chrono_tz::UTC, max_instances: 100_000 });
        let snapshot = Snapshot { series: expanded.series, instances: expanded.instances };
        assert_eq!(snapshot.instances.len() as i32, run.created_count);
        let (instances, series) = (snapshot.instances.len(), snapshot.series.len());
        let raw = raw_insert(&raw_db, raw_id, snapshot).await;
        lines.push(Line {
            what: format!("(b) full sync into {label}: {instances} instances + {series} series + {} history rows", instances + series),
            figure: format!("{} (raw insert of the same rows {})", ms(full), ms(raw)),
            target: "≤ 1 s and ≤ 2× raw".into(),
            ratio: format!("{:.2}× raw", full.as_secs_f64() / raw.as_secs_f64()),
        });
        if kind == Kind::Sqlite {
            lines.push(Line {
                what: "    peak memory of the process during (b) (VmHWM)".into(),
                figure: format!("{peak:.0} MB"),
                target: "≤ 150 MB".into(),
                ratio: format!("{:.2}× the limit", peak / 150.0),
            });
        }

        // (c) unchanged: 304, and 200 with the same body.
        let mut not_modified = Vec::new();
        for _ in 0..15 {
            let started = Instant::now();
            let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
            not_modified.push(started.elapsed());
            assert_eq!((run.created_count, run.updated_count, run.deleted_count), (0, 0, 0));
        }
        let mut c = db.pool.get().await.unwrap();
        ig::update(&mut c.conn(), &db.keys, me, &name, Patch { ical_url: Some(host.url("/plain.ics")), ..Patch::default() }).await.unwrap();
        drop(c);
        engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
        let mut same_body = Vec::new();
        for _ in 0..15 {
            let started = Instant::now();
            let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
            same_body.push(started.elapsed());
            assert_eq!((run.created_count, run.updated_count, run.deleted_count), (0, 0, 0));
        }
        let (nm, sb) = (median(not_modified), median(same_body));
        lines.push(Line {
            what: format!("(c) repeated sync, feed unchanged, {label}: 304 / 200 with the same body"),
            figure: format!("{} / {}", ms(nm), ms(sb)),
            target: "≤ 50 ms".into(),
            ratio: format!("{:.2}× / {:.2}× the limit", nm.as_secs_f64() / 0.05, sb.as_secs_f64() / 0.05),
        });

        // (e) a change of what blocks time, applied to every stored instance at once (median
        // of 5 saves, alternating so each one flips the tentative ones and re-reads titles).
        let mut saves = Vec::new();
        for n in 0..5 {
            let mut c = db.pool.get().await.unwrap();
            let version = ig::get(&mut c.conn(), me, &name).await.unwrap().version;
            let value = if n % 2 == 0 { "free" } else { "busy" };
            let patch = Patch {
                busy_rules: Some(vec![("busy".into(), value.into())]),
                free_title_patterns: Some(vec![format!("lunch {n}")]),
                version: Some(version),
                ..Patch::default()
            };
            let started = Instant::now();
            ig::update(&mut c.conn(), &db.keys, me, &name, patch).await.unwrap();
            saves.push(started.elapsed());
        }
        let t = median(saves);
        lines.push(Line {
            what: format!("(e) new rules saved and applied to {instances} stored instances, {label}"),
            figure: ms(t),
            target: "≤ 1 s (as a full sync)".into(),
            ratio: format!("{:.2}× the limit", t.as_secs_f64()),
        });

        // (d) availability over 90 days of 5,000 events.
        let db = TestDb::new(kind).await;
        let me = owner(&db).await;
        host.set("/five.ics", Reply::Feed(synthetic_feed(5_000, 90, 0)));
        let name = calendar(&db, me, &host.url("/five.ics"), 90).await;
        let run = self::engine(&db).sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
        let user = {
            let mut c = db.pool.get().await.unwrap();
            users::get(&mut c.conn(), me.user_id).await.unwrap()
        };
        let from = Utc::now() - Days::days(PAST_DAYS);
        let to = from + Days::days(90);
        let mut pooled = db.pool.get().await.unwrap();
        let (t, intervals) = availability_median(&mut pooled.conn(), &user, from, to).await;
        let limit = if kind == Kind::Sqlite { 2.0 } else { 5.0 };
        lines.push(Line {
            what: format!("(d) 90-day availability, {label}: {} events → {intervals} busy intervals", run.created_count),
            figure: ms(t),
            target: format!("≤ {limit} ms"),
            ratio: format!("{:.2}× the limit", t.as_secs_f64() * 1000.0 / limit),
        });
        // (d′) the same after the rules change: tentative events free, and a title pattern.
        let version = ig::get(&mut pooled.conn(), me, &name).await.unwrap().version;
        let patch = Patch {
            busy_rules: Some(vec![("tentative".into(), "free".into())]),
            free_title_patterns: Some(vec!["[free]".into(), "lunch?".into()]),
            version: Some(version),
            ..Patch::default()
        };
        ig::update(&mut pooled.conn(), &db.keys, me, &name, patch).await.unwrap();
        let (t, intervals) = availability_median(&mut pooled.conn(), &user, from, to).await;
        lines.push(Line {
            what: format!("(d′) the same with other rules (tentative free, two title patterns): {intervals} busy intervals"),
            figure: ms(t),
            target: format!("≤ {limit} ms"),
            ratio: format!("{:.2}× the limit", t.as_secs_f64() * 1000.0 / limit),
        });
    }

    println!();
    println!("| measurement | figure | target | ratio |");
    println!("|---|---|---|---|");
    for l in lines {
        println!("| {} | {} | {} | {} |", l.what, l.figure, l.target, l.ratio);
    }
}

/// The median of 50 availability answers, and how many busy intervals it has.
async fn availability_median(conn: &mut server::db::Conn<'_>, user: &users::User, from: chrono::DateTime<Utc>, to: chrono::DateTime<Utc>) -> (Duration, usize) {
    let mut samples = Vec::new();
    let mut intervals = 0;
    for _ in 0..50 {
        let started = Instant::now();
        let (busy, _) = availability::busy(conn, user, from, to).await.unwrap();
        samples.push(started.elapsed());
        intervals = busy.len();
    }
    (median(samples), intervals)
}

fn ical_at(date: &str) -> chrono::DateTime<Utc> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
}
