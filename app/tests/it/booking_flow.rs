//! The spec's booking flow over the real router, on SQLite and PostgreSQL: a member's working
//! hours, rules and date overrides; teams; free slots for a member or a team, across zones and
//! DST changes; a booking for a team assigned to a free member, least recently booked first.
use crate::common;

use axum::http::StatusCode;
use chrono::{Datelike, Duration as Days, NaiveDate, Utc, Weekday};
use common::*;
use serde_json::{json, Value};
use server::domain::users::Role;
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

fn settings_url(email: &str) -> String {
    format!("/api/v1/users/{email}/availability-settings")
}

fn weekdays(zone: &str, start: &str, end: &str) -> Value {
    json!({"time_zone": zone, "working_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": start, "end": end}]})
}

async fn put(app: &axum::Router, token: &str, path: &str, body: Value) -> Answer {
    send(app, api("PUT", path, Some(token), Some(body))).await
}

async fn slots(app: &axum::Router, token: &str, query: &str) -> Value {
    let a = send(app, api("GET", &format!("/api/v1/slots?{query}"), Some(token), None)).await;
    assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.body);
    json(&a)
}

fn starts(v: &Value) -> Vec<String> {
    v["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap().to_string()).collect()
}

fn messages(a: &Answer) -> Vec<(String, String)> {
    json(a)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap_or_default().to_string(), e["message"].as_str().unwrap().to_string()))
        .collect()
}

/// The first Monday at least `days` from today.
fn monday_after(days: i64) -> NaiveDate {
    let mut d = Utc::now().date_naive() + Days::days(days);
    while d.weekday() != Weekday::Mon {
        d += Days::days(1);
    }
    d
}

