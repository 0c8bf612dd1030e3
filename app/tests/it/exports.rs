//! Export links end to end, on SQLite and PostgreSQL: REST create/list/revoke, the private feed
//! read back by calsync's own reader and by an independent one (Python's icalendar with
//! recurring-ical-events) giving the stored instances, the free/busy feed revealing nothing,
//! 304 on an unchanged feed, 404 once revoked.
use crate::common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::{Duration as Days, Utc};
use common::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use server::{
    db::schema::{calendar_integrations as ci, event_instances as ei},
    domain::users::Role,
    events::When,
    run,
};
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

const LIST: &str = "/api/v1/integrations";

fn day(offset: i64) -> chrono::NaiveDate {
    Utc::now().date_naive() + Days::days(offset)
}

fn ymd(d: chrono::NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// A weekly Berlin series (one occurrence left out, one moved and retitled, one cancelled), an
/// all-day event, a single event with every detail, and a free one.
fn feed() -> String {
    let first = day(-14);
    let nth = |n: i64| ymd(first + Days::days(7 * n));
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync tests//EN\r\n\
BEGIN:VEVENT\r\nUID:standup@source.example\r\nDTSTART;TZID=Europe/Berlin:{s0}T100000\r\nDTEND;TZID=Europe/Berlin:{s0}T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=8\r\nEXDATE;TZID=Europe/Berlin:{s2}T100000\r\nSUMMARY:Standup\r\nLOCATION:Room 1\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:standup@source.example\r\nRECURRENCE-ID;TZID=Europe/Berlin:{s3}T100000\r\nDTSTART;TZID=Europe/Berlin:{s3}T140000\r\n\
DTEND;TZID=Europe/Berlin:{s3}T150000\r\nSUMMARY:Moved standup\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:standup@source.example\r\nRECURRENCE-ID;TZID=Europe/Berlin:{s4}T100000\r\nDTSTART;TZID=Europe/Berlin:{s4}T100000\r\n\
DTEND;TZID=Europe/Berlin:{s4}T110000\r\nSUMMARY:Standup\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:offsite@source.example\r\nDTSTART;VALUE=DATE:{a}\r\nDTEND;VALUE=DATE:{b}\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:review@source.example\r\nDTSTART:{r}T090000Z\r\nDTEND:{r}T100000Z\r\nSUMMARY:Secret review\r\n\
LOCATION:Board room\r\nDESCRIPTION:Quarterly numbers\r\nORGANIZER:mailto:ceo@source.example\r\nATTENDEE:mailto:cfo@source.example\r\nEND:VEVENT\r\n\
BEGIN:VTIMEZONE\r\nTZID:Office Time\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:office@source.example\r\nDTSTART;TZID=Office Time:{s0}T090000\r\nDTEND;TZID=Office Time:{s0}T093000\r\n\
RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=Office Time:{o1}T090000\r\nSUMMARY:Office hour\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:focus@source.example\r\nDTSTART:{r}T130000Z\r\nDTEND:{r}T140000Z\r\nSUMMARY:Focus\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n",
        s0 = nth(0),
        o1 = ymd(first + Days::days(1)),
        s2 = nth(2),
        s3 = nth(3),
        s4 = nth(4),
        a = ymd(day(2)),
        b = ymd(day(3)),
        r = ymd(day(3)),
    )
}

type Occurrence = (String, String, String, String);

async fn stored(db: &testkit::TestDb, name: &str) -> BTreeSet<Occurrence> {
    let mut c = db.pool.get().await.unwrap();
    let id: i64 = run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq(name)).select(ci::id).first(cc).await).unwrap();
    let rows: Vec<(i64, i64, bool, String, String)> = run!(&mut c.conn(), |cc| ei::table
        .filter(ei::integration_id.eq(id))
        .select((ei::start_at, ei::end_at, ei::all_day, ei::summary, ei::status))
        .load(cc)
        .await)
    .unwrap();
    rows.into_iter()
        .map(|(s, e, all_day, summary, status)| (When::from_timestamp(s, all_day).to_string(), When::from_timestamp(e, all_day).to_string(), summary, status))
        .collect()
}

fn window() -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    (Utc::now() - Days::days(30), Utc::now() + Days::days(90))
}

