//! `/api/v1/bookings` over the real router, on SQLite and PostgreSQL: 201 with the booking, 409
//! naming what is in the way (in the availability check's shape), 422, 403, 404, list, cancel.
mod common;

use axum::http::StatusCode;
use chrono::{Duration as Days, Utc};
use common::*;
use serde_json::json;
use server::{db_test, domain::users::Role};

const BOOKINGS: &str = "/api/v1/bookings";

db_test!(bookings_over_rest, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let (sarah, john, admin) = (token_for(&db, "sarah@example.com").await, token_for(&db, "john@example.com").await, token_for(&db, "admin@example.com").await);
    let app = app(&db);
    let day = (Utc::now().date_naive() + Days::days(2)).to_string();
    let at = |t: &str| format!("{day} {t}");

    let a = send(&app, api("POST", BOOKINGS, Some(&admin), Some(json!({"user": "sarah@example.com", "title": "Intro call", "start": at("10:00"), "end": at("10:30"), "time_zone": "Europe/Berlin", "attendees": ["lee@example.com"], "location": "Zoom"})))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let made = json(&a);
    assert_eq!((made["user"].clone(), made["start"].clone(), made["status"].clone(), made["version"].clone(), made["copies"].clone()), (json!("sarah@example.com"), json!(format!("{day}T09:00:00Z")), json!("confirmed"), json!(1), json!([])));
    assert_eq!(made["created_by"], "admin@example.com (API token)");

    // A clash: 409, a message per blocker, and the blockers in the availability check's shape.
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "Overlap", "start": format!("{day}T09:15:00Z"), "end": format!("{day}T09:45:00Z"), "time_zone": "Europe/Berlin"})))).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let v = json(&a);
    assert_eq!(v["errors"][0]["message"], "sarah@example.com is busy 10:00–10:30: 'Intro call' (Booking)");
    assert_eq!(v["conflicts"][0], json!({"start": format!("{day}T09:00:00Z"), "end": format!("{day}T09:30:00Z"), "integration": format!("booking-{}", made["id"]), "integration_name": "Booking", "summary": "Intro call"}));
    // The slot check sees the booking too.
    let check = json(&send(&app, api("POST", "/api/v1/availability/check", Some(&sarah), Some(json!({"start": format!("{day}T09:10:00Z"), "end": format!("{day}T09:20:00Z")})))).await);
    assert_eq!(check["free"], false);

    // Bad input, permissions.
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "No zone", "start": at("12:00"), "end": at("13:00")})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("time_zone")));
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "x", "start": at("12:00"), "end": at("13:00"), "time_zone": "UTC", "colour": "red"})))).await;
    assert_eq!(json(&a)["errors"][0]["message"], "Unknown field 'colour'.");
    let a = send(&app, api("POST", BOOKINGS, Some(&john), Some(json!({"user": "sarah@example.com", "title": "x", "start": at("12:00"), "end": at("13:00"), "time_zone": "UTC"})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].clone()), (StatusCode::FORBIDDEN, json!("You can only book meetings for yourself.")));
    let one = format!("{BOOKINGS}/{}", made["id"]);
    assert_eq!(send(&app, api("GET", &one, Some(&john), None)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, api("GET", &format!("{BOOKINGS}/nope"), Some(&sarah), None)).await.status, StatusCode::NOT_FOUND);

    // List, read, cancel (twice is 409).
    let list = json(&send(&app, api("GET", &format!("{BOOKINGS}?from={day}"), Some(&sarah), None)).await);
    assert_eq!((list["total"].clone(), list["items"][0]["title"].clone()), (json!(1), json!("Intro call")));
    assert_eq!(json(&send(&app, api("GET", &one, Some(&sarah), None)).await)["location"], "Zoom");
    let a = send(&app, api("POST", &format!("{one}/cancel"), Some(&sarah), None)).await;
    assert_eq!((a.status, json(&a)["status"].clone(), json(&a)["version"].clone()), (StatusCode::OK, json!("cancelled"), json!(2)));
    let a = send(&app, api("POST", &format!("{one}/cancel"), Some(&sarah), None)).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].clone()), (StatusCode::CONFLICT, json!("This booking is cancelled already.")));
    // Cancelled, it no longer blocks.
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "Now free", "start": format!("{day}T09:15:00Z"), "end": format!("{day}T09:45:00Z"), "time_zone": "UTC"})))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
});
