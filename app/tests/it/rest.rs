//! REST API v1 over the real router, on SQLite and PostgreSQL: auth, envelopes, every status code
//! api.md names, secrets never read back, and the OpenAPI document against the routes.
use crate::common;

use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};
use server::domain::users::Role;
use testkit::db_test;
use testkit::TestDb;

const LIST: &str = "/api/v1/integrations";

async fn setup(db: &TestDb) -> (axum::Router, String, String, String) {
    add_user(db, "admin@example.com", Role::Admin).await;
    add_user(db, "sarah@example.com", Role::User).await;
    add_user(db, "john@example.com", Role::User).await;
    let admin = token_for(db, "admin@example.com").await;
    let sarah = token_for(db, "sarah@example.com").await;
    let john = token_for(db, "john@example.com").await;
    (app(db), admin, sarah, john)
}

fn ical(name: &str) -> Value {
    json!({"integration_type": "iCal", "integration_name": name, "ical_url": "https://example.com/feed.ics"})
}

fn first_error(v: &Value) -> (Value, String) {
    (v["errors"][0]["field"].clone(), v["errors"][0]["message"].as_str().unwrap().to_string())
}

db_test!(authentication_is_required, |db| {
    let (app, ..) = setup(&db).await;
    for token in [None, Some("csk_not-a-real-token"), Some("garbage")] {
        let a = send(&app, api("GET", LIST, token, None)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(json(&a), json!({"errors": [{"field": null, "message": "Authentication required."}], "warnings": []}));
    }
});

db_test!(create_read_update_delete, |db| {
    let (app, _, sarah, _) = setup(&db).await;
    let a = send(&app, api("POST", LIST, Some(&sarah), Some(ical("Apple Calendar")))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v = json(&a);
    assert_eq!(v["name"], "MM-CI-sarah@example.com-0001");
    assert_eq!(v["user"], "sarah@example.com");
    assert_eq!(v["sync_direction"], "One-way (Read Only)");
    assert_eq!(v["is_active"], true);
    assert_eq!(v["sync_status"], "Pending");
    assert_eq!(v["version"], 1);
    assert_eq!(v["warnings"], json!([]));
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));

    let path = format!("{LIST}/MM-CI-sarah@example.com-0001");
    let a = send(&app, api("GET", &path, Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(json(&a)["integration_name"], "Apple Calendar");

    // Partial update: only what is sent changes; 0/1 are booleans; a stale version is a 409.
    let a = send(&app, api("PATCH", &path, Some(&sarah), Some(json!({"sync_interval_minutes": 60, "auto_sync_enabled": 0, "version": 1})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = json(&a);
    assert_eq!((v["sync_interval_minutes"].as_i64(), v["auto_sync_enabled"].as_bool(), v["version"].as_i64()), (Some(60), Some(false), Some(2)));
    assert_eq!(v["integration_name"], "Apple Calendar");
    let a = send(&app, api("PATCH", &path, Some(&sarah), Some(json!({"sync_interval_minutes": 30, "version": 1})))).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(first_error(&json(&a)).1, "This calendar was changed elsewhere since you opened it. Reload to see the changes.");

    let a = send(&app, api("DELETE", &path, Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(json(&a)["messages"], json!(["Deleted 'Apple Calendar'."]));
    assert_eq!(send(&app, api("GET", &path, Some(&sarah), None)).await.status, StatusCode::NOT_FOUND);
});

db_test!(secrets_are_written_but_never_read_back, |db| {
    let (app, _, sarah, _) = setup(&db).await;
    let body = json!({
        "integration_type": "Google Calendar", "integration_name": "Work", "calendar_id": "sarah@example.com",
        "access_token": "ya29.very-secret", "refresh_token": "1//also-secret", "token_expiry": "2099-12-08 14:30:00",
    });
    let a = send(&app, api("POST", LIST, Some(&sarah), Some(body))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert!(!a.body.contains("very-secret") && !a.body.contains("also-secret"));
    let v = json(&a);
    assert!(v.get("access_token").is_none() && v.get("refresh_token").is_none());
    assert_eq!((v["has_access_token"].as_bool(), v["has_refresh_token"].as_bool()), (Some(true), Some(true)));
    // Read in the owner's zone (UTC here), returned as RFC 3339.
    assert_eq!(v["token_expiry"], "2099-12-08T14:30:00Z");
    for a in [
        send(&app, api("GET", LIST, Some(&sarah), None)).await,
        send(&app, api("GET", &format!("{LIST}/MM-CI-sarah@example.com-0001"), Some(&sarah), None)).await,
    ] {
        assert!(!a.body.contains("very-secret") && !a.body.contains("ya29"), "{}", a.body);
    }
});

db_test!(validation_answers_422_with_the_spec_messages, |db| {
    let (app, _, sarah, _) = setup(&db).await;
    let cases = [
        (
            json!({"integration_type": "iCal", "integration_name": "X", "ical_url": "ftp://x"}),
            "ical_url",
            "iCal URL must start with http://, https://, or webcal://",
        ),
        (json!({"integration_type": "iCal", "integration_name": "X"}), "ical_url", "iCal URL is required for iCal integration type."),
        (
            json!({"integration_type": "Yahoo", "integration_name": "X"}),
            "integration_type",
            "Integration Type 'Yahoo' is not one of Google Calendar, Outlook Calendar, iCal.",
        ),
        (
            json!({"integration_type": "Google Calendar", "integration_name": "X"}),
            "access_token",
            "Google Calendar requires an Access Token. Please authenticate with Google Calendar first.",
        ),
        (
            json!({"integration_type": "iCal", "integration_name": "X", "ical_url": "https://x.example/a", "sync_interval_minutes": 4}),
            "sync_interval_minutes",
            "Sync Interval cannot be less than 5 minutes to avoid excessive API calls.",
        ),
        (
            json!({"integration_type": "iCal", "integration_name": "X", "ical_url": "https://x.example/a", "sync_past_days": "abc"}),
            "sync_past_days",
            "Sync Past Days must be a whole number.",
        ),
        (
            json!({"integration_type": "iCal", "integration_name": "X", "ical_url": "https://x.example/a", "token_expiry": "not a date"}),
            "token_expiry",
            "Invalid Token Expiry datetime format.",
        ),
        (
            json!({"integration_type": "iCal", "integration_name": "X", "ical_url": "https://x.example/a", "is_active": "maybe"}),
            "is_active",
            "is_active must be true or false (or 1 or 0).",
        ),
        (json!({"integration_type": "iCal", "integration_name": "X", "ical_url": "https://x.example/a", "colour": "red"}), "colour", "Unknown field 'colour'."),
        (
            json!({"integration_type": "iCal", "integration_name": "x".repeat(10_000), "ical_url": "https://x.example/a"}),
            "integration_name",
            "Integration Name cannot exceed 140 characters.",
        ),
    ];
    for (body, field, message) in cases {
        let a = send(&app, api("POST", LIST, Some(&sarah), Some(body.clone()))).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", a.body);
        assert_eq!(first_error(&json(&a)), (json!(field), message.to_string()), "{body}");
    }
    // Warnings travel with errors, apart from them.
    let a = send(
        &app,
        api(
            "POST",
            LIST,
            Some(&sarah),
            Some(json!({"integration_type": "iCal", "integration_name": "", "ical_url": "https://x.example/a", "sync_direction": "Two-way (Read & Write)"})),
        ),
    )
    .await;
    let v = json(&a);
    assert_eq!(v["errors"][0]["message"], "Integration Name is required.");
    assert_eq!(v["warnings"][0]["field"], "sync_direction");
    // A taken name is a 422 too.
    assert_eq!(send(&app, api("POST", LIST, Some(&sarah), Some(ical("Same")))).await.status, StatusCode::CREATED);
    let a = send(&app, api("POST", LIST, Some(&sarah), Some(ical("Same")))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(first_error(&json(&a)).1, "Integration Name 'Same' already exists for user 'sarah@example.com'. Please use a unique name for each integration.");
    // Not JSON at all: 400 in the same envelope.
    let mut req = api("POST", LIST, Some(&sarah), None);
    *req.body_mut() = axum::body::Body::from("{not json");
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(first_error(&json(&a)).1.starts_with("The request body is not valid JSON"));
    // Nothing half-written: only "Same" exists.
    assert_eq!(json(&send(&app, api("GET", LIST, Some(&sarah), None)).await)["total"], 1);
});

db_test!(other_users_records_are_404_and_naming_them_is_403, |db| {
    let (app, admin, sarah, john) = setup(&db).await;
    send(&app, api("POST", LIST, Some(&sarah), Some(ical("Sarah's")))).await;
    let sarahs = format!("{LIST}/MM-CI-sarah@example.com-0001");
    let missing = format!("{LIST}/MM-CI-nobody@example.com-0001");
    let not_found = json!({"errors": [{"field": null, "message": "Not found."}], "warnings": []});
    for (method, path, body) in [
        ("GET", sarahs.clone(), None),
        ("PATCH", sarahs.clone(), Some(json!({"sync_interval_minutes": 30}))),
        ("DELETE", sarahs.clone(), None),
        ("POST", format!("{sarahs}/make-primary"), None),
        ("GET", missing.clone(), None),
    ] {
        let a = send(&app, api(method, &path, Some(&john), body)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(json(&a), not_found, "{method} {path}: the same body whether it exists or not");
    }
    for who in ["sarah@example.com", "ghost@example.com"] {
        let mut body = ical("Mine");
        body["user"] = json!(who);
        let a = send(&app, api("POST", LIST, Some(&john), Some(body))).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(first_error(&json(&a)).1, "You can only manage your own calendars.");
        let a = send(&app, api("GET", &format!("{LIST}?user={who}"), Some(&john), None)).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    // The admin's token acts on every user.
    let mut body = ical("For John");
    body["user"] = json!("john@example.com");
    let a = send(&app, api("POST", LIST, Some(&admin), Some(body))).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(json(&a)["name"], "MM-CI-john@example.com-0001");
    let a = send(&app, api("GET", LIST, Some(&admin), None)).await;
    assert_eq!(json(&a)["total"], 2);
    let a = send(&app, api("GET", &format!("{LIST}?user=sarah@example.com"), Some(&admin), None)).await;
    assert_eq!(json(&a)["items"][0]["user"], "sarah@example.com");
    assert_eq!(send(&app, api("PATCH", &sarahs, Some(&admin), Some(json!({"is_active": false})))).await.status, StatusCode::OK);
});

db_test!(make_primary_switches_and_says_so, |db| {
    let (app, _, sarah, _) = setup(&db).await;
    let mut body = ical("Work Calendar");
    body["is_primary"] = json!(1);
    let a = send(&app, api("POST", LIST, Some(&sarah), Some(body))).await;
    let v = json(&a);
    assert_eq!(v["is_primary"], true);
    assert!(v["warnings"][0]["message"].as_str().unwrap().contains("read-only"));
    let mut second = ical("Personal");
    second["is_primary"] = json!(true);
    let a = send(&app, api("POST", LIST, Some(&sarah), Some(second))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(first_error(&json(&a)).1.starts_with("A primary calendar integration already exists for user 'sarah@example.com': 'Work Calendar'."));
    send(&app, api("POST", LIST, Some(&sarah), Some(ical("Personal")))).await;
    let a = send(&app, api("POST", &format!("{LIST}/MM-CI-sarah@example.com-0002/make-primary"), Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(json(&a)["messages"], json!(["Unmarked 'Work Calendar' as primary calendar."]));
    let a = send(&app, api("GET", &format!("{LIST}?is_active=1"), Some(&sarah), None)).await;
    let primaries: Vec<_> = json(&a)["items"].as_array().unwrap().iter().filter(|i| i["is_primary"] == true).map(|i| i["integration_name"].clone()).collect();
    assert_eq!(primaries, vec![json!("Personal")]);
});

db_test!(lists_filter_and_page, |db| {
    let (app, _, sarah, _) = setup(&db).await;
    for i in 0..5 {
        send(&app, api("POST", LIST, Some(&sarah), Some(ical(&format!("Feed {i}"))))).await;
    }
    send(&app, api("PATCH", &format!("{LIST}/MM-CI-sarah@example.com-0002"), Some(&sarah), Some(json!({"is_active": false})))).await;
    let v = json(&send(&app, api("GET", &format!("{LIST}?limit=2&offset=1"), Some(&sarah), None)).await);
    assert_eq!((v["total"].as_i64(), v["items"].as_array().unwrap().len()), (Some(5), 2));
    let v = json(&send(&app, api("GET", &format!("{LIST}?is_active=false"), Some(&sarah), None)).await);
    assert_eq!(v["total"], 1);
    let v = json(&send(&app, api("GET", &format!("{LIST}?integration_type=iCal&sync_status=Pending"), Some(&sarah), None)).await);
    assert_eq!(v["total"], 5);
    let a = send(&app, api("GET", &format!("{LIST}?limit=5000"), Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(first_error(&json(&a)), (json!("limit"), "limit must be a whole number from 0 to 1000.".to_string()));
    let a = send(&app, api("GET", &format!("{LIST}?sync_status=Sleeping"), Some(&sarah), None)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
});

db_test!(openapi_document_matches_the_routes, |db| {
    let (app, admin, ..) = setup(&db).await;
    let a = send(&app, api("GET", "/api/v1/openapi.json", None, None)).await;
    assert_eq!(a.status, StatusCode::OK);
    let doc = json(&a);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> =
        doc["paths"].as_object().unwrap().iter().flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone()))).collect();
    documented.sort();
    let mut routes: Vec<(String, String)> = app::ssr::rest::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    routes.sort();
    assert_eq!(documented, routes, "the OpenAPI document and the route list differ");
    // Every documented route is served (not the 404 fallback, not 405).
    for (i, (method, path)) in routes.iter().enumerate() {
        let probe = json(&send(&app, api("POST", LIST, Some(&admin), Some(ical(&format!("Probe {i}"))))).await);
        let export = json(&send(&app, api("POST", "/api/v1/exports", Some(&admin), Some(json!({"kind": "freebusy"})))).await);
        let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
        let booking = json(&send(&app, api("POST", "/api/v1/bookings", Some(&admin), Some(json!({"title": format!("Probe {i}"), "start": format!("{tomorrow} 10:00"), "end": format!("{tomorrow} 11:00"), "time_zone": "UTC", "allow_conflict": true})))).await);
        let conflict = {
            use server::domain::{conflicts, merge::Fields};
            let f = Fields {
                title: "Probe".into(),
                start: chrono::Utc::now(),
                end: chrono::Utc::now(),
                location: None,
                description: None,
                attendees: Vec::new(),
                occurrences: Default::default(),
                recurrence: None,
            };
            let mut c = db.pool.get().await.unwrap();
            let new = conflicts::New {
                booking_id: booking["id"].as_i64().unwrap(),
                copy_id: None,
                integration_id: None,
                calendar: "Work",
                state: conflicts::ConflictState::Open,
                policy: "ask",
                base: &f,
                local: &f,
                remote: Some(&f),
                fields: &["title".to_string()],
                outcome: None,
                remote_etag: None,
                decided_by: None,
            };
            conflicts::record(&mut c.conn(), new).await.unwrap()
        };
        let id = if path.starts_with("/api/v1/bookings") {
            booking["id"].to_string()
        } else if path.starts_with("/api/v1/conflicts") {
            conflict.to_string()
        } else {
            export["id"].to_string()
        };
        let name = if path.starts_with("/api/v1/teams") {
            let team = json(&send(&app, api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": format!("Probe {i}")})))).await);
            team["name"].as_str().unwrap().replace(' ', "%20")
        } else {
            probe["name"].as_str().unwrap().to_string()
        };
        let date = format!("2027-01-{:02}", i % 28 + 1);
        send(&app, api("PUT", &format!("/api/v1/users/admin@example.com/date-overrides/{date}"), Some(&admin), Some(json!({"hours": []})))).await;
        let concrete = path.replace("{name}", &name).replace("{id}", &id).replace("{email}", "admin@example.com").replace("{date}", &date);
        let body = matches!(method.as_str(), "post" | "patch").then(|| json!({}));
        let a = send(&app, api(&method.to_uppercase(), &concrete, Some(&admin), body)).await;
        assert!(
            a.status != StatusCode::METHOD_NOT_ALLOWED && a.body != r#"{"errors":[{"field":null,"message":"Not found."}],"warnings":[]}"#,
            "{method} {concrete}: {} {}",
            a.status,
            a.body
        );
    }
    // Every schema the document names exists.
    for name in ["IntegrationJson", "WriteJson", "ListJson", "IntegrationInput", "ErrorBody"] {
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    // Every parameter is where its route takes it: the path's own names in the path, the rest
    // in the query (a generated client builds its URLs from this).
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(place, if in_path { "path" } else { "query" }, "{method} {path}: parameter {name}");
            }
        }
    }
    // And an independent validator accepts the document.
    let out = run_python(&["-c", "import json, sys; from openapi_spec_validator import validate; validate(json.load(sys.stdin)); print('valid')"], &a.body);
    assert_eq!(out.trim(), "valid");
});

db_test!(feed_urls_are_shown_whole_only_to_their_owner, |db| {
    add_user(&db, "ana@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let app = app(&db);
    let ana = token_for(&db, "ana@example.com").await;
    let admin = token_for(&db, "admin@example.com").await;
    let url = "https://calendar.example.com/calendar/ical/ana/private-8f3a9c2e71b4d605/basic.ics";
    let body = serde_json::json!({"integration_type": "iCal", "integration_name": "Club", "ical_url": url});
    let a = send(&app, api("POST", "/api/v1/integrations", Some(&ana), Some(body))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(json(&a)["ical_url"], url, "the owner's own answer has it all");
    let name = json(&a)["name"].as_str().unwrap().to_string();
    let own = send(&app, api("GET", &format!("/api/v1/integrations/{name}"), Some(&ana), None)).await;
    assert_eq!(json(&own)["ical_url"], url);
    // An admin acting on it sees the mask, in a record and in a list.
    let theirs = send(&app, api("GET", &format!("/api/v1/integrations/{name}"), Some(&admin), None)).await;
    assert_eq!(json(&theirs)["ical_url"], "https://calendar.example.com/…/basic.ics");
    let list = send(&app, api("GET", "/api/v1/integrations", Some(&admin), None)).await;
    assert!(!list.body.contains("private-8f3a"), "{}", list.body);
    // The edit form: whole for Ana, masked (and said so) for the admin.
    let ana_cookie = sign_in(&app, "ana%40example.com", "right+password").await.ok().unwrap();
    let admin_cookie = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let page = send(&app, get(&format!("/calendars/{name}"), Some(&ana_cookie))).await;
    assert!(page.body.contains("private-8f3a9c2e71b4d605"), "the owner edits the whole address");
    let page = send(&app, get(&format!("/calendars/{name}"), Some(&admin_cookie))).await;
    assert!(!page.body.contains("private-8f3a") && page.body.contains("Only the owner sees the whole address"), "{}", page.body);
});