fn own_reader(body: &str) -> BTreeSet<Occurrence> {
    let (from, to) = window();
    let mut cal = server::ical::parse(body.as_bytes()).expect("calsync reads its own export");
    let expanded = server::ical::expand::expand(&mut cal, server::ical::expand::Options { from, to, floating: chrono_tz::UTC, max_instances: 10_000 });
    assert!(expanded.warnings.is_empty(), "{:?}", expanded.warnings);
    expanded.instances.iter().map(|i| (i.start.to_string(), i.end.to_string(), i.summary.to_string(), i.status.as_str().to_string())).collect()
}

fn python_reader(body: &str) -> Vec<Value> {
    let (from, to) = window();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ics_instances.py").display().to_string();
    let out = run_python(&[&script, &When::At(from).to_string(), &When::At(to).to_string()], body);
    serde_json::from_str(&out).unwrap()
}

async fn fetch(app: &axum::Router, url: &str, header: Option<(&str, &str)>) -> Answer {
    let path = url.split_once("://").map(|(_, rest)| &rest[rest.find('/').unwrap()..]).unwrap();
    let mut req = axum::http::Request::get(path);
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    send(app, req.body(axum::body::Body::empty()).unwrap()).await
}

db_test!(export_links_round_trip_and_reveal_nothing_when_free_busy, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let (sarah, john) = (token_for(&db, "sarah@example.com").await, token_for(&db, "john@example.com").await);
    let app = app(&db);
    let host = FeedHost::start().await;
    host.set("/team.ics", Reply::Feed(feed()));
    // A name with iCalendar words in it must not confuse where the feed's parts go.
    let created = json(
        &send(
            &app,
            api(
                "POST",
                LIST,
                Some(&sarah),
                Some(json!({"integration_type": "iCal", "integration_name": "Team BEGIN:VEVENT", "ical_url": host.url("/team.ics")})),
            ),
        )
        .await,
    );
    let name = created["name"].as_str().unwrap().to_owned();
    assert_eq!(sync_and_wait(&app, &sarah, &name).await["status"], "Success");
    let stored = stored(&db, &name).await;
    // 8 weekly, one left out; the all-day, the review and the free focus block; 5 daily office
    // hours in the feed's own zone, one left out.
    assert_eq!(stored.len(), 14, "{stored:?}");

    // Bad input changes nothing.
    let bad = send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(json!({"kind": "public"})))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&bad)["errors"][0]["message"], "Kind 'public' is not one of private, freebusy.");
    for (body, field, message) in [
        (json!({}), "kind", "kind is required: private or freebusy."),
        (json!({"kind": "private", "integrations": "all"}), "integrations", "integrations must be a list of calendar record names."),
        (json!({"kind": "private", "include_bookings": "yes"}), "include_bookings", "include_bookings must be true or false (or 1 or 0)."),
        (json!({"kind": "private", "colour": "red"}), "colour", "Unknown field 'colour'."),
    ] {
        let bad = send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(body))).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!((json(&bad)["errors"][0]["field"].as_str(), json(&bad)["errors"][0]["message"].as_str()), (Some(field), Some(message)));
    }
    let bad = send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(json!({"kind": "private", "integrations": ["MM-CI-john@example.com-0001"]})))).await;
    assert_eq!(json(&bad)["errors"][0]["field"], "integrations");
    let many: Vec<String> = (0..5000).map(|n| format!("MM-CI-sarah@example.com-{n:04}")).collect();
    let bad = send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(json!({"kind": "private", "integrations": many})))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(json(&bad)["errors"][0]["message"], "A link can name at most 100 calendars; leave the list out for all of them.");
    let other = send(&app, api("POST", "/api/v1/exports", Some(&john), Some(json!({"kind": "private", "user": "sarah@example.com"})))).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(json(&send(&app, api("GET", "/api/v1/exports", Some(&sarah), None)).await)["total"], 0);

    // Private: created once with its address, read back by two readers as what is stored.
    let a = send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(json!({"kind": "private", "integrations": [name]})))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let private = json(&a);
    let url = private["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:3000/ics/") && url.ends_with(".ics"));
    let token = url.trim_start_matches("http://127.0.0.1:3000/ics/").trim_end_matches(".ics");
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    assert_eq!(private["webcal_url"], url.replace("http://", "webcal://"));
    let listed = json(&send(&app, api("GET", "/api/v1/exports", Some(&sarah), None)).await);
    assert_eq!(listed["total"], 1);
    assert!(listed["items"][0].get("url").is_none(), "the address is shown only once");
    assert!(!listed.to_string().contains(token));

    let feed = fetch(&app, &url, None).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert_eq!(feed.headers["content-type"], "text/calendar; charset=utf-8");
    let body = feed.body.clone();
    assert!(body.contains("RRULE:FREQ=WEEKLY;COUNT=8"), "a series, not its instances:\n{body}");
    assert!(body.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"), "{body}");
    assert!(body.contains("UID:standup@source.example") && body.contains("LOCATION:Board room") && body.contains("ATTENDEE:mailto:cfo@source.example"));
    assert_eq!(own_reader(&body), stored, "calsync's reader gives back the stored instances");
    let independent: BTreeSet<Occurrence> = python_reader(&body)
        .into_iter()
        .filter(|o| o["status"] != "cancelled")
        .map(|o| {
            (
                o["start"].as_str().unwrap().into(),
                o["end"].as_str().unwrap().into(),
                o["summary"].as_str().unwrap().into(),
                o["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    let live: BTreeSet<Occurrence> = stored.iter().filter(|o| o.3 != "cancelled").cloned().collect();
    assert_eq!(independent, live, "an independent reader gives back the stored instances");

    // Unchanged: 304 on either validator, and the same ETag again.
    let etag = feed.headers["etag"].to_str().unwrap().to_owned();
    let modified = feed.headers["last-modified"].to_str().unwrap().to_owned();
    assert_eq!(fetch(&app, &url, Some(("if-none-match", &etag))).await.status, StatusCode::NOT_MODIFIED);
    assert_eq!(fetch(&app, &url, Some(("if-modified-since", &modified))).await.status, StatusCode::NOT_MODIFIED);
    assert_eq!(fetch(&app, &url, None).await.headers["etag"].to_str().unwrap(), etag);
    assert_eq!(fetch(&app, &url, None).await.headers["last-modified"].to_str().unwrap(), modified, "unchanged content, unchanged Last-Modified");
    assert_eq!(fetch(&app, &url, Some(("if-none-match", "\"something else\""))).await.status, StatusCode::OK);

    // Free/busy: every busy time as "Busy", nothing of the source.
    let fb = json(&send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(json!({"kind": "freebusy", "include_bookings": true})))).await);
    assert_eq!((fb["kind"].clone(), fb["integrations"].clone(), fb["include_bookings"].clone()), (json!("freebusy"), Value::Null, json!(true)));
    let body = fetch(&app, fb["url"].as_str().unwrap(), None).await.body;
    for secret in
        ["Standup", "Office", "Secret review", "Board room", "Quarterly", "cfo@", "ceo@", "source.example", "Offsite", "Focus", "Room 1", "Europe/Berlin"]
    {
        assert!(!body.contains(secret), "the free/busy feed shows {secret:?}:\n{body}");
    }
    let busy: Vec<&str> = body.lines().filter(|l| l.starts_with("SUMMARY:")).collect();
    assert_eq!(busy.len(), stored.iter().filter(|o| o.3 != "cancelled" && o.2 != "Focus").count());
    assert!(busy.iter().all(|l| *l == "SUMMARY:Busy"));
    assert!(body.lines().filter(|l| l.starts_with("DTSTART")).all(|l| l.ends_with('Z')), "instants in UTC:\n{body}");
    let python_busy = python_reader(&body);
    assert_eq!(python_busy.len(), busy.len());

    // Made and revoked links are in the audit trail, with who did it.
    let (entries, _) = {
        use server::domain::audit;
        let mut c = db.pool.get().await.unwrap();
        audit::list(&mut c.conn(), &audit::Filter { kind: Some(audit::Kind::ExportCreated), limit: 10, ..audit::Filter::default() }).await.unwrap()
    };
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e.actor == "sarah@example.com (API token)" && e.subject.as_deref() == Some("sarah@example.com")), "{entries:?}");
    assert!(entries.iter().all(|e| !e.detail.contains(token)), "the token is not recorded");

    // Revoked, or never issued: a plain 404.
    let id = private["id"].as_i64().unwrap();
    assert_eq!(send(&app, api("DELETE", &format!("/api/v1/exports/{id}"), Some(&john), None)).await.status, StatusCode::NOT_FOUND, "not john's");
    assert_eq!(send(&app, api("DELETE", &format!("/api/v1/exports/{id}"), Some(&sarah), None)).await.status, StatusCode::OK);
    let gone = fetch(&app, &url, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body, "Not found.\n");
    assert_eq!(fetch(&app, "http://x/ics/not-a-token.ics", None).await.status, StatusCode::NOT_FOUND);

    // Content that changes without any event changing (a calendar turned off) is new content:
    // an If-Modified-Since of the old Last-Modified gets it, the new one gets 304.
    let fb_url = fb["url"].as_str().unwrap();
    let before = fetch(&app, fb_url, None).await;
    let old_modified = before.headers["last-modified"].to_str().unwrap().to_owned();
    assert_eq!(fetch(&app, fb_url, Some(("if-modified-since", &old_modified))).await.status, StatusCode::NOT_MODIFIED);
    let off = send(&app, api("PATCH", &format!("{LIST}/{name}"), Some(&sarah), Some(json!({"is_active": false})))).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    let after = fetch(&app, fb_url, Some(("if-modified-since", &old_modified))).await;
    assert_eq!(after.status, StatusCode::OK, "the feed changed");
    assert!(!after.body.contains("SUMMARY:"), "{}", after.body);
    let new_modified = after.headers["last-modified"].to_str().unwrap().to_owned();
    assert_ne!(new_modified, old_modified);
    assert_eq!(fetch(&app, fb_url, Some(("if-modified-since", &new_modified))).await.status, StatusCode::NOT_MODIFIED);
});

