//! `/api/v1/bookings` over the real router, on SQLite and PostgreSQL: 201 with the booking, 409
//! naming what is in the way (in the availability check's shape), 422, 403, 404, list, cancel;
//! the calendars a booking could not be checked against (fail-open: a warning each; fail-closed:
//! refused, saying why), over REST and the Bookings page's server function.
use crate::common;

use app::api::bookings::CreateBooking;
use axum::http::StatusCode;
use chrono::{Duration as Days, Utc};
use common::*;
use leptos::server_fn::ServerFn;
use serde_json::json;
use server::domain::users::Role;
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

const BOOKINGS: &str = "/api/v1/bookings";

fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))).collect::<Vec<_>>().join("&")
}

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
    assert_eq!(
        (made["user"].clone(), made["start"].clone(), made["status"].clone(), made["version"].clone(), made["copies"].clone()),
        (json!("sarah@example.com"), json!(format!("{day}T09:00:00Z")), json!("confirmed"), json!(1), json!([]))
    );
    assert_eq!(made["created_by"], "admin@example.com (API token)");

    // A clash: 409, a message per blocker, and the blockers in the availability check's shape.
    let a = send(
        &app,
        api(
            "POST",
            BOOKINGS,
            Some(&sarah),
            Some(json!({"title": "Overlap", "start": format!("{day}T09:15:00Z"), "end": format!("{day}T09:45:00Z"), "time_zone": "Europe/Berlin"})),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let v = json(&a);
    assert_eq!(v["errors"][0]["message"], "sarah@example.com is busy 10:00–10:30: 'Intro call' (Booking)");
    assert_eq!(
        v["conflicts"][0],
        json!({"start": format!("{day}T09:00:00Z"), "end": format!("{day}T09:30:00Z"), "integration": format!("booking-{}", made["id"]), "integration_name": "Booking", "summary": "Intro call", "kind": "booking", "rule": null})
    );
    // The slot check sees the booking too.
    let check = json(
        &send(
            &app,
            api("POST", "/api/v1/availability/check", Some(&sarah), Some(json!({"start": format!("{day}T09:10:00Z"), "end": format!("{day}T09:20:00Z")}))),
        )
        .await,
    );
    assert_eq!(check["free"], false);

    // Bad input, permissions.
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "No zone", "start": at("12:00"), "end": at("13:00")})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("time_zone")));
    let a = send(
        &app,
        api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "x", "start": at("12:00"), "end": at("13:00"), "time_zone": "UTC", "colour": "red"}))),
    )
    .await;
    assert_eq!(json(&a)["errors"][0]["message"], "Unknown field 'colour'.");
    let a = send(
        &app,
        api(
            "POST",
            BOOKINGS,
            Some(&john),
            Some(json!({"user": "sarah@example.com", "title": "x", "start": at("12:00"), "end": at("13:00"), "time_zone": "UTC"})),
        ),
    )
    .await;
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
    let a = send(
        &app,
        api(
            "POST",
            BOOKINGS,
            Some(&sarah),
            Some(json!({"title": "Now free", "start": format!("{day}T09:15:00Z"), "end": format!("{day}T09:45:00Z"), "time_zone": "UTC"})),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
});

