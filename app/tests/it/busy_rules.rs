//! What blocks time, over REST on SQLite and PostgreSQL: `busy_rules` and
//! `free_title_patterns` in a calendar's PATCH (partial, with `version`, refused with the kind
//! named), the busy preview, and the `rule` that availability, the slot check and a refused
//! booking name.
use crate::common;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use common::*;
use serde_json::{json, Value};
use server::domain::users::Role;
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

const ANA: &str = "ana@example.com";

fn day(n: i64) -> String {
    (Utc::now().date_naive() + Duration::days(n)).format("%Y%m%d").to_string()
}

fn iso(n: i64, hm: &str) -> String {
    format!("{}T{hm}:00Z", (Utc::now().date_naive() + Duration::days(n)).format("%Y-%m-%d"))
}

fn feed() -> String {
    let (d1, d2, d3) = (day(1), day(2), day(3));
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
         BEGIN:VEVENT\r\nUID:a\r\nDTSTART:{d1}T100000Z\r\nDTEND:{d1}T110000Z\r\nSUMMARY:Maybe sync\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:b\r\nDTSTART:{d2}T100000Z\r\nDTEND:{d2}T110000Z\r\nSUMMARY:Offsite prep\r\nORGANIZER:mailto:boss@example.com\r\nATTENDEE;PARTSTAT=DECLINED:mailto:{ANA}\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:c\r\nDTSTART:{d3}T100000Z\r\nDTEND:{d3}T110000Z\r\nSUMMARY:Lunch [free]\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    )
}

/// Ana with the feed above as her calendar, synced: the host, the app, her token and the
/// calendar as created.
async fn synced_feed(db: &testkit::TestDb) -> (FeedHost, axum::Router, String, Value) {
    let host = FeedHost::start().await;
    host.set("/ana.ics", Reply::Feed(feed()));
    add_user(db, ANA, Role::User).await;
    let token = token_for(db, ANA).await;
    let app = app(db);
    let created = json(
        &send(
            &app,
            api(
                "POST",
                "/api/v1/integrations",
                Some(&token),
                Some(json!({"integration_type": "iCal", "integration_name": "Work", "ical_url": host.url("/ana.ics")})),
            ),
        )
        .await,
    );
    sync_and_wait(&app, &token, created["name"].as_str().unwrap()).await;
    (host, app, token, created)
}

