//! The connection manager's server functions over the real router: another user's record does not
//! exist for you, whichever function you call (the foreign-record matrix).
use crate::common;

use app::api::integrations::{DeleteIntegration, GetIntegrationForm, ListIntegrations, MakePrimary, SaveIntegration, SetIntegrationActive};
use axum::http::StatusCode;
use common::*;
use leptos::server_fn::ServerFn;
use server::domain::users::Role;
use testkit::db_test;

db_test!(foreign_records_are_not_found_in_every_server_function, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let app = app(&db);
    let sarah = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let john = sign_in(&app, "john%40example.com", "right+password").await.ok().unwrap();
    let created = send(&app, form(SaveIntegration::PATH, "integration_type=iCal&integration_name=Mine&ical_url=https%3A%2F%2Fexample.com%2Fa.ics&is_active=on&sync_direction=One-way+%28Read+Only%29&sync_past_days=30&sync_future_days=90&sync_interval_minutes=60&auto_sync_enabled=on", Some(&sarah))).await;
    assert!(created.status.is_success() || created.status.is_redirection(), "{}", created.body);
    let rec = "MM-CI-sarah%40example.com-0001";
    for (path, body) in [
        (GetIntegrationForm::PATH, format!("name={rec}")),
        (SaveIntegration::PATH, format!("name={rec}&integration_type=iCal&integration_name=Hijacked&ical_url=https%3A%2F%2Fevil.example%2F&sync_direction=One-way+%28Read+Only%29&sync_past_days=1&sync_future_days=1&sync_interval_minutes=5")),
        (MakePrimary::PATH, format!("name={rec}")),
        (SetIntegrationActive::PATH, format!("name={rec}&active=false&version=1")),
        (DeleteIntegration::PATH, format!("name={rec}")),
    ] {
        let a = send(&app, form(path, body, Some(&john))).await;
        assert!(!a.status.is_success(), "{path}: {}", a.status);
        assert!(a.body.contains("NotFound"), "{path}: {}", a.body);
        assert!(!a.body.contains("Mine"), "{path} leaked the record: {}", a.body);
    }
    // Sarah's record is untouched, and John's list is empty.
    let a = send(&app, form(GetIntegrationForm::PATH, format!("name={rec}"), Some(&sarah))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("\"integration_name\":\"Mine\"") && a.body.contains("\"version\":1"), "{}", a.body);
    let a = send(&app, form(ListIntegrations::PATH, "", Some(&john))).await;
    assert!(a.body.contains("\"items\":[]"), "{}", a.body);
    // The page itself answers 404 too.
    let page = send(&app, get("/calendars/MM-CI-sarah@example.com-0001", Some(&john))).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Page not found"));
    let page = send(&app, get("/calendars/MM-CI-sarah@example.com-0001", Some(&sarah))).await;
    assert_eq!(page.status, StatusCode::OK);
});

db_test!(a_form_posted_without_javascript_comes_back_with_values_and_messages, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    let sarah = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let req = form(
        SaveIntegration::PATH,
        "integration_type=iCal&integration_name=My+feed&ical_url=ftp%3A%2F%2Fx&sync_past_days=30&sync_future_days=90&sync_interval_minutes=60",
        Some(&sarah),
    );
    let a = send(&app, plain_post(req, "/calendars/new")).await;
    assert!(a.status.is_redirection(), "{}", a.status);
    // Only a flash id travels in the address, never the values or the messages.
    let to = a.headers[axum::http::header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/calendars/new?flash="), "{to}");
    assert!(!to.contains("My") && !to.contains("ftp") && !to.contains("err"), "{to}");
    let page = send(&app, get(&to, Some(&sarah))).await;
    assert!(page.body.contains("iCal URL must start with http://, https://, or webcal://"), "{}", page.body);
    assert!(page.body.contains("value=\"My feed\""), "the typed name is kept");
    assert!(page.body.contains("value=\"ftp://x\""), "the typed URL is kept");
    // A good save lands on the list with the notice.
    let req = form(SaveIntegration::PATH, "integration_type=iCal&integration_name=My+feed&ical_url=https%3A%2F%2Fexample.com%2Fa.ics&is_active=on&sync_past_days=30&sync_future_days=90&sync_interval_minutes=60", Some(&sarah));
    let a = send(&app, plain_post(req, "/calendars/new")).await;
    let to = a.headers[axum::http::header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/calendars?flash="), "{to}");
    let page = send(&app, get(&to, Some(&sarah))).await;
    assert!(page.body.contains("Added &#x27;My feed&#x27;.") || page.body.contains("Added 'My feed'."), "{}", page.body);
});