db_test!(working_hours_and_date_overrides_are_set_checked_and_kept_to_their_owner, |db| {
    add_user(&db, "ana@example.com", Role::User).await;
    add_user(&db, "bob@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let (ana, bob, admin) = (token_for(&db, "ana@example.com").await, token_for(&db, "bob@example.com").await, token_for(&db, "admin@example.com").await);
    let app = app(&db);
    let url = settings_url("ana@example.com");

    // Nothing set: available at any time, in the profile's zone.
    let a = send(&app, api("GET", &url, Some(&ana), None)).await;
    assert_eq!(
        json(&a),
        json!({"time_zone": "UTC", "working_hours": null, "buffer_before_minutes": 0, "buffer_after_minutes": 0, "minimum_notice_minutes": 0, "max_bookings_per_day": null, "max_bookings_per_week": null})
    );

    let good = json!({"time_zone": "Europe/Berlin", "working_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}], "buffer_before_minutes": 0, "buffer_after_minutes": 15, "minimum_notice_minutes": 60, "max_bookings_per_day": 4, "max_bookings_per_week": null});
    let a = put(&app, &ana, &url, good.clone()).await;
    assert_eq!((a.status, json(&a)), (StatusCode::OK, good.clone()), "{}", a.body);

    // Each bad field its message; nothing changes.
    let bad = json!({"time_zone": "Mars/Olympus", "working_hours": [
        {"days": ["mon", "funday"], "start": "09:00", "end": "12:00"},
        {"days": ["tue"], "start": "22:00", "end": "02:00"},
        {"days": ["wed"], "start": "09:00", "end": "12:00"},
        {"days": ["wed"], "start": "11:00", "end": "13:00"}
    ], "buffer_before_minutes": -5, "max_bookings_per_week": -1});
    let a = put(&app, &ana, &url, bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        messages(&a),
        vec![
            ("time_zone".into(), "'Mars/Olympus' is not a time zone: use an IANA name such as Europe/Berlin.".into()),
            ("working_hours[0].days".into(), "'funday' is not a day: use mon, tue, wed, thu, fri, sat or sun.".into()),
            ("working_hours[1].end".into(), "end 02:00 is before start 22:00: for hours that cross midnight, set \"overnight\": true.".into()),
            ("working_hours[3]".into(), "11:00–13:00 on Wednesday overlaps 09:00–12:00 on Wednesday (working_hours[2]).".into()),
            ("buffer_before_minutes".into(), "buffer_before_minutes cannot be negative.".into()),
            ("max_bookings_per_week".into(), "max_bookings_per_week cannot be negative.".into()),
        ]
    );
    assert_eq!(json(&send(&app, api("GET", &url, Some(&ana), None)).await), good);
    // A body of the wrong shape is named to the field, also inside the list.
    for (body, field, message) in [
        (json!({"working_hours": [{"days": ["mon"], "start": 9, "end": "17:00"}]}), "working_hours[0].start", "working_hours[0].start must be a string."),
        (json!({"working_hours": [{"days": ["mon"], "start": "09:00"}]}), "working_hours[0].end", "end is required."),
        (
            json!({"working_hours": [{"days": "mon", "start": "09:00", "end": "17:00"}]}),
            "working_hours[0].days",
            "working_hours[0].days must be a list such as [\"mon\", \"tue\"].",
        ),
        (json!({"buffer_after_minutes": "ten"}), "buffer_after_minutes", "buffer_after_minutes must be a whole number."),
        (json!({"max_bookings_per_day": 2.5}), "max_bookings_per_day", "max_bookings_per_day must be a whole number or null."),
        (json!({"lunch": "12:00"}), "lunch", "Unknown field 'lunch'."),
    ] {
        let a = put(&app, &ana, &url, body).await;
        assert_eq!((a.status, messages(&a)), (StatusCode::UNPROCESSABLE_ENTITY, vec![(field.to_string(), message.to_string())]));
    }
    assert_eq!(json(&send(&app, api("GET", &url, Some(&ana), None)).await), good);
    // Hours across midnight are said so.
    let night = json!({"time_zone": "Europe/Berlin", "working_hours": [{"days": ["tue"], "start": "22:00", "end": "02:00", "overnight": true}]});
    assert_eq!(put(&app, &ana, &url, night).await.status, StatusCode::OK);
    assert_eq!(put(&app, &ana, &url, good.clone()).await.status, StatusCode::OK);

    // Someone else's: not found; an admin's: anyone's.
    assert_eq!(send(&app, api("GET", &url, Some(&bob), None)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(put(&app, &bob, &url, good.clone()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(json(&send(&app, api("GET", &url, Some(&admin), None)).await)["time_zone"], "Europe/Berlin");

    // Date overrides: a day off, other hours, removed.
    let day = "/api/v1/users/ana@example.com/date-overrides";
    let a = put(&app, &ana, &format!("{day}/2027-01-15"), json!({"hours": []})).await;
    assert_eq!((a.status, json(&a)), (StatusCode::OK, json!({"date": "2027-01-15", "hours": []})));
    let a = put(&app, &ana, &format!("{day}/2027-01-18"), json!({"hours": [{"start": "10:00", "end": "12:00"}]})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let a = put(&app, &ana, &format!("{day}/2027-01-19"), json!({"hours": [{"start": "10:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]})).await;
    assert_eq!(messages(&a), vec![("hours[1]".into(), "11:00–13:00 overlaps 10:00–12:00.".into())]);
    let a = put(&app, &ana, &format!("{day}/2027-01-19"), json!({})).await;
    assert_eq!(messages(&a), vec![("hours".into(), "hours is required: a list of hours, or [] for a day off.".into())]);
    let a = put(&app, &ana, &format!("{day}/2027-01-19"), json!({"hours": [{"days": ["tue"], "start": "10:00", "end": "12:00"}]})).await;
    assert_eq!(messages(&a), vec![("hours[0].days".into(), "days belong to weekly hours; a date override's hours are that date's.".into())]);
    let a = put(&app, &ana, &format!("{day}/2027-02-30"), json!({"hours": []})).await;
    assert_eq!(messages(&a), vec![("date".into(), "'2027-02-30' is not a date such as 2026-12-24.".into())]);
    let list = json(&send(&app, api("GET", day, Some(&ana), None)).await);
    assert_eq!(
        list,
        json!({"time_zone": "Europe/Berlin", "items": [{"date": "2027-01-15", "hours": []}, {"date": "2027-01-18", "hours": [{"start": "10:00", "end": "12:00"}]}]})
    );
    assert_eq!(send(&app, api("DELETE", &format!("{day}/2027-01-15"), Some(&ana), None)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, api("DELETE", &format!("{day}/2027-01-15"), Some(&ana), None)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, api("GET", day, Some(&bob), None)).await.status, StatusCode::NOT_FOUND);
});

db_test!(teams_are_made_by_admins_and_seen_by_their_members, |db| {
    add_user(&db, "ana@example.com", Role::User).await;
    add_user(&db, "bob@example.com", Role::User).await;
    add_user(&db, "cy@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let (ana, cy, admin) = (token_for(&db, "ana@example.com").await, token_for(&db, "cy@example.com").await, token_for(&db, "admin@example.com").await);
    let app = app(&db);
    let a = send(&app, api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "Sales", "members": ["bob@example.com", "Ana@Example.com"]})))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!((json(&a)["name"].clone(), json(&a)["members"].clone()), (json!("Sales"), json!(["ana@example.com", "bob@example.com"])));
    let a = send(&app, api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "sales", "members": ["nobody@example.com"]})))).await;
    assert_eq!(messages(&a), vec![("members".into(), "There is no user with the email 'nobody@example.com'.".into())]);
    let a = send(&app, api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "sales"})))).await;
    assert_eq!(messages(&a), vec![("name".into(), "A team named 'sales' exists already.".into())]);
    let a = send(&app, api("POST", "/api/v1/teams", Some(&ana), Some(json!({"name": "Mine"})))).await;
    assert_eq!((a.status, messages(&a)[0].1.clone()), (StatusCode::FORBIDDEN, "Only an admin can create, change or remove teams.".into()));

    // A member sees their teams; others do not find them.
    assert_eq!(json(&send(&app, api("GET", "/api/v1/teams", Some(&ana), None)).await)["items"][0]["name"], "Sales");
    assert_eq!(json(&send(&app, api("GET", "/api/v1/teams", Some(&cy), None)).await)["items"], json!([]));
    assert_eq!(send(&app, api("GET", "/api/v1/teams/Sales", Some(&cy), None)).await.status, StatusCode::NOT_FOUND);

    let a = send(&app, api("PATCH", "/api/v1/teams/sales", Some(&admin), Some(json!({"name": "Sales EU", "members": ["cy@example.com"]})))).await;
    assert_eq!((a.status, json(&a)["members"].clone()), (StatusCode::OK, json!(["cy@example.com"])), "{}", a.body);
    assert_eq!(json(&send(&app, api("GET", "/api/v1/teams/Sales%20EU", Some(&cy), None)).await)["name"], "Sales EU");
    assert_eq!(send(&app, api("DELETE", "/api/v1/teams/Sales%20EU", Some(&admin), None)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app, api("GET", "/api/v1/teams/Sales%20EU", Some(&admin), None)).await.status, StatusCode::NOT_FOUND);
});

db_test!(berlin_and_new_york_share_three_hours_in_the_weeks_only_one_has_changed_clocks_and_two_otherwise, |db| {
    add_user(&db, "ana@example.com", Role::User).await;
    add_user(&db, "ben@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let admin = token_for(&db, "admin@example.com").await;
    let app = app(&db);
    assert_eq!(put(&app, &admin, &settings_url("ana@example.com"), weekdays("Europe/Berlin", "09:00", "17:00")).await.status, StatusCode::OK);
    assert_eq!(put(&app, &admin, &settings_url("ben@example.com"), weekdays("America/New_York", "09:00", "17:00")).await.status, StatusCode::OK);
    send(&app, api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "Atlantic", "members": ["ana@example.com", "ben@example.com"]})))).await;
    let hours_together = |day: &'static str| {
        let app = app.clone();
        let admin = admin.clone();
        async move {
            let v = slots(&app, &admin, &format!("team=Atlantic&mode=all&from={day}T00:00:00Z&to={day}T23:59:00Z&duration=60&step=60")).await;
            starts(&v)
        }
    };
    // Both on winter time: 14:00–16:00 UTC.
    assert_eq!(hours_together("2027-03-10").await, vec!["2027-03-10T14:00:00Z", "2027-03-10T15:00:00Z"]);
    // New York changed on 14 March, Berlin on 28 March: 13:00–16:00 UTC.
    assert_eq!(hours_together("2027-03-17").await, vec!["2027-03-17T13:00:00Z", "2027-03-17T14:00:00Z", "2027-03-17T15:00:00Z"]);
    // Both on summer time: 13:00–15:00.
    assert_eq!(hours_together("2027-03-31").await, vec!["2027-03-31T13:00:00Z", "2027-03-31T14:00:00Z"]);
    // Autumn: Berlin back on 31 October, New York on 7 November.
    assert_eq!(hours_together("2027-10-27").await, vec!["2027-10-27T13:00:00Z", "2027-10-27T14:00:00Z"]);
    assert_eq!(hours_together("2027-11-03").await, vec!["2027-11-03T13:00:00Z", "2027-11-03T14:00:00Z", "2027-11-03T15:00:00Z"]);
    assert_eq!(hours_together("2027-11-10").await, vec!["2027-11-10T14:00:00Z", "2027-11-10T15:00:00Z"]);
    // mode=any lists who is free.
    let v = slots(&app, &admin, "team=Atlantic&from=2027-03-17T12:00:00Z&to=2027-03-17T14:00:00Z&duration=60&step=60").await;
    assert_eq!(
        v["slots"],
        json!([
            {"start": "2027-03-17T12:00:00Z", "end": "2027-03-17T13:00:00Z", "members": ["ana@example.com"]},
            {"start": "2027-03-17T13:00:00Z", "end": "2027-03-17T14:00:00Z", "members": ["ana@example.com", "ben@example.com"]}
        ])
    );
});