db_test!(a_booking_is_changed_with_the_version_it_was_read_at, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let (sarah, john) = (token_for(&db, "sarah@example.com").await, token_for(&db, "john@example.com").await);
    let app = app(&db);
    let day = (Utc::now().date_naive() + Days::days(3)).to_string();
    let at = |t: &str| format!("{day} {t}");
    let first = json(
        &send(&app, api("POST", BOOKINGS, Some(&sarah), Some(json!({"title": "Standup", "start": at("09:00"), "end": at("09:15"), "time_zone": "UTC"})))).await,
    );
    let other = json(
        &send(
            &app,
            api(
                "POST",
                BOOKINGS,
                Some(&sarah),
                Some(json!({"title": "Review", "start": at("11:00"), "end": at("12:00"), "time_zone": "UTC", "location": "Room 1"})),
            ),
        )
        .await,
    );
    let one = format!("{BOOKINGS}/{}", other["id"]);

    // Moved and retitled; location cleared with null; unchanged fields stay.
    let a = send(
        &app,
        api("PATCH", &one, Some(&sarah), Some(json!({"version": 1, "title": "Design review", "start": at("13:00"), "end": at("14:00"), "location": null}))),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = json(&a);
    assert_eq!(
        (v["title"].clone(), v["start"].clone(), v["location"].clone(), v["time_zone"].clone(), v["version"].clone()),
        (json!("Design review"), json!(format!("{day}T13:00:00Z")), json!(null), json!("UTC"), json!(2))
    );

    // A stale version: 409 and nothing changes.
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 1, "title": "Lost"})))).await;
    assert_eq!(
        (a.status, json(&a)["errors"][0]["message"].clone()),
        (StatusCode::CONFLICT, json!("This booking was changed since you read it (it is at version 2 now). Reload it and try again."))
    );
    assert_eq!(json(&send(&app, api("GET", &one, Some(&sarah), None)).await)["title"], "Design review");

    // Moving onto another booking is a clash (409 naming it) unless allowed; itself is no clash.
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 2, "start": at("09:00"), "end": at("10:00")})))).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!(json(&a)["conflicts"][0]["integration"], format!("booking-{}", first["id"]));
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 2, "start": at("13:30"), "end": at("14:30")})))).await;
    assert_eq!(a.status, StatusCode::OK, "overlapping its own old time is fine: {}", a.body);

    // Bad input: no version, unknown fields, a bad zone, the past; another's booking is 404.
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"title": "x"})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("version")));
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 3, "colour": "red"})))).await;
    assert_eq!(json(&a)["errors"][0]["message"], "Unknown field 'colour'.");
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 3, "time_zone": "Mars/Olympus"})))).await;
    assert_eq!(json(&a)["errors"][0]["message"], "'Mars/Olympus' is not a time zone: use an IANA name such as Europe/Berlin.");
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 3, "start": "2020-01-01 10:00", "end": "2020-01-01 11:00"})))).await;
    assert_eq!(json(&a)["errors"][0]["message"], "A booking cannot start in the past.");
    assert_eq!(send(&app, api("PATCH", &one, Some(&john), Some(json!({"version": 3, "title": "Mine"})))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(json(&send(&app, api("GET", &one, Some(&sarah), None)).await)["version"], 3);

    // A cancelled booking cannot be changed.
    send(&app, api("POST", &format!("{one}/cancel"), Some(&sarah), None)).await;
    let a = send(&app, api("PATCH", &one, Some(&sarah), Some(json!({"version": 4, "title": "Back"})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].clone()), (StatusCode::CONFLICT, json!("This booking is cancelled already.")));
});

