//! Admin → Sync health over the real router, and availability's `degraded` list over REST, on
//! SQLite and PostgreSQL with a loopback iCal host (and Google at the test's own sandbox for
//! bookings not written and conflicts waiting).
use crate::common;

use std::time::Duration;

use app::api::health::{DeactivateCalendar, RetryCalendars, SyncHealth};
use axum::http::StatusCode;
use chrono::{Duration as Days, Utc};
use common::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use leptos::server_fn::ServerFn;
use serde_json::{json, Value};
use server::{db::schema::conflicts as cf, domain::users::Role, run};
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

const LIST: &str = "/api/v1/integrations";
const HEALTH: &str = "/api/v1/admin/sync-health";

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))).collect::<Vec<_>>().join("&")
}

db_test!(sync_health_is_for_admins_and_retries_within_the_concurrency_limit, |db| {
    add_user(&db, "admin@example.com", Role::Admin).await;
    add_user(&db, "sarah@example.com", Role::User).await;
    let (admin, sarah) = (token_for(&db, "admin@example.com").await, token_for(&db, "sarah@example.com").await);
    let app = router_with(state_with(&db, "http://127.0.0.1:3000", |c| c.sync.concurrency = 2));
    let admin_cookie = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let sarah_cookie = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let host = FeedHost::start().await;
    host.set("/broken.ics", Reply::Status(404));
    let mut names = Vec::new();
    for n in 0..4 {
        let created = json(
            &send(
                &app,
                api(
                    "POST",
                    LIST,
                    Some(&sarah),
                    Some(json!({"integration_type": "iCal", "integration_name": format!("Feed {n}"), "ical_url": host.url("/broken.ics")})),
                ),
            )
            .await,
        );
        let name = created["name"].as_str().unwrap().to_owned();
        sync_and_wait(&app, &sarah, &name).await;
        names.push(name);
    }

    // Not for users: the API, the page and every function answer "not found".
    let a = send(&app, api("GET", HEALTH, Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert_eq!(send(&app, get("/admin/sync-health", Some(&sarah_cookie))).await.status, StatusCode::NOT_FOUND);
    for (path, body) in [
        (SyncHealth::PATH, String::new()),
        (RetryCalendars::PATH, form_body(&[("names", &names[0])])),
        (DeactivateCalendar::PATH, form_body(&[("name", &names[0])])),
    ] {
        let a = send(&app, form(path, body, Some(&sarah_cookie))).await;
        assert!(a.body.contains("NotFound"), "{path}: {}", a.body);
    }

    let report = json(&send(&app, api("GET", HEALTH, Some(&admin), None)).await);
    assert_eq!(report["items"].as_array().unwrap().len(), 4, "{report}");
    assert_eq!(report["counts"]["Failed"], 4);
    assert_eq!(report["items"][0]["kind"], "Failed");
    assert_eq!(report["items"][0]["user"], "sarah@example.com");
    assert!(report["items"][0]["error"].as_str().unwrap().contains("404"), "{report}");
    assert_eq!(report["total"], 4);
    let paged = json(&send(&app, api("GET", &format!("{HEALTH}?limit=3&offset=2"), Some(&admin), None)).await);
    assert_eq!((paged["items"].as_array().unwrap().len(), paged["total"].clone()), (2, json!(4)));
    assert_eq!(paged["items"][0]["integration"], report["items"][2]["integration"]);
    assert_eq!(send(&app, api("GET", &format!("{HEALTH}?limit=5000"), Some(&admin), None)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let filtered = json(&send(&app, api("GET", &format!("{HEALTH}?kind=Stale"), Some(&admin), None)).await);
    assert_eq!(filtered["items"].as_array().unwrap().len(), 0);
    assert_eq!(filtered["counts"]["Failed"], 4, "counts ignore the kind filter");
    let bad = send(&app, api("GET", &format!("{HEALTH}?kind=Broken"), Some(&admin), None)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = send(&app, get("/admin/sync-health", Some(&admin_cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Feed 0") && page.body.contains("Retry now"), "the page lists them");

    // Fixed, slowly: retrying all four starts two (the limit) and queues the rest.
    host.set("/broken.ics", Reply::Stall(Duration::from_millis(400)));
    let joined = names.join("\n");
    let a = send(&app, form(RetryCalendars::PATH, form_body(&[("names", &joined)]), Some(&admin_cookie))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Retrying 2 calendar(s) now."), "{}", a.body);
    assert!(a.body.contains("2 calendar(s) queued"), "{}", a.body);
    let during = json(&send(&app, api("GET", HEALTH, Some(&admin), None)).await);
    assert_eq!(during["items"].as_array().unwrap().iter().filter(|i| i["running"] == true).count(), 4, "running or queued: {during}");
    let nothing = send(&app, form(RetryCalendars::PATH, "names=", Some(&admin_cookie))).await;
    assert!(nothing.body.contains("Select at least one calendar to retry."), "{}", nothing.body);

    // Deactivate takes one off the list.
    let a = send(&app, form(DeactivateCalendar::PATH, form_body(&[("name", &names[3])]), Some(&admin_cookie))).await;
    assert!(a.body.contains("Deactivated 'Feed 3'"), "{}", a.body);
    let read = json(&send(&app, api("GET", &format!("{LIST}/{}", names[3]), Some(&sarah), None)).await);
    assert_eq!(read["is_active"], false);
    let after = json(&send(&app, api("GET", HEALTH, Some(&admin), None)).await);
    assert!(after["items"].as_array().unwrap().iter().all(|i| i["integration"] != names[3].as_str()));
});

db_test!(availability_names_the_calendars_it_cannot_trust, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let sarah = token_for(&db, "sarah@example.com").await;
    let app = app(&db);
    let host = FeedHost::start().await;
    let d = (Utc::now().date_naive() + Days::days(2)).format("%Y%m%d").to_string();
    host.set("/team.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:standup\r\nDTSTART:{d}T090000Z\r\nDTEND:{d}T100000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    let created = json(
        &send(&app, api("POST", LIST, Some(&sarah), Some(json!({"integration_type": "iCal", "integration_name": "Team", "ical_url": host.url("/team.ics")}))))
            .await,
    );
    let name = created["name"].as_str().unwrap().to_owned();
    assert_eq!(created["stale_policy"], "fail-open", "the default");
    sync_and_wait(&app, &sarah, &name).await;
    let day = (Utc::now().date_naive() + Days::days(2)).to_string();
    let next = (Utc::now().date_naive() + Days::days(3)).to_string();
    let range = format!("/api/v1/availability?from={day}&to={next}");
    let fresh = json(&send(&app, api("GET", &range, Some(&sarah), None)).await);
    assert_eq!(fresh["degraded"], json!([]));
    assert_eq!(fresh["busy"].as_array().unwrap().len(), 1);

    // The feed breaks: the answer says so, and keeps the last known busy time (fail-open).
    host.set("/team.ics", Reply::Status(500));
    for _ in 0..3 {
        sync_and_wait(&app, &sarah, &name).await;
    }
    let open = json(&send(&app, api("GET", &range, Some(&sarah), None)).await);
    assert_eq!(open["degraded"][0]["integration"], name.as_str());
    assert_eq!(open["degraded"][0]["integration_name"], "Team");
    assert_eq!(open["degraded"][0]["kind"], "Failed");
    assert_eq!(open["degraded"][0]["stale_policy"], "fail-open");
    assert!(open["degraded"][0]["last_sync"].as_str().unwrap().ends_with('Z'));
    assert_eq!(open["busy"], fresh["busy"]);
    let slot = json!({"start": format!("{day}T14:00:00Z"), "end": format!("{day}T15:00:00Z")});
    let check = json(&send(&app, api("POST", "/api/v1/availability/check", Some(&sarah), Some(slot.clone()))).await);
    assert_eq!((check["free"].clone(), check["degraded"][0]["kind"].clone()), (json!(true), json!("Failed")));

    // Fail-closed: the whole range is busy, and a free hour is not free.
    let a = send(&app, api("PATCH", &format!("{LIST}/{name}"), Some(&sarah), Some(json!({"stale_policy": "fail-closed"})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let bad = send(&app, api("PATCH", &format!("{LIST}/{name}"), Some(&sarah), Some(json!({"stale_policy": "sometimes"})))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&bad)["errors"][0]["field"], "stale_policy");
    // The conflict policy sits next to it: last-write-wins by default, checked like it.
    assert_eq!(created["conflict_policy"], "last-write-wins");
    let a = send(&app, api("PATCH", &format!("{LIST}/{name}"), Some(&sarah), Some(json!({"conflict_policy": "ask"})))).await;
    assert_eq!((a.status, json(&a)["conflict_policy"].clone()), (StatusCode::OK, json!("ask")));
    let bad = send(&app, api("PATCH", &format!("{LIST}/{name}"), Some(&sarah), Some(json!({"conflict_policy": "coin-toss"})))).await;
    assert_eq!(
        (bad.status, json(&bad)["errors"][0]["message"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("Conflict Policy 'coin-toss' is not one of last-write-wins, prefer-calsync, prefer-calendar, ask."))
    );
    let closed = json(&send(&app, api("GET", &range, Some(&sarah), None)).await);
    assert_eq!(closed["busy"].as_array().unwrap().len(), 1, "{closed}");
    assert_eq!((closed["busy"][0]["start"].clone(), closed["busy"][0]["end"].clone()), (closed["from"].clone(), closed["to"].clone()));
    assert!(closed["busy"][0]["sources"].as_array().unwrap().iter().any(|s| s["kind"] == "out-of-date"), "{closed}");
    let check: Value = json(&send(&app, api("POST", "/api/v1/availability/check", Some(&sarah), Some(slot))).await);
    assert_eq!(check["free"], false);
    assert_eq!(check["conflicts"][0]["summary"], "Failed calendar: treated as busy");
    assert_eq!(check["degraded"][0]["stale_policy"], "fail-closed");
});

db_test!(sync_health_names_bookings_not_written_and_conflicts_waiting, |db| {
    let sandbox = sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    add_user(&db, "admin@example.com", Role::Admin).await;
    let admin = token_for(&db, "admin@example.com").await;
    let app = router_with(state_with(&db, APP_ORIGIN, |c| c.sync.google = sandbox.google_endpoints()));
    let admin_cookie = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let (work, desk) = two_way_trouble(&db, &app, &sandbox).await;

    // A failed copy is listed at once; a conflict open for a moment is not yet.
    let report = json(&send(&app, api("GET", HEALTH, Some(&admin), None)).await);
    assert_eq!(report["total"], 1, "{report}");
    let item = &report["items"][0];
    assert_eq!((item["integration"].clone(), item["kind"].clone(), item["user"].clone()), (json!(desk), json!("Write failing"), json!("ben@example.com")));
    let line = item["error"].as_str().unwrap();
    assert!(line.starts_with("The booking 'Budget' is not written to this calendar: ") && line.contains("(400"), "{report}");
    assert_eq!((report["counts"]["Write failing"].clone(), report["counts"]["Conflicts waiting"].clone()), (json!(1), json!(0)), "every kind is counted");

    // A day later, the conflict still waits.
    {
        let mut c = db.pool.get().await.unwrap();
        let then = server::domain::now() - Days::days(2);
        run!(&mut c.conn(), |cc| diesel::update(cf::table).set(cf::created_at.eq(then)).execute(cc).await).unwrap();
    }
    let report = json(&send(&app, api("GET", HEALTH, Some(&admin), None)).await);
    assert_eq!(report["total"], 2, "{report}");
    let first = &report["items"][0];
    assert_eq!((first["integration"].clone(), first["kind"].clone()), (json!(work), json!("Conflicts waiting")), "longest waiting first: {report}");
    let line = first["error"].as_str().unwrap();
    assert!(line.starts_with("1 conflict waiting for a decision since ") && line.ends_with(": 'Roadmap'."), "{line}");
    assert!(first["since"].as_str().unwrap().ends_with('Z'));
    assert_eq!(report["items"][1]["kind"], "Write failing");
    assert_eq!(
        (report["counts"]["Write failing"].clone(), report["counts"]["Conflicts waiting"].clone(), report["counts"]["Failed"].clone()),
        (json!(1), json!(1), json!(0))
    );
    let only = json(&send(&app, api("GET", &format!("{HEALTH}?kind=Conflicts%20waiting"), Some(&admin), None)).await);
    assert_eq!((only["total"].clone(), only["items"][0]["integration"].clone()), (json!(1), json!(work)));
    let bad = send(&app, api("GET", &format!("{HEALTH}?kind=Broken"), Some(&admin), None)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Write failing, Conflicts waiting"), "{}", bad.body);
    // Neither makes availability doubt the calendar.
    let ben = token_for(&db, "ben@example.com").await;
    let day = (Utc::now().date_naive() + Days::days(3)).to_string();
    let next = (Utc::now().date_naive() + Days::days(4)).to_string();
    let week = json(&send(&app, api("GET", &format!("/api/v1/availability?from={day}&to={next}"), Some(&ben), None)).await);
    assert_eq!(week["degraded"], json!([]), "{week}");

    // The page: both kinds, counted, with where to look.
    let page = send(&app, get("/admin/sync-health", Some(&admin_cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"data-kind="Write failing""#) && page.body.contains(r#"data-kind="Conflicts waiting""#), "{}", page.body);
    assert!(page.body.contains("/conflicts?state=open"), "a link to the open conflicts");
    assert!(page.body.contains("/bookings?user=ben%40example.com"), "a link to Ben's bookings");
});
