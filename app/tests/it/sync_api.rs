//! REST: "Sync now", the runs of a calendar, availability and the slot check, over the real
//! router and a loopback iCal host, on SQLite and PostgreSQL.
use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{Duration as Days, Utc};
use common::*;
use serde_json::{json, Value};
use server::domain::users::Role;
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

const LIST: &str = "/api/v1/integrations";

async fn wait_for_run(app: &axum::Router, token: &str, name: &str) -> Value {
    for _ in 0..100 {
        let runs = json(&send(app, api("GET", &format!("{LIST}/{name}/runs"), Some(token), None)).await);
        if runs["items"][0]["status"] != "In Progress" {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sync did not finish");
}

/// Events for the day after tomorrow (UTC): 09:00–10:00 and 10:00–11:00 (touching, two
/// calendars' worth in one feed), 13:00–14:00 free, 15:00–16:00 cancelled, and an all-day event
/// the day after.
fn feed() -> String {
    let d = (Utc::now().date_naive() + Days::days(2)).format("%Y%m%d").to_string();
    let next = (Utc::now().date_naive() + Days::days(3)).format("%Y%m%d").to_string();
    let after = (Utc::now().date_naive() + Days::days(4)).format("%Y%m%d").to_string();
    let event = |uid: &str, s: &str, e: &str, extra: &str| {
        format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{d}T{s}00Z\r\nDTEND:{d}T{e}00Z\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\n")
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{}{}{}{}BEGIN:VEVENT\r\nUID:offsite\r\nDTSTART;VALUE=DATE:{next}\r\nDTEND;VALUE=DATE:{after}\r\nSUMMARY:offsite\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        event("standup", "0900", "1000", ""),
        event("review", "1000", "1100", ""),
        event("lunch", "1300", "1400", "TRANSP:TRANSPARENT\r\n"),
        event("dropped", "1500", "1600", "STATUS:CANCELLED\r\n"),
    )
}

db_test!(sync_now_runs_and_availability, |db| {
    add_user(&db, "admin@example.com", Role::Admin).await;
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let (admin, sarah, john) = (token_for(&db, "admin@example.com").await, token_for(&db, "sarah@example.com").await, token_for(&db, "john@example.com").await);
    let app = app(&db);
    let host = FeedHost::start().await;
    host.set("/team.ics", Reply::Stall(Duration::from_millis(600)));
    let created = json(
        &send(&app, api("POST", LIST, Some(&sarah), Some(json!({"integration_type": "iCal", "integration_name": "Team", "ical_url": host.url("/team.ics")}))))
            .await,
    );
    let name = created["name"].as_str().unwrap().to_owned();
    let sync = format!("{LIST}/{name}/sync");

    // 202 with the run; a second press while it runs is a 409.
    let a = send(&app, api("POST", &sync, Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let started = json(&a);
    let mut keys: Vec<&str> = started.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["id", "integration", "started_at", "status", "trigger"]);
    assert_eq!(
        (started["integration"].as_str(), started["trigger"].as_str(), started["status"].as_str()),
        (Some(name.as_str()), Some("manual"), Some("In Progress"))
    );
    let record = json(&send(&app, api("GET", &format!("{LIST}/{name}"), Some(&sarah), None)).await);
    assert_eq!(record["sync_status"], "In Progress");
    let a = send(&app, api("POST", &sync, Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(json(&a)["errors"][0]["message"], "A sync is already running for this calendar. Wait for it to finish.");
    let runs = wait_for_run(&app, &sarah, &name).await;
    assert_eq!(runs["items"][0]["status"], "Failed", "a stalled answer with no calendar is a failure");

    // Now a real feed.
    host.set("/team.ics", Reply::Feed(feed()));
    assert_eq!(send(&app, api("POST", &sync, Some(&sarah), None)).await.status, StatusCode::ACCEPTED);
    let runs = wait_for_run(&app, &sarah, &name).await;
    assert_eq!(runs["total"], 2);
    let last = &runs["items"][0];
    assert_eq!((last["status"].as_str(), last["created"].as_i64(), last["error"].is_null()), (Some("Success"), Some(5), true), "{last}");
    let record = json(&send(&app, api("GET", &format!("{LIST}/{name}"), Some(&sarah), None)).await);
    assert_eq!(record["sync_status"], "Success");
    assert!(record["last_sync"].as_str().unwrap().ends_with('Z'));

    // Others cannot sync or read the runs of Sarah's calendar: it does not exist for them.
    assert_eq!(send(&app, api("POST", &sync, Some(&john), None)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, api("GET", &format!("{LIST}/{name}/runs"), Some(&john), None)).await.status, StatusCode::NOT_FOUND);

    // Availability over three days: the touching events merge, free and cancelled ones do not
    // block, the all-day event blocks its whole day (Sarah's zone is UTC).
    let d = Utc::now().date_naive() + Days::days(2);
    let q = format!("/api/v1/availability?user=sarah@example.com&from={d}&to={}", d + Days::days(3));
    let a = send(&app, api("GET", &q, Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = json(&a);
    assert_eq!(v["user"], "sarah@example.com");
    assert_eq!(v["from"], format!("{d}T00:00:00Z"));
    let busy: Vec<(String, String, Vec<String>)> = v["busy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().into(),
                b["end"].as_str().unwrap().into(),
                b["sources"].as_array().unwrap().iter().map(|s| s["summary"].as_str().unwrap().to_owned()).collect(),
            )
        })
        .collect();
    let next = d + Days::days(1);
    assert_eq!(
        busy,
        vec![
            (format!("{d}T09:00:00Z"), format!("{d}T11:00:00Z"), vec!["standup".to_owned(), "review".to_owned()]),
            (format!("{next}T00:00:00Z"), format!("{}T00:00:00Z", next + Days::days(1)), vec!["offsite".to_owned()]),
        ]
    );
    assert_eq!(v["busy"][0]["sources"][0], json!({"kind": "event", "rule": "busy", "integration": name, "integration_name": "Team", "summary": "standup"}));

    // The slot check.
    let check = |start: String, end: String| {
        api("POST", "/api/v1/availability/check", Some(&sarah), Some(json!({"user": "sarah@example.com", "start": start, "end": end})))
    };
    let v = json(&send(&app, check(format!("{d}T09:30:00Z"), format!("{d}T09:45:00Z"))).await);
    assert_eq!(v["free"], false);
    assert_eq!(
        v["conflicts"],
        json!([{"start": format!("{d}T09:00:00Z"), "end": format!("{d}T10:00:00Z"), "kind": "event", "rule": "busy", "integration": name, "integration_name": "Team", "summary": "standup"}])
    );
    let v = json(&send(&app, check(format!("{d}T13:00:00Z"), format!("{d}T14:00:00Z"))).await);
    assert_eq!(v, json!({"free": true, "conflicts": [], "degraded": []}), "a free (transparent) event does not block");
    let v = json(&send(&app, check(format!("{d}T11:00:00Z"), format!("{d}T12:00:00Z"))).await);
    assert_eq!(v["free"], true, "an event ending at the slot's start does not block it");

    // Permissions and bad input.
    let a = send(&app, api("GET", &q, Some(&john), None)).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].as_str()), (StatusCode::FORBIDDEN, Some("You can only see your own availability.")));
    assert_eq!(send(&app, api("GET", &q, Some(&admin), None)).await.status, StatusCode::OK);
    let a = send(&app, api("GET", "/api/v1/availability?from=tomorrow&to=2026-01-01", Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&a)["errors"][0]["field"], "from");
    let a = send(&app, api("POST", "/api/v1/availability/check", Some(&sarah), Some(json!({"start": "2026-01-02", "end": "2026-01-01"})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("end must be after start.")));
    // The body is read as the type the OpenAPI document shows: each refusal names its field.
    for (body, field, message) in [
        (json!({"start": 5, "end": "2026-01-01"}), "start", "start must be a string."),
        (json!({"start": "2026-01-01", "end": "2026-01-02", "zone": "UTC"}), "zone", "Unknown field 'zone'."),
        (json!({"end": "2026-01-02"}), "start", "start is required."),
    ] {
        let a = send(&app, api("POST", "/api/v1/availability/check", Some(&sarah), Some(body))).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
        assert_eq!((json(&a)["errors"][0]["field"].as_str(), json(&a)["errors"][0]["message"].as_str()), (Some(field), Some(message)));
    }

    // A deactivated calendar no longer blocks time.
    send(&app, api("PATCH", &format!("{LIST}/{name}"), Some(&sarah), Some(json!({"is_active": false})))).await;
    let v = json(&send(&app, api("GET", &q, Some(&sarah), None)).await);
    assert_eq!(v["busy"], json!([]));
});

/// `n` single events, one a day from tomorrow.
fn many(n: usize) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    for i in 0..n {
        let d = (Utc::now().date_naive() + Days::days(i as i64 + 1)).format("%Y%m%d");
        text.push_str(&format!("BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTART:{d}T090000Z\r\nDTEND:{d}T100000Z\r\nSUMMARY:e{i}\r\nEND:VEVENT\r\n"));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

// Review finding: Apply on a held sync had no REST route.
db_test!(a_held_sync_is_applied_over_rest, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let (sarah, john) = (token_for(&db, "sarah@example.com").await, token_for(&db, "john@example.com").await);
    let app = app(&db);
    let host = FeedHost::start().await;
    host.set("/f.ics", Reply::Feed(many(30)));
    let created = json(
        &send(&app, api("POST", LIST, Some(&sarah), Some(json!({"integration_type": "iCal", "integration_name": "Team", "ical_url": host.url("/f.ics")}))))
            .await,
    );
    let name = created["name"].as_str().unwrap().to_owned();
    let apply = format!("{LIST}/{name}/apply-held");
    // Nothing held yet.
    let r = send(&app, api("POST", &apply, Some(&sarah), None)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(json(&r)["errors"][0]["message"], "No sync of this calendar is waiting to be applied.");
    assert_eq!(send(&app, api("POST", &format!("{LIST}/{name}/sync"), Some(&sarah), None)).await.status, StatusCode::ACCEPTED);
    assert_eq!(wait_for_run(&app, &sarah, &name).await["items"][0]["status"], "Success");
    // 25 of 30 gone from the feed: held.
    host.set("/f.ics", Reply::Feed(many(5)));
    send(&app, api("POST", &format!("{LIST}/{name}/sync"), Some(&sarah), None)).await;
    let runs = wait_for_run(&app, &sarah, &name).await;
    assert_eq!(runs["items"][0]["held"], true, "{runs}");
    // Another user's calendar does not exist for them.
    assert_eq!(send(&app, api("POST", &apply, Some(&john), None)).await.status, StatusCode::NOT_FOUND);
    let r = send(&app, api("POST", &apply, Some(&sarah), None)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let runs = wait_for_run(&app, &sarah, &name).await;
    let applied = &runs["items"][0];
    assert_eq!(
        (applied["status"].as_str(), applied["deleted"].as_i64(), applied["applied_by"].as_str()),
        (Some("Success"), Some(25), Some("sarah@example.com (API token)")),
        "{runs}"
    );
    // Applied once: nothing is held any more.
    assert_eq!(send(&app, api("POST", &apply, Some(&sarah), None)).await.status, StatusCode::CONFLICT);
});