db_test!(one_occurrence_of_a_recurring_booking_is_moved_or_cancelled, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "john@example.com", Role::User).await;
    let (sarah, john) = (token_for(&db, "sarah@example.com").await, token_for(&db, "john@example.com").await);
    let app = app(&db);
    let day = Utc::now().date_naive() + Days::days(2);
    let weekly = json!({"title": "Standup", "start": format!("{day} 10:00"), "end": format!("{day} 10:30"), "time_zone": "Europe/Berlin", "recurrence": "RRULE:FREQ=WEEKLY;COUNT=4"});
    let made = json(&send(&app, api("POST", BOOKINGS, Some(&sarah), Some(weekly))).await);
    let one = format!("{BOOKINGS}/{}", made["id"]);
    let utc_of = |d: chrono::NaiveDate| {
        server::providers::write::occurrence_key(d.and_hms_opt(10, 0, 0).unwrap().and_local_timezone(chrono_tz::Europe::Berlin).unwrap().to_utc())
    };
    let second = utc_of(day + Days::days(7));
    let third = utc_of(day + Days::days(14));
    let occ = |key: &str| format!("{one}/occurrences/{key}");

    // Moved and retitled: the booking answers the changed occurrence; the others stay.
    let later = format!("{} 15:00", day + Days::days(7));
    let until = format!("{} 15:30", day + Days::days(7));
    let a =
        send(&app, api("PATCH", &occ(&second), Some(&sarah), Some(json!({"version": 1, "start": later, "end": until, "title": "Standup (afternoon)"})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = json(&a);
    assert_eq!(v["version"], 2);
    assert_eq!(v["start"], made["start"], "the series stays");
    let moved = &v["occurrences"][&second];
    assert_eq!((moved["title"].as_str(), moved["cancelled"].as_bool()), (Some("Standup (afternoon)"), Some(false)));
    assert!(moved["start"].as_str().unwrap().ends_with("T14:00:00Z"), "{moved}");
    // The compact form names the same occurrence; cancelling it, then again.
    let compact = chrono::DateTime::parse_from_rfc3339(&third).unwrap().format("%Y%m%dT%H%M%SZ").to_string();
    let a = send(&app, api("POST", &format!("{}/cancel", occ(&compact)), Some(&sarah), None)).await;
    assert_eq!((a.status, json(&a)["occurrences"][&third]["cancelled"].clone()), (StatusCode::OK, json!(true)), "{}", a.body);
    let a = send(&app, api("POST", &format!("{}/cancel", occ(&third)), Some(&sarah), Some(json!({"version": 3})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].clone()), (StatusCode::CONFLICT, json!("This occurrence is cancelled already.")));
    // The moved occurrence blocks its new time; the cancelled one blocks nothing.
    let check = |s: String, e: String| api("POST", "/api/v1/availability/check", Some(&sarah), Some(json!({"start": s, "end": e})));
    let t = |d: chrono::NaiveDate, h: &str| format!("{d}T{h}:00Z");
    assert_eq!(json(&send(&app, check(t(day + Days::days(7), "14:10"), t(day + Days::days(7), "14:20"))).await)["free"], false);
    assert_eq!(json(&send(&app, check(t(day + Days::days(7), "09:05"), t(day + Days::days(7), "09:10"))).await)["free"], true);
    assert_eq!(json(&send(&app, check(t(day + Days::days(14), "09:05"), t(day + Days::days(14), "09:10"))).await)["free"], true);
    // The history holds each step, before and after.
    let h = json(&send(&app, api("GET", &format!("/api/v1/history?booking={}", made["id"]), Some(&sarah), None)).await);
    let actions: Vec<&str> = h["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"update occurrence") && actions.contains(&"cancel occurrence"), "{actions:?}");

    // Bad input changes nothing.
    let a = send(&app, api("PATCH", &occ(&second), Some(&sarah), Some(json!({"version": 1, "title": "x"})))).await;
    assert_eq!(
        (a.status, json(&a)["errors"][0]["message"].clone()),
        (StatusCode::CONFLICT, json!("This booking was changed since you read it (it is at version 3 now). Reload it and try again."))
    );
    let a = send(&app, api("PATCH", &occ("2020-01-01T09:00:00Z"), Some(&sarah), Some(json!({"version": 3, "title": "x"})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("recurrence_id")));
    assert!(json(&a)["errors"][0]["message"].as_str().unwrap().starts_with("'2020-01-01T09:00:00Z' is not an occurrence of this booking"));
    let a = send(&app, api("PATCH", &occ(&second), Some(&sarah), Some(json!({"version": 3, "end": format!("{} 14:00", day + Days::days(7))})))).await;
    assert_eq!(json(&a)["errors"][0]["message"], "The end must be after the start.");
    let a = send(&app, api("PATCH", &occ(&second), Some(&sarah), Some(json!({"version": 3, "title": "  "})))).await;
    assert_eq!(json(&a)["errors"][0]["message"], "Title is required.");
    let a = send(&app, api("PATCH", &occ(&second), Some(&sarah), Some(json!({"title": "x"})))).await;
    assert_eq!(json(&a)["errors"][0]["field"], "version");
    assert_eq!(send(&app, api("PATCH", &occ(&second), Some(&john), Some(json!({"version": 3, "title": "x"})))).await.status, StatusCode::NOT_FOUND);
    let single = json(
        &send(
            &app,
            api(
                "POST",
                BOOKINGS,
                Some(&sarah),
                Some(json!({"title": "Once", "start": format!("{day} 12:00"), "end": format!("{day} 12:30"), "time_zone": "UTC"})),
            ),
        )
        .await,
    );
    let a = send(&app, api("POST", &format!("{BOOKINGS}/{}/occurrences/{second}/cancel", single["id"]), Some(&sarah), None)).await;
    assert_eq!(json(&a)["errors"][0]["message"], "This booking does not recur: change the booking itself.");
    // Moving onto another meeting is a clash, unless allowed.
    let onto = json!({"version": 3, "start": format!("{day}T12:10:00Z"), "end": format!("{day}T12:20:00Z")});
    let first = utc_of(day);
    let a = send(&app, api("PATCH", &occ(&first), Some(&sarah), Some(onto))).await;
    assert_eq!((a.status, json(&a)["conflicts"][0]["summary"].clone()), (StatusCode::CONFLICT, json!("Once")));
    let v = json(&send(&app, api("GET", &one, Some(&sarah), None)).await);
    assert_eq!((v["version"].clone(), v["occurrences"].as_object().unwrap().len()), (json!(3), 2), "nothing changed");
    // Back to what the series says: it follows the series again.
    let back = json!({"version": 3, "start": format!("{} 10:00", day + Days::days(7)), "end": format!("{} 10:30", day + Days::days(7)), "title": "Standup"});
    let v = json(&send(&app, api("PATCH", &occ(&second), Some(&sarah), Some(back))).await);
    assert_eq!(v["occurrences"].as_object().unwrap().keys().cloned().collect::<Vec<_>>(), vec![third.clone()]);
});

db_test!(a_booking_says_which_calendars_it_could_not_check, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let sarah = token_for(&db, "sarah@example.com").await;
    let app = app(&db);
    let cookie = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let host = FeedHost::start().await;
    let day = Utc::now().date_naive() + Days::days(2);
    let d = day.format("%Y%m%d").to_string();
    host.set("/team.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:standup\r\nDTSTART:{d}T090000Z\r\nDTEND:{d}T100000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    let created = json(
        &send(
            &app,
            api(
                "POST",
                "/api/v1/integrations",
                Some(&sarah),
                Some(json!({"integration_type": "iCal", "integration_name": "Team", "ical_url": host.url("/team.ics")})),
            ),
        )
        .await,
    );
    let name = created["name"].as_str().unwrap().to_owned();
    sync_and_wait(&app, &sarah, &name).await;
    let at = |t: &str| format!("{day}T{t}:00Z");
    let meeting = |title: &str, from: &str, to: &str| json!({"title": title, "start": at(from), "end": at(to), "time_zone": "UTC"});

    // Every calendar synced: nothing to say.
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(meeting("Before", "11:00", "11:30")))).await;
    assert_eq!((a.status, json(&a)["degraded"].clone()), (StatusCode::CREATED, json!([])), "{}", a.body);

    // The feed breaks (a transient failure is Failed at the third in a row); fail-open (the
    // default): booked, and the answer says which calendar could not be checked and since when
    // (in the member's zone, UTC here).
    host.set("/team.ics", Reply::Status(500));
    for _ in 0..3 {
        sync_and_wait(&app, &sarah, &name).await;
    }
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(meeting("Planning", "14:00", "15:00")))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let made = json(&a);
    assert_eq!(made["degraded"].as_array().unwrap().len(), 1, "{made}");
    let degraded = &made["degraded"][0];
    assert_eq!(degraded["integration"], name.as_str());
    assert_eq!(
        (degraded["integration_name"].clone(), degraded["kind"].clone(), degraded["stale_policy"].clone()),
        (json!("Team"), json!("Failed"), json!("fail-open"))
    );
    let last = chrono::DateTime::parse_from_rfc3339(degraded["last_sync"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    let since = if last.date_naive() == Utc::now().date_naive() { last.format("%H:%M").to_string() } else { last.format("%Y-%m-%d %H:%M").to_string() };
    let warning = format!("Booked, but 'Team' has not synced since {since} — a clash there would not be seen");
    assert_eq!(degraded["warning"], warning.as_str());
    // Only a create or change answers it; a read does not.
    let planning = format!("{BOOKINGS}/{}", made["id"]);
    assert!(json(&send(&app, api("GET", &planning, Some(&sarah), None)).await).get("degraded").is_none());
    // The availability answer names it the same way, without the booking's words.
    let check = json(&send(&app, api("POST", "/api/v1/availability/check", Some(&sarah), Some(json!({"start": at("16:00"), "end": at("17:00")})))).await);
    assert_eq!((check["degraded"][0]["kind"].clone(), check["degraded"][0].get("warning")), (json!("Failed"), None));
    // The Bookings page says it too.
    let page = |title: &str, from: &str, to: &str| {
        let (start, end) = (format!("{day}T{from}"), format!("{day}T{to}"));
        form_body(&[("title", title), ("start", start.as_str()), ("end", end.as_str()), ("time_zone", "UTC")])
    };
    let a = send(&app, form(CreateBooking::PATH, page("Page booking", "12:00", "12:30"), Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains("Booked 'Page booking' for sarah@example.com.") && a.body.contains(&warning), "{}", a.body);

    // Fail-closed: refused with 409, naming the calendar and why; nothing is stored.
    let a = send(&app, api("PATCH", &format!("/api/v1/integrations/{name}"), Some(&sarah), Some(json!({"stale_policy": "fail-closed"})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let reason = format!("'Team' has not synced since {since}, and its policy is fail-closed: a clash there would not be seen, so the time counts as busy and nothing was saved. Sync it again, or override the conflict to book anyway.");
    let a = send(&app, api("POST", BOOKINGS, Some(&sarah), Some(meeting("Review", "16:00", "17:00")))).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let v = json(&a);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["errors"][0]["message"], reason.as_str());
    assert_eq!(
        (v["conflicts"][0]["integration"].clone(), v["conflicts"][0]["summary"].clone()),
        (json!(name.as_str()), json!("Failed calendar: treated as busy"))
    );
    assert_eq!((v["degraded"][0]["integration"].clone(), v["degraded"][0]["stale_policy"].clone()), (json!(name.as_str()), json!("fail-closed")));
    let a = send(&app, form(CreateBooking::PATH, page("Refused on the page", "19:00", "19:30"), Some(&cookie))).await;
    assert!(a.body.contains("Busy") && a.body.contains(&reason), "{}", a.body);
    let none = json(&send(&app, api("GET", &format!("{BOOKINGS}?from={}&to={}", at("16:00"), at("20:00")), Some(&sarah), None)).await);
    assert_eq!(none["total"], 0, "nothing was stored: {none}");
    let all = json(&send(&app, api("GET", &format!("{BOOKINGS}?from={day}"), Some(&sarah), None)).await);
    let titles: Vec<&str> = all["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["Before", "Page booking", "Planning"]);

    // Moving a booking is refused the same way and leaves it; a change that keeps its times is
    // not, and has nothing to warn about.
    let a = send(&app, api("PATCH", &planning, Some(&sarah), Some(json!({"version": 1, "start": at("16:00"), "end": at("17:00")})))).await;
    assert_eq!((a.status, json(&a)["errors"][0]["message"].clone()), (StatusCode::CONFLICT, json!(reason.as_str())), "{}", a.body);
    assert_eq!(json(&send(&app, api("GET", &planning, Some(&sarah), None)).await)["start"], at("14:00"), "not moved");
    let a = send(&app, api("PATCH", &planning, Some(&sarah), Some(json!({"version": 1, "title": "Planning (v2)"})))).await;
    assert_eq!((a.status, json(&a)["degraded"].clone()), (StatusCode::OK, json!([])), "{}", a.body);

    // Overridden: booked anyway, with the warning.
    let a = send(
        &app,
        api(
            "POST",
            BOOKINGS,
            Some(&sarah),
            Some(json!({"title": "Review", "start": at("16:00"), "end": at("17:00"), "time_zone": "UTC", "allow_conflict": true})),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(json(&a)["degraded"][0]["warning"], warning.as_str());
});