db_test!(include_bookings_puts_the_owners_bookings_in_the_feed, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let sarah = token_for(&db, "sarah@example.com").await;
    let app = app(&db);
    let d = day(3);
    let weekly = json!({"title": "Mentoring", "start": format!("{d} 15:00"), "end": format!("{d} 15:30"), "time_zone": "UTC", "location": "Room 5", "recurrence": "RRULE:FREQ=WEEKLY;COUNT=3"});
    let made = json(&send(&app, api("POST", "/api/v1/bookings", Some(&sarah), Some(weekly))).await);
    // Its second occurrence is cancelled: not in the feed.
    let second = format!("{}T15:00:00Z", d + Days::days(7));
    let a = send(&app, api("POST", &format!("/api/v1/bookings/{}/occurrences/{second}/cancel", made["id"]), Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let link = |body: Value| send(&app, api("POST", "/api/v1/exports", Some(&sarah), Some(body)));
    let with = json(&link(json!({"kind": "private", "include_bookings": true})).await);
    let without = json(&link(json!({"kind": "private"})).await);
    let free_busy = json(&link(json!({"kind": "freebusy", "include_bookings": true})).await);

    let body = fetch(&app, with["url"].as_str().unwrap(), None).await.body;
    let starts: Vec<&str> = body.lines().filter(|l| l.starts_with("DTSTART")).collect();
    assert_eq!(starts, vec![format!("DTSTART:{}T150000Z", ymd(d)), format!("DTSTART:{}T150000Z", ymd(d + Days::days(14)))], "{body}");
    assert_eq!(body.lines().filter(|l| *l == "SUMMARY:Mentoring").count(), 2);
    assert!(body.contains("LOCATION:Room 5"));
    let read = python_reader(&body);
    assert_eq!(read.len(), 2, "an independent reader reads both: {read:?}");
    assert!(!fetch(&app, without["url"].as_str().unwrap(), None).await.body.contains("Mentoring"));
    let body = fetch(&app, free_busy["url"].as_str().unwrap(), None).await.body;
    assert_eq!(body.lines().filter(|l| *l == "SUMMARY:Busy").count(), 2);
    assert!(!body.contains("Mentoring") && !body.contains("Room 5"));

    // A change to the booking changes the feed (no stale 304).
    let url = with["url"].as_str().unwrap();
    let etag = fetch(&app, url, None).await.headers["etag"].to_str().unwrap().to_owned();
    let a = send(&app, api("PATCH", &format!("/api/v1/bookings/{}", made["id"]), Some(&sarah), Some(json!({"version": 2, "title": "Mentoring (new)"})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let again = fetch(&app, url, Some(("if-none-match", &etag))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("SUMMARY:Mentoring (new)"));
});