db_test!(rules_are_patched_in_part_previewed_and_named_in_every_answer, |db| {
    let (_host, app, token, created) = synced_feed(&db).await;
    let name = created["name"].as_str().unwrap().to_owned();
    assert_eq!(
        created["busy_rules"],
        json!({"declined": "free", "unanswered": "busy", "out_of_office": "busy", "working_elsewhere": "free", "free": "free", "tentative": "busy", "all_day": "busy", "busy": "busy"})
    );
    assert_eq!(created["free_title_patterns"], json!([]));
    let path = format!("/api/v1/integrations/{name}");

    // The preview under the stored (default) rules.
    let preview = |q: String| {
        let (app, token, path) = (app.clone(), token.clone(), path.clone());
        async move { send(&app, api("GET", &format!("{path}/busy-preview{q}"), Some(&token), None)).await }
    };
    let a = preview(String::new()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = json(&a);
    assert_eq!((v["blocking"].as_u64(), v["not_blocking"].as_u64()), (Some(2), Some(1)));
    let items: Vec<(&str, &str, bool)> =
        v["items"].as_array().unwrap().iter().map(|i| (i["summary"].as_str().unwrap(), i["kind"].as_str().unwrap(), i["blocks"].as_bool().unwrap())).collect();
    assert_eq!(items, [("Maybe sync", "tentative", true), ("Offsite prep", "declined", false), ("Lunch [free]", "busy", true)]);
    assert_eq!(v["summary"], "2 events will block your time, 1 won't: 'Offsite prep' (declined).");
    assert_eq!(preview("?from=tomorrow".into()).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Availability names the rule of each source; so does the slot check.
    let a = send(&app, api("GET", &format!("/api/v1/availability?from={}&to={}", iso(0, "00:00"), iso(5, "00:00")), Some(&token), None)).await;
    let rules: Vec<Value> = json(&a)["busy"].as_array().unwrap().iter().map(|b| b["sources"][0]["rule"].clone()).collect();
    assert_eq!(rules, [json!("tentative"), json!("busy")]);
    let check = send(&app, api("POST", "/api/v1/availability/check", Some(&token), Some(json!({"start": iso(1, "10:30"), "end": iso(1, "11:30")})))).await;
    assert_eq!(json(&check)["conflicts"][0]["rule"], "tentative");
    assert_eq!(json(&check)["conflicts"][0]["kind"], "event");

    // A partial change needs the version, and names a kind or value it cannot read.
    let a = send(&app, api("PATCH", &path, Some(&token), Some(json!({"busy_rules": {"tentative": "free"}})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("version")));
    let a = send(&app, api("PATCH", &path, Some(&token), Some(json!({"busy_rules": {"tentativ": "free", "declined": true}, "version": 1})))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors: Vec<String> = json(&a)["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_owned()).collect();
    assert!(errors.iter().any(|m| m.starts_with("'tentativ' is not a kind of event.")), "{errors:?}");
    assert!(errors.contains(&"The rule for 'declined' must be \"busy\" or \"free\", not \"true\".".to_owned()), "{errors:?}");
    let a = send(&app, api("PATCH", &path, Some(&token), Some(json!({"busy_rules": "tentative"})))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    let version = json(&send(&app, api("GET", &path, Some(&token), None)).await)["version"].clone();
    let a = send(
        &app,
        api("PATCH", &path, Some(&token), Some(json!({"busy_rules": {"tentative": "free"}, "free_title_patterns": ["[FREE]"], "version": version}))),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = json(&a);
    assert_eq!(
        (v["busy_rules"]["tentative"].as_str(), v["busy_rules"]["busy"].as_str(), v["free_title_patterns"].clone()),
        (Some("free"), Some("busy"), json!(["[FREE]"]))
    );
    // At once, without a sync: nothing blocks any more, and the preview says why.
    let a = send(&app, api("GET", &format!("/api/v1/availability?from={}&to={}", iso(0, "00:00"), iso(5, "00:00")), Some(&token), None)).await;
    assert_eq!(json(&a)["busy"], json!([]));
    let v = json(&preview(String::new()).await);
    assert_eq!(
        v["summary"],
        "0 events will block your time, 3 won't: 'Maybe sync' (tentative), 'Offsite prep' (declined), 'Lunch [free]' (title has \"[FREE]\")."
    );
    assert_eq!(v["items"][2]["pattern"], "[FREE]");

    // Someone else's calendar has no preview.
    add_user(&db, "bob@example.com", Role::User).await;
    let bob = token_for(&db, "bob@example.com").await;
    assert_eq!(send(&app, api("GET", &format!("{path}/busy-preview"), Some(&bob), None)).await.status, StatusCode::NOT_FOUND);
});

db_test!(a_refused_booking_names_the_rule_of_what_is_in_the_way, |db| {
    let (_host, app, token, _) = synced_feed(&db).await;
    let a = send(
        &app,
        api("POST", "/api/v1/bookings", Some(&token), Some(json!({"title": "Intro", "start": iso(1, "10:00"), "end": iso(1, "10:30"), "time_zone": "UTC"}))),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!((json(&a)["conflicts"][0]["summary"].as_str(), json(&a)["conflicts"][0]["rule"].as_str()), (Some("Maybe sync"), Some("tentative")));
    // The declined invitation does not block: the same time two days later is free.
    let a = send(
        &app,
        api("POST", "/api/v1/bookings", Some(&token), Some(json!({"title": "Intro", "start": iso(2, "10:00"), "end": iso(2, "10:30"), "time_zone": "UTC"}))),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
});
