//! `/metrics`: who may read it (loopback after trusted proxies, admin tokens, CALSYNC_METRICS),
//! that an independent parser reads it as Prometheus text, and that its counters move after a
//! sync, a failed sign-in and bookings pushed to Google (the test's own sandbox), with the
//! copies and conflicts they leave as gauges; on SQLite and PostgreSQL.
use crate::common;

use std::net::SocketAddr;

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use common::*;
use serde_json::json;
use server::{config::MetricsAccess, domain::users::Role};
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

fn scrape(peer: Option<&str>, token: Option<&str>, forwarded: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/metrics");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::empty()).unwrap();
    if let Some(p) = peer {
        req.extensions_mut().insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
    }
    req
}

/// The value of one sample, by metric name and labels, read by an independent parser.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    parsed
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

db_test!(metrics_are_for_loopback_and_admins_and_move_after_a_sync, |db| {
    add_user(&db, "admin@example.com", Role::Admin).await;
    add_user(&db, "sarah@example.com", Role::User).await;
    let (admin, sarah) = (token_for(&db, "admin@example.com").await, token_for(&db, "sarah@example.com").await);
    let sandbox = sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let app = router_with(state_with(&db, "http://127.0.0.1:3000", |c| {
        c.trusted_proxies = server::config::parse_networks("127.0.0.1/32").unwrap();
        c.sync.google = sandbox.google_endpoints();
    }));

    // Who may read it.
    assert_eq!(send(&app, scrape(Some("203.0.113.9:5000"), None, None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, scrape(Some("203.0.113.9:5000"), Some(&sarah), None)).await.status, StatusCode::FORBIDDEN, "a user's token is not enough");
    assert_eq!(send(&app, scrape(Some("203.0.113.9:5000"), Some(&admin), None)).await.status, StatusCode::OK);
    assert_eq!(send(&app, scrape(Some("[::1]:5000"), None, None)).await.status, StatusCode::OK, "loopback");
    // Our proxy on the same host, forwarding someone from outside: not local.
    let proxied = send(&app, scrape(Some("127.0.0.1:5000"), None, Some("203.0.113.9"))).await;
    assert_eq!(proxied.status, StatusCode::FORBIDDEN);
    assert!(proxied.body.contains("CALSYNC_METRICS"));
    // A client that puts something unreadable first does not become the proxy (nginx's
    // $proxy_add_x_forwarded_for keeps what the client sent and appends the real address).
    assert_eq!(send(&app, scrape(Some("127.0.0.1:5000"), None, Some("x, 203.0.113.9"))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, scrape(Some("127.0.0.1:5000"), None, Some("x"))).await.status, StatusCode::FORBIDDEN);
    // A proxy on this host that calsync was not told about: the peer is the proxy, not local.
    let untold = router_with(quiet_state_with(&db, "http://127.0.0.1:3000", |_| {}));
    assert_eq!(send(&untold, scrape(Some("127.0.0.1:5000"), None, Some("203.0.113.9"))).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&untold, scrape(Some("127.0.0.1:5000"), None, None)).await.status, StatusCode::OK);

    let before = send(&app, scrape(Some("127.0.0.1:5000"), None, None)).await;
    assert!(before.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let runs_before = sample(&before.body, "calsync_sync_runs_total", &[("provider", "ical"), ("outcome", "success")]);
    let created_before = sample(&before.body, "calsync_sync_events_total", &[("provider", "ical"), ("change", "created")]);
    let failures_before = sample(&before.body, "calsync_sign_in_failures_total", &[]);
    let push = |text: &str, outcome: &str| sample(text, "calsync_push_requests_total", &[("provider", "google"), ("outcome", outcome)]);
    let (written_before, refused_before) = (push(&before.body, "written"), push(&before.body, "failed"));

    // A sync of a feed with two events, and a failed sign-in.
    let host = FeedHost::start().await;
    let d = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).format("%Y%m%d").to_string();
    host.set("/m.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:{d}T090000Z\r\nDTEND:{d}T100000Z\r\nSUMMARY:A\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:{d}T110000Z\r\nDTEND:{d}T120000Z\r\nSUMMARY:B\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    let created = json(
        &send(
            &app,
            api(
                "POST",
                "/api/v1/integrations",
                Some(&sarah),
                Some(json!({"integration_type": "iCal", "integration_name": "M", "ical_url": host.url("/m.ics")})),
            ),
        )
        .await,
    );
    let name = created["name"].as_str().unwrap().to_owned();
    assert_eq!(sync_and_wait(&app, &sarah, &name).await["status"], "Success");
    assert!(sign_in(&app, "sarah%40example.com", "wrong+password").await.is_err());
    // Two bookings pushed to Google: one written (then changed there under `ask`: an open
    // conflict), one refused (a failed copy).
    two_way_trouble(&db, &app, &sandbox).await;

    let after = send(&app, scrape(None, Some(&admin), None)).await;
    assert!(sample(&after.body, "calsync_sync_runs_total", &[("provider", "ical"), ("outcome", "success")]) >= runs_before + 1.0);
    assert!(sample(&after.body, "calsync_sync_events_total", &[("provider", "ical"), ("change", "created")]) >= created_before + 2.0);
    assert!(sample(&after.body, "calsync_sign_in_failures_total", &[]) >= failures_before + 1.0);
    assert!(sample(&after.body, "calsync_provider_requests_total", &[("provider", "ical"), ("status", "200")]) >= 1.0);
    assert!(sample(&after.body, "calsync_sync_run_duration_seconds_count", &[("provider", "ical")]) >= 1.0);
    // Read from the database at each scrape: this database's one calendar, synced.
    assert_eq!(sample(&after.body, "calsync_calendars", &[("provider", "ical"), ("status", "Success")]), 1.0);
    assert_eq!(sample(&after.body, "calsync_scheduler_queue_length", &[]), 0.0);
    assert!(after.body.contains("# TYPE calsync_scheduler_lag_seconds gauge"));
    // Pushes by outcome (this process's, so at least these); copies and conflicts by state,
    // from the database (this one's exactly), every state shown even when none is in it.
    assert!(push(&after.body, "written") >= written_before + 1.0);
    assert!(push(&after.body, "failed") >= refused_before + 1.0);
    assert!(after.body.contains("# TYPE calsync_push_requests_total counter"));
    let copies = |state: &str| sample(&after.body, "calsync_booking_copies", &[("provider", "google"), ("state", state)]);
    assert_eq!((copies("written"), copies("failed"), copies("pending")), (1.0, 1.0, 0.0));
    assert!(after.body.contains("# TYPE calsync_booking_copies gauge"));
    assert!(
        after
            .body
            .lines()
            .any(|l| l.starts_with("calsync_booking_copies{") && l.contains(r#"provider="outlook""#) && l.contains(r#"state="failed""#) && l.ends_with(" 0")),
        "{}",
        after.body
    );
    let conflicts = |state: &str| sample(&after.body, "calsync_conflicts", &[("state", state)]);
    assert_eq!((conflicts("open"), conflicts("decided"), conflicts("resolved")), (1.0, 0.0, 0.0));
    assert!(after.body.lines().any(|l| l.starts_with(r#"calsync_conflicts{state="resolved"} 0"#)), "{}", after.body);

    // CALSYNC_METRICS changes who may read it.
    let open = router_with(quiet_state_with(&db, "http://127.0.0.1:3000", |c| c.metrics = MetricsAccess::Open));
    assert_eq!(send(&open, scrape(Some("203.0.113.9:5000"), None, None)).await.status, StatusCode::OK);
    let off = router_with(quiet_state_with(&db, "http://127.0.0.1:3000", |c| c.metrics = MetricsAccess::Off));
    assert_eq!(send(&off, scrape(Some("127.0.0.1:5000"), Some(&admin), None)).await.status, StatusCode::NOT_FOUND);
});
