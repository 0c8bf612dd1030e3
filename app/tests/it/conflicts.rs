//! Two-way sync over REST, on SQLite and PostgreSQL, with Google at the test's own sandbox: a
//! booking answers with its written copy; an edit in Google under the ask policy opens a
//! conflict (`/api/v1/conflicts`), which is resolved field by field once (409 after), and
//! both sides then agree.
use crate::common;

use axum::http::StatusCode;
use chrono::{Duration as Days, Utc};
use common::*;
use serde_json::json;
use server::{
    crypto::Secret,
    domain::{
        integrations::{self as ig, Patch},
        users::{self, Role},
        Actor,
    },
};
use testkit::db_test;

const ANA: &str = "ana@example.com";

db_test!(a_conflict_is_listed_read_and_resolved_once_over_rest, |db| {
    let sandbox = sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account(ANA));
    let st = state_with(&db, APP_ORIGIN, |c| c.sync.google = sandbox.google_endpoints());
    let app = router_with(st);
    add_user(&db, ANA, Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let (ana, john) = (token_for(&db, ANA).await, token_for(&db, "john@example.com").await);
    let name = {
        let mut c = db.pool.get().await.unwrap();
        let me = users::find_by_email(&mut c.conn(), ANA).await.unwrap().unwrap();
        let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
        let patch = Patch {
            integration_type: Some("Google Calendar".into()),
            integration_name: Some("Work".into()),
            calendar_id: Some(ANA.into()),
            access_token: Some(Some(Secret::new(access))),
            refresh_token: Some(Some(Secret::new(refresh))),
            token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
            is_primary: Some(true),
            conflict_policy: Some("ask".into()),
            ..Patch::default()
        };
        ig::create(&mut c.conn(), &db.keys, Actor::of(&me), patch).await.unwrap().integration.name
    };
    let day = (Utc::now().date_naive() + Days::days(3)).to_string();

    // Booked: the answer holds the copy, written.
    let a = send(
        &app,
        api(
            "POST",
            "/api/v1/bookings",
            Some(&ana),
            Some(json!({"title": "Roadmap", "start": format!("{day} 10:00"), "end": format!("{day} 11:00"), "time_zone": "UTC"})),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let made = json(&a);
    let copy = &made["copies"][0];
    assert_eq!(
        (copy["integration"].clone(), copy["calendar"].clone(), copy["state"].clone(), copy["error"].clone()),
        (json!(name), json!("Work"), json!("written"), json!(null))
    );
    let event_id = copy["external_id"].as_str().unwrap().to_string();
    sync_and_wait(&app, &ana, &name).await;

    // Changed in Google: the next sync opens a conflict and changes nothing.
    sandbox.with(|s| {
        let mut e = s.calendars[ANA].events[&event_id].0.clone();
        e["summary"] = json!("Roadmap (Google)");
        e["start"] = json!({"dateTime": format!("{day}T14:00:00Z"), "timeZone": "UTC"});
        e["end"] = json!({"dateTime": format!("{day}T15:00:00Z"), "timeZone": "UTC"});
        s.put_event(ANA, &event_id, e).unwrap();
    });
    sync_and_wait(&app, &ana, &name).await;
    let list = json(&send(&app, api("GET", "/api/v1/conflicts?state=open", Some(&ana), None)).await);
    assert_eq!(list["total"], 1, "{list}");
    let item = &list["items"][0];
    assert_eq!((item["booking"].clone(), item["state"].clone(), item["policy"].clone()), (made["id"].clone(), json!("open"), json!("ask")));
    let one = format!("/api/v1/conflicts/{}", item["id"]);
    let k = json(&send(&app, api("GET", &one, Some(&ana), None)).await);
    assert_eq!(k["fields"], json!(["title", "start", "end"]));
    assert_eq!(
        (k["base"]["title"].clone(), k["local"]["title"].clone(), k["remote"]["title"].clone()),
        (json!("Roadmap"), json!("Roadmap"), json!("Roadmap (Google)"))
    );
    assert_eq!(k["remote"]["start"], format!("{day}T14:00:00Z"));
    assert_eq!(json(&send(&app, api("GET", "/api/v1/conflicts?state=decided", Some(&ana), None)).await)["total"], 0);
    assert_eq!(
        json(&send(&app, api("GET", "/api/v1/conflicts?state=later", Some(&ana), None)).await)["errors"][0]["message"],
        "State 'later' is not one of open, decided, resolved."
    );

    // Others do not see it; bad choices are 422.
    assert_eq!(send(&app, api("GET", &one, Some(&john), None)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, api("POST", &format!("{one}/resolve"), Some(&john), Some(json!({"take": "local"})))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(json(&send(&app, api("GET", "/api/v1/conflicts", Some(&john), None)).await)["total"], 0);
    for (body, message) in [
        (json!({}), "Say what to keep: {\"take\": \"local\"} or \"remote\", or {\"fields\": {…}}."),
        (json!({"take": "both"}), "take 'both' is neither local nor remote."),
        (json!({"fields": {"title": "local"}}), "Choose a side for every field that differs; missing: start, end."),
        (json!({"take": "local", "why": 1}), "Unknown field 'why'."),
        (json!({"take": "local", "fields": {"title": "local"}}), "Send take or fields, not both."),
        (json!({"fields": ["title"]}), "fields must map each field to \"local\" or \"remote\"."),
        (json!({"take": 1}), "take must be a string."),
    ] {
        let a = send(&app, api("POST", &format!("{one}/resolve"), Some(&ana), Some(body))).await;
        assert_eq!((a.status, json(&a)["errors"][0]["message"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!(message)));
    }

    // The calendar's time, calsync's title.
    let a =
        send(&app, api("POST", &format!("{one}/resolve"), Some(&ana), Some(json!({"fields": {"title": "local", "start": "remote", "end": "remote"}})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let done = json(&a);
    assert_eq!(
        (done["state"].clone(), done["decided_by"].clone(), done["outcome"]["start"].clone()),
        (json!("resolved"), json!("ana@example.com (API token)"), json!("remote"))
    );
    let b = json(&send(&app, api("GET", &format!("/api/v1/bookings/{}", made["id"]), Some(&ana), None)).await);
    assert_eq!(
        (b["title"].clone(), b["start"].clone(), b["copies"][0]["state"].clone()),
        (json!("Roadmap"), json!(format!("{day}T14:00:00Z")), json!("written"))
    );
    let e = sandbox.with(|s| s.calendars[ANA].events[&event_id].0.clone());
    assert_eq!(e["summary"], "Roadmap");

    // Twice: 409 with who and when.
    let a = send(&app, api("POST", &format!("{one}/resolve"), Some(&ana), Some(json!({"take": "remote"})))).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let m = json(&a)["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(m.starts_with("Already resolved by ana@example.com (API token) at ") && m.ends_with(" UTC."), "{m}");
});