db_test!(southern_and_half_hour_zones_overnight_hours_and_an_override_on_the_dst_day, |db| {
    add_user(&db, "syd@example.com", Role::User).await;
    add_user(&db, "kol@example.com", Role::User).await;
    add_user(&db, "ber@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let admin = token_for(&db, "admin@example.com").await;
    let app = app(&db);
    put(&app, &admin, &settings_url("syd@example.com"), weekdays("Australia/Sydney", "09:00", "17:00")).await;
    put(&app, &admin, &settings_url("kol@example.com"), weekdays("Asia/Kolkata", "09:00", "17:00")).await;
    let first = |v: &Value| starts(v).first().cloned().unwrap_or_default();
    // Sydney leaves summer time on 4 April 2027: 09:00 is 22:00 UTC the day before, then 23:00.
    let v = slots(&app, &admin, "user=syd@example.com&from=2027-04-01T12:00:00Z&to=2027-04-02T12:00:00Z&duration=60&step=60").await;
    assert_eq!(first(&v), "2027-04-01T22:00:00Z");
    let v = slots(&app, &admin, "user=syd@example.com&from=2027-04-04T12:00:00Z&to=2027-04-05T12:00:00Z&duration=60&step=60").await;
    assert_eq!(first(&v), "2027-04-04T23:00:00Z");
    // Kolkata is 5:30 ahead: 09:00 is 03:30 UTC, the last half-hour meeting 11:00 UTC.
    let v = slots(&app, &admin, "user=kol@example.com&from=2027-01-11&to=2027-01-12&duration=30&step=30").await;
    let s = starts(&v);
    assert_eq!((s.first().unwrap().as_str(), s.last().unwrap().as_str(), s.len()), ("2027-01-11T03:30:00Z", "2027-01-11T11:00:00Z", 16));

    // Overnight hours: Saturday 22:00 to Sunday 02:00 in Berlin, the night the clocks go forward
    // (02:00 does not exist that night: it ends when they jump, 01:00 UTC) and the night they go
    // back (it ends at the first 02:00, 00:00 UTC).
    let nights = json!({"time_zone": "Europe/Berlin", "working_hours": [{"days": ["sat"], "start": "22:00", "end": "02:00", "overnight": true}]});
    assert_eq!(put(&app, &admin, &settings_url("ber@example.com"), nights).await.status, StatusCode::OK);
    let v = slots(&app, &admin, "user=ber@example.com&from=2027-03-27T12:00:00Z&to=2027-03-28T12:00:00Z&duration=60&step=60").await;
    assert_eq!(starts(&v), vec!["2027-03-27T21:00:00Z", "2027-03-27T22:00:00Z", "2027-03-27T23:00:00Z", "2027-03-28T00:00:00Z"]);
    let v = slots(&app, &admin, "user=ber@example.com&from=2027-10-30T12:00:00Z&to=2027-10-31T12:00:00Z&duration=60&step=60").await;
    assert_eq!(starts(&v), vec!["2027-10-30T20:00:00Z", "2027-10-30T21:00:00Z", "2027-10-30T22:00:00Z", "2027-10-30T23:00:00Z"]);
    // An override on the day the clocks go forward: 01:00–05:00 local is three hours.
    let a = put(&app, &admin, "/api/v1/users/ber@example.com/date-overrides/2027-03-28", json!({"hours": [{"start": "01:00", "end": "05:00"}]})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v = slots(&app, &admin, "user=ber@example.com&from=2027-03-28T00:00:00Z&to=2027-03-29T00:00:00Z&duration=60&step=60").await;
    assert_eq!(starts(&v), vec!["2027-03-28T00:00:00Z", "2027-03-28T01:00:00Z", "2027-03-28T02:00:00Z"]);
});

db_test!(a_date_override_is_the_members_local_date_whatever_zone_views_it, |db| {
    // The viewer is in New York; the member in Sydney takes Wednesday 10 February off.
    let mut c = db.pool.get().await.unwrap();
    server::domain::users::create(
        &mut c.conn(),
        server::password::Cost::Test,
        server::domain::users::NewUser {
            email: "nyc@example.com".into(),
            full_name: String::new(),
            password: "right password".into(),
            role: Role::Admin,
            time_zone: "America/New_York".into(),
        },
    )
    .await
    .unwrap();
    drop(c);
    add_user(&db, "syd@example.com", Role::User).await;
    let viewer = token_for(&db, "nyc@example.com").await;
    let app = app(&db);
    put(&app, &viewer, &settings_url("syd@example.com"), weekdays("Australia/Sydney", "09:00", "17:00")).await;
    // 9 February in New York is 05:00Z–05:00Z; Sydney's Tuesday hours end 06:00Z on the 9th, its
    // Wednesday's begin 22:00Z on the 9th.
    let query = "user=syd@example.com&from=2027-02-09&to=2027-02-10&duration=60&step=60";
    let before = starts(&slots(&app, &viewer, query).await);
    assert_eq!(before.first().map(String::as_str), Some("2027-02-09T05:00:00Z"));
    assert!(before.contains(&"2027-02-09T22:00:00Z".to_string()), "{before:?}");
    let a = put(&app, &viewer, "/api/v1/users/syd@example.com/date-overrides/2027-02-10", json!({"hours": []})).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(starts(&slots(&app, &viewer, query).await), vec!["2027-02-09T05:00:00Z"]);
});

db_test!(a_team_booking_goes_to_the_free_member_least_recently_booked_and_none_free_says_why, |db| {
    let host = FeedHost::start().await;
    for e in ["ana@example.com", "bob@example.com", "cat@example.com", "admin@example.com"] {
        add_user(&db, e, if e.starts_with("admin") { Role::Admin } else { Role::User }).await;
    }
    let (bob, admin) = (token_for(&db, "bob@example.com").await, token_for(&db, "admin@example.com").await);
    let app = app(&db);
    let day = monday_after(7);
    let d = day.format("%Y%m%d");
    // Bob's dentist 10:00–10:30 UTC.
    host.set("/bob.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:dentist\r\nDTSTART:{d}T100000Z\r\nDTEND:{d}T103000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    let created = json(
        &send(
            &app,
            api(
                "POST",
                "/api/v1/integrations",
                Some(&bob),
                Some(json!({"integration_type": "iCal", "integration_name": "Work Google", "ical_url": host.url("/bob.ics")})),
            ),
        )
        .await,
    );
    sync_and_wait(&app, &bob, created["name"].as_str().unwrap()).await;
    // Ana works 10:00–11:00 only; Bob and Cat 09:00–17:00, Cat takes one booking a day; all in UTC.
    put(&app, &admin, &settings_url("ana@example.com"), weekdays("UTC", "10:00", "11:00")).await;
    let mut bob_hours = weekdays("UTC", "09:00", "17:00");
    bob_hours["buffer_after_minutes"] = json!(15);
    put(&app, &admin, &settings_url("bob@example.com"), bob_hours).await;
    put(&app, &admin, &settings_url("cat@example.com"), json!({"time_zone": "UTC", "working_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}], "max_bookings_per_day": 1})).await;
    send(
        &app,
        api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "Sales", "members": ["ana@example.com", "bob@example.com", "cat@example.com"]}))),
    )
    .await;
    let at = |t: &str| format!("{day}T{t}:00Z");
    let book = |title: &str, from: &str, to: &str| json!({"team": "Sales", "title": title, "start": at(from), "end": at(to), "time_zone": "UTC"});

    let post = |body: Value| {
        let app = app.clone();
        let admin = admin.clone();
        async move { send(&app, api("POST", "/api/v1/bookings", Some(&admin), Some(body))).await }
    };
    let assigned = |a: &Answer| {
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        json(a)["user"].as_str().unwrap().to_string()
    };

    // Bob keeps 15 minutes free after a meeting: no 30-minute slot ends within 15 minutes of the
    // dentist; right after it is fine.
    let v = slots(&app, &admin, &format!("user=bob@example.com&from={}&to={}&duration=30", at("09:00"), at("11:00"))).await;
    assert_eq!(starts(&v), vec![at("09:00"), at("09:15"), at("10:30")]);

    // 09:00–11:00: Ana is free for only part of it, Bob has the dentist: Cat.
    let a = post(book("Demo", "09:00", "11:00")).await;
    assert_eq!((assigned(&a), json(&a)["team"].clone()), ("cat@example.com".into(), json!("Sales")));
    // 10:00–10:30: Ana, free and never booked (Bob busy, Cat at her day's limit). Bob attends.
    let mut intro = book("Intro", "10:00", "10:30");
    intro["attendees"] = json!(["bob@example.com"]);
    assert_eq!(assigned(&post(intro).await), "ana@example.com");

    // The next day, 14:00: Ana is outside her hours. Bob was never booked for the team (he only
    // attends a meeting), Cat was: Bob. Then Cat, booked longer ago than Bob.
    let next = day + Days::days(1);
    let on_next = |title: &str, from: &str, to: &str| json!({"team": "Sales", "title": title, "start": format!("{next}T{from}:00Z"), "end": format!("{next}T{to}:00Z"), "time_zone": "UTC"});
    assert_eq!(assigned(&post(on_next("Call 1", "14:00", "14:30")).await), "bob@example.com");
    assert_eq!(assigned(&post(on_next("Call 2", "15:00", "15:30")).await), "cat@example.com");

    // None free: 409, why for each member, in turn order.
    let a = post(book("Late", "10:00", "10:30")).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!(
        messages(&a).into_iter().map(|m| m.1).collect::<Vec<_>>(),
        vec![
            "ana@example.com: busy 10:00–10:30 'Intro' (Booking)".to_string(),
            "bob@example.com: busy 10:00–10:30 'Dentist' (Work Google)".to_string(),
            "cat@example.com: busy 09:00–11:00 'Demo' (Booking); 1 booking that day, the limit".to_string(),
        ]
    );
    // A team and a user at once, an unknown team.
    let mut both = book("x", "12:00", "12:30");
    both["user"] = json!("ana@example.com");
    assert_eq!(messages(&post(both).await), vec![("team".to_string(), "Give either user or team, not both.".to_string())]);
    let mut unknown = book("x", "12:00", "12:30");
    unknown["team"] = json!("Nobody");
    assert_eq!(messages(&post(unknown).await), vec![("team".to_string(), "There is no team named 'Nobody'.".to_string())]);

    // A named member outside their hours: refused the same way, unless overridden.
    let ana_late = json!({"user": "ana@example.com", "title": "Late", "start": at("14:00"), "end": at("14:30"), "time_zone": "UTC"});
    let a = post(ana_late.clone()).await;
    assert_eq!(
        (a.status, messages(&a).into_iter().map(|m| m.1).collect::<Vec<_>>()),
        (StatusCode::CONFLICT, vec!["ana@example.com: outside working hours".to_string()])
    );
    let mut anyway = ana_late;
    anyway["allow_conflict"] = json!(true);
    assert_eq!(assigned(&post(anyway).await), "ana@example.com");

    // The team's slots that Monday afternoon: only Bob (Ana's hours are over, Cat is at her limit).
    let v = slots(&app, &admin, &format!("team=Sales&from={}&to={}&duration=30&step=30", at("15:00"), at("16:00"))).await;
    assert_eq!(
        v["slots"],
        json!([
            {"start": at("15:00"), "end": at("15:30"), "members": ["bob@example.com"]},
            {"start": at("15:30"), "end": at("16:00"), "members": ["bob@example.com"]}
        ])
    );
    // A member of the team sees them too.
    assert_eq!(
        slots(&app, &bob, &format!("team=Sales&from={}&to={}&duration=30&step=30", at("15:00"), at("16:00"))).await["slots"].as_array().unwrap().len(),
        2
    );
});

db_test!(minimum_notice_and_bad_searches_are_refused_with_a_message_each, |db| {
    add_user(&db, "dan@example.com", Role::User).await;
    let dan = token_for(&db, "dan@example.com").await;
    let app = app(&db);
    let day = monday_after(7);
    let notice = json!({"time_zone": "UTC", "working_hours": null, "minimum_notice_minutes": 30 * 24 * 60});
    assert_eq!(put(&app, &dan, &settings_url("dan@example.com"), notice).await.status, StatusCode::OK);
    let v = slots(&app, &dan, &format!("user=dan@example.com&from={day}&to={}", day + Days::days(1))).await;
    assert_eq!(v["slots"], json!([]));
    let a = send(
        &app,
        api(
            "POST",
            "/api/v1/bookings",
            Some(&dan),
            Some(json!({"title": "Soon", "start": format!("{day}T10:00:00Z"), "end": format!("{day}T10:30:00Z"), "time_zone": "UTC"})),
        ),
    )
    .await;
    assert_eq!((a.status, messages(&a)[0].1.clone()), (StatusCode::CONFLICT, "dan@example.com: less than 43200 minutes' notice".to_string()));

    let a = send(&app, api("GET", "/api/v1/slots?user=dan@example.com&from=2027-01-01&to=2027-06-01&duration=3&mode=some", Some(&dan), None)).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        messages(&a),
        vec![
            ("mode".to_string(), "'some' is not a mode: use any (round robin) or all (everyone free).".to_string()),
            ("duration".to_string(), "duration must be between 5 and 1440 minutes.".to_string()),
            ("to".to_string(), "Slots can be searched at most 92 days at a time.".to_string()),
        ]
    );
    let a = send(&app, api("GET", "/api/v1/slots?from=2027-01-01&to=2027-01-02", Some(&dan), None)).await;
    assert_eq!(messages(&a), vec![("user".to_string(), "Give a user or a team.".to_string())]);
});

db_test!(a_fail_closed_calendar_out_of_date_makes_its_member_busy_and_a_fail_open_one_is_named, |db| {
    let host = FeedHost::start().await;
    add_user(&db, "ana@example.com", Role::User).await;
    add_user(&db, "bob@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let (ana, bob, admin) = (token_for(&db, "ana@example.com").await, token_for(&db, "bob@example.com").await, token_for(&db, "admin@example.com").await);
    let app = app(&db);
    // Each has one calendar whose feed fails.
    let mut names = Vec::new();
    for (token, who) in [(&ana, "ana"), (&bob, "bob")] {
        host.set(&format!("/{who}.ics"), Reply::Status(500));
        let created = json(
            &send(
                &app,
                api(
                    "POST",
                    "/api/v1/integrations",
                    Some(token),
                    Some(json!({"integration_type": "iCal", "integration_name": "Work", "ical_url": host.url(&format!("/{who}.ics"))})),
                ),
            )
            .await,
        );
        let name = created["name"].as_str().unwrap().to_owned();
        // A transient failure is Failed at the third in a row.
        for _ in 0..3 {
            sync_and_wait(&app, token, &name).await;
        }
        names.push(name);
    }
    // Bob's is fail-closed: he is busy all the time; Ana's fail-open: her slots stay, named.
    let a = send(&app, api("PATCH", &format!("/api/v1/integrations/{}", names[1]), Some(&bob), Some(json!({"stale_policy": "fail-closed"})))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    send(&app, api("POST", "/api/v1/teams", Some(&admin), Some(json!({"name": "Support", "members": ["ana@example.com", "bob@example.com"]})))).await;
    let day = monday_after(7);
    let v = slots(&app, &admin, &format!("team=Support&from={day}T09:00:00Z&to={day}T10:00:00Z&duration=30&step=30")).await;
    assert_eq!(
        v["slots"],
        json!([
            {"start": format!("{day}T09:00:00Z"), "end": format!("{day}T09:30:00Z"), "members": ["ana@example.com"]},
            {"start": format!("{day}T09:30:00Z"), "end": format!("{day}T10:00:00Z"), "members": ["ana@example.com"]}
        ])
    );
    let degraded: Vec<(String, String, String)> = v["degraded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["user"].as_str().unwrap().into(), d["integration"].as_str().unwrap().into(), d["stale_policy"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        degraded,
        vec![("ana@example.com".into(), names[0].clone(), "fail-open".into()), ("bob@example.com".into(), names[1].clone(), "fail-closed".into())]
    );
    // mode=all: nothing, since Bob is never free.
    assert_eq!(slots(&app, &admin, &format!("team=Support&mode=all&from={day}T09:00:00Z&to={day}T10:00:00Z&duration=30")).await["slots"], json!([]));
    // A team booking then goes to Ana, whatever the turn.
    let a = send(
        &app,
        api(
            "POST",
            "/api/v1/bookings",
            Some(&admin),
            Some(json!({"team": "Support", "title": "Help", "start": format!("{day}T09:00:00Z"), "end": format!("{day}T09:30:00Z"), "time_zone": "UTC"})),
        ),
    )
    .await;
    assert_eq!((a.status, json(&a)["user"].clone()), (StatusCode::CREATED, json!("ana@example.com")), "{}", a.body);
    // Free for only part of a meeting is not free: Ana's 10:00–11:00 hours offer no 2-hour slot.
    put(&app, &admin, &settings_url("ana@example.com"), weekdays("UTC", "10:00", "11:00")).await;
    assert_eq!(slots(&app, &admin, &format!("user=ana@example.com&from={day}&to={}&duration=120", day + Days::days(1))).await["slots"], json!([]));
    assert_eq!(
        starts(&slots(&app, &admin, &format!("user=ana@example.com&from={day}&to={}&duration=60", day + Days::days(1))).await),
        vec![format!("{day}T10:00:00Z")]
    );
});
