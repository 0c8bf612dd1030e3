//! Outlook calendars synced by the engine against the provider sandbox's Graph, on SQLite and
//! PostgreSQL: a full round (singles, occurrences grouped by series, an exception, a cancelled
//! occurrence, all-day, free time, a Windows zone name), incremental rounds, 410 recovery, and
//! Microsoft's refresh-token rotation stored with the access token.
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use sandbox::Sandbox;
use serde_json::{json, Value};
use server::{
    crypto::Secret,
    domain::{
        integrations::{self as ig, Patch},
        Actor,
    },
    providers::fetch::FeedClient,
    sync::{Engine, Settings, Trigger},
};
use testkit::db_test;
use testkit::TestDb;

use crate::common;
use common::*;

const ANA: &str = "ana@contoso.com";

async fn setup(db: &TestDb) -> (Sandbox, Actor, String, String, Engine) {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (access, refresh) = sandbox.with(|s| s.issue_ms_tokens(ANA));
    let cal = sandbox.with(|s| s.add_ms_account(ANA));
    let me = user(db, ANA).await;
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("Outlook Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some(cal.clone()),
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        ..Patch::default()
    };
    let name = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name;
    let feeds = limits();
    let settings = Settings { feeds: feeds.clone(), outlook: sandbox.microsoft_endpoints(), provider_timeout: Duration::from_secs(5), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    (sandbox, me, name, cal, engine)
}

fn day(d: i64) -> String {
    (Utc::now().date_naive() + Days::days(d)).format("%Y-%m-%d").to_string()
}

fn timed(subject: &str, d: i64, h: u32) -> Value {
    json!({"subject": subject, "start": {"dateTime": format!("{}T{h:02}:00:00.0000000", day(d)), "timeZone": "UTC"}, "end": {"dateTime": format!("{}T{h:02}:30:00.0000000", day(d)), "timeZone": "UTC"}})
}

fn occurrence(d: i64, extra: Value) -> Value {
    let mut e = timed("Standup", d, 15);
    e["type"] = json!("occurrence");
    e["seriesMasterId"] = json!("standup");
    e["originalStart"] = json!(format!("{}T15:00:00Z", day(d)));
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

async fn busy(db: &TestDb) -> Vec<(String, String, String)> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use server::{db::schema::event_instances as ei, run};
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    run!(&mut c, |c| ei::table
        .filter(ei::busy.eq(true))
        .select((ei::uid, ei::recurrence_id, ei::summary))
        .order((ei::start_at.asc(), ei::uid.asc()))
        .load::<(String, String, String)>(c)
        .await)
    .unwrap()
}

fn names(rows: &[(String, String, String)]) -> Vec<&str> {
    rows.iter().map(|(_, _, s)| s.as_str()).collect()
}

db_test!(an_outlook_calendar_syncs_a_full_round_then_only_what_changed, |db| {
    let (sandbox, me, name, cal, engine) = setup(&db).await;
    sandbox.with(|s| {
        s.put_graph_event(&cal, "lunch", timed("Lunch", 2, 12));
        // 09:00 in Berlin's winter is 08:00 UTC; the zone comes as a Windows name.
        s.put_graph_event(&cal, "berlin", json!({"subject": "Berlin call", "start": {"dateTime": format!("{}T09:00:00.0000000", day(3)), "timeZone": "W. Europe Standard Time"}, "end": {"dateTime": format!("{}T10:00:00.0000000", day(3)), "timeZone": "W. Europe Standard Time"}}));
        s.put_graph_event(&cal, "offsite", json!({"subject": "Offsite", "isAllDay": true, "start": {"dateTime": format!("{}T00:00:00.0000000", day(4)), "timeZone": "UTC"}, "end": {"dateTime": format!("{}T00:00:00.0000000", day(5)), "timeZone": "UTC"}}));
        s.put_graph_event(&cal, "focus", json!({"subject": "Focus", "showAs": "free", "start": {"dateTime": format!("{}T13:00:00.0000000", day(5)), "timeZone": "UTC"}, "end": {"dateTime": format!("{}T14:00:00.0000000", day(5)), "timeZone": "UTC"}}));
        s.put_graph_event(&cal, "standup-1", occurrence(1, json!({})));
        s.put_graph_event(&cal, "standup-2", occurrence(2, json!({"type": "exception", "subject": "Standup (late)", "start": {"dateTime": format!("{}T16:00:00.0000000", day(2)), "timeZone": "UTC"}, "end": {"dateTime": format!("{}T16:30:00.0000000", day(2)), "timeZone": "UTC"}})));
        s.put_graph_event(&cal, "standup-3", occurrence(3, json!({"isCancelled": true})));
        // The master is not in calendarView; its fields are fetched once.
        let mut master = timed("Team standup", 1, 15);
        master["type"] = json!("seriesMaster");
        master["location"] = json!({"displayName": "Room 4"});
        master["organizer"] = json!({"emailAddress": {"name": "Lead", "address": "lead@contoso.com"}});
        master["attendees"] = json!([{"type": "required", "emailAddress": {"address": "ana@contoso.com"}}]);
        s.put_graph_event(&cal, "standup", master);
    });
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let rows = busy(&db).await;
    assert_eq!(names(&rows), vec!["Standup", "Lunch", "Standup (late)", "Berlin call", "Offsite"], "{rows:?}");
    assert_eq!(rows.iter().filter(|(uid, _, _)| uid == "standup").count(), 2, "occurrences grouped by their series");
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use server::{db::schema::event_series as es, run};
        let mut p = db.pool.get().await.unwrap();
        let (summary, location, organizer): (String, Option<String>, Option<String>) =
            run!(&mut p.conn(), |c| es::table.filter(es::uid.eq("standup")).select((es::summary, es::location, es::organizer)).first(c).await).unwrap();
        assert_eq!(
            (summary.as_str(), location.as_deref(), organizer.as_deref()),
            ("Team standup", Some("Room 4"), Some("lead@contoso.com")),
            "the series has its master's fields"
        );
    }
    let availability = {
        let mut c = db.pool.get().await.unwrap();
        let u = server::domain::users::find_by_email(&mut c.conn(), ANA).await.unwrap().unwrap();
        // The whole day (busy time is clipped to the range asked for).
        let midnight = (Utc::now().date_naive() + Days::days(3)).and_hms_opt(0, 0, 0).unwrap().and_utc();
        server::domain::availability::busy(&mut c.conn(), &u, midnight, midnight + Days::days(1)).await.unwrap().0
    };
    let berlin = availability.iter().find(|b| b.sources.iter().any(|s| s.summary == "Berlin call")).expect("the Berlin call blocks time");
    let local = chrono::NaiveDateTime::parse_from_str(&format!("{}T09:00:00", day(3)), "%Y-%m-%dT%H:%M:%S").unwrap();
    let expected = chrono::TimeZone::from_local_datetime(&chrono_tz::Europe::Berlin, &local).single().unwrap().with_timezone(&Utc);
    assert_eq!(berlin.start, expected, "W. Europe Standard Time is Europe/Berlin");

    // Nothing changed: one request.
    let before = sandbox.with(|s| s.requests.len());
    let again = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!((again.created_count, again.updated_count, again.deleted_count), (0, 0, 0));
    assert_eq!(sandbox.with(|s| s.requests.len()) - before, 1);

    // Changes in Outlook: a new event, one moved, one deleted, an occurrence retitled.
    sandbox.with(|s| {
        s.put_graph_event(&cal, "dentist", timed("Dentist", 6, 10));
        s.put_graph_event(&cal, "lunch", timed("Lunch (moved)", 7, 12));
        s.delete_graph_event(&cal, "offsite");
        s.put_graph_event(&cal, "standup-1", occurrence(1, json!({"subject": "Standup (remote)"})));
    });
    let changed = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(changed.status, "Success", "{:?}", changed.error);
    let rows = busy(&db).await;
    let n = names(&rows);
    assert!(n.contains(&"Dentist") && n.contains(&"Lunch (moved)") && n.contains(&"Standup (remote)"), "{n:?}");
    assert!(!n.contains(&"Offsite") && !n.contains(&"Lunch") && !n.contains(&"Standup"), "{n:?}");
    assert!(n.contains(&"Standup (late)"), "the other occurrence is untouched");

    // The delta state is dropped: the next round starts over and removes what vanished.
    sandbox.with(|s| {
        s.graph.get_mut(&cal).unwrap().events.remove("dentist");
        s.invalidate_delta(&cal);
    });
    let over = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(over.status, "Success", "{:?}", over.error);
    assert!(!names(&busy(&db).await).contains(&"Dentist"));
});

db_test!(microsofts_rotated_refresh_token_is_stored_with_the_new_access_token, |db| {
    use server::domain::accounts;
    let (sandbox, me, _, cal, engine) = setup(&db).await;
    sandbox.with(|s| s.put_graph_event(&cal, "a", timed("Alpha", 1, 9)));
    let (access, refresh) = sandbox.with(|s| s.issue_ms_tokens(ANA));
    let mut c = db.pool.get().await.unwrap();
    let grant = accounts::Grant {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh.clone())),
        expiry: Some(server::domain::now() + Days::minutes(1)),
    };
    let account = accounts::connect(&mut c.conn(), &db.keys, me.user_id, ig::IntegrationType::Outlook, ANA, grant).await.unwrap();
    let picks = vec![accounts::Pick { calendar_id: cal.clone(), name: "Calendar".into(), writable: true }];
    let added = accounts::add_calendars(&mut c.conn(), &db.keys, me, account.id, picks).await.unwrap();
    assert_eq!(added[0].integration.integration_name, "Calendar (ana@contoso.com)");
    drop(c);
    let run = engine.sync_and_wait(me, &added[0].integration.name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let mut c = db.pool.get().await.unwrap();
    let (_, stored) = accounts::secrets(&mut c.conn(), &db.keys, account.id).await.unwrap();
    let stored = stored.unwrap();
    assert_ne!(stored.expose(), refresh, "the rotated refresh token replaced the old one");
    assert!(sandbox.with(|s| s.refresh.contains_key(stored.expose())));
});

db_test!(outlook_faults_are_retried_or_end_the_run_with_what_to_do_and_a_lone_cancelled_occurrence_stops_blocking, |db| {
    let (sandbox, me, name, cal, engine) = setup(&db).await;
    sandbox.with(|s| {
        s.put_graph_event(&cal, "standup-1", occurrence(1, json!({})));
        s.put_graph_event(&cal, "standup-2", occurrence(2, json!({})));
    });
    let fault = |status: u16, retry_after: Option<u64>, times: u32| {
        sandbox.with(|s| {
            s.faults.push(sandbox::Fault {
                path: "/calendarView/delta".into(),
                status,
                body: Some(format!("{{\"error\":{{\"code\":\"E{status}\",\"message\":\"x\"}}}}")),
                retry_after,
                delay_ms: None,
                times,
                after: false,
            })
        })
    };
    // A 429 asking for a second and a 503: retried within the run.
    fault(429, Some(1), 1);
    fault(503, None, 1);
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert!(run.throttled_ms >= 1000);
    assert_eq!(busy(&db).await.len(), 2);
    // A 401 ends the run with what to do; a 403 says access was refused.
    fault(401, None, 1);
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.error.as_deref(), Some("Outlook no longer accepts calsync's access (401). Reconnect the calendar."));
    fault(403, None, 1);
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().starts_with("Outlook refused access to this calendar (403"), "{:?}", run.error);
    assert_eq!(busy(&db).await.len(), 2, "failures keep the synced events");
    // One occurrence cancelled on its own in Outlook: it stops blocking time.
    sandbox.with(|s| s.put_graph_event(&cal, "standup-2", occurrence(2, json!({"isCancelled": true}))));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(busy(&db).await.len(), 1);
});

db_test!(an_outlook_round_of_several_pages_is_followed_to_its_delta_link, |db| {
    let (sandbox, me, name, cal, engine) = setup(&db).await;
    sandbox.with(|s| {
        for i in 0..1200 {
            s.put_graph_event(&cal, &format!("e{i:04}"), timed(&format!("E{i}"), 1 + (i % 20) as i64, 6 + (i % 12) as u32));
        }
    });
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(busy(&db).await.len(), 1200);
    assert_eq!(sandbox.with(|s| s.requests.iter().filter(|r| r.starts_with("GET delta")).count()), 3, "pages of 500, 500 and 200");
});

/// An origin whose `/webhooks/microsoft` passes Graph's validation handshake (the token back as
/// text), as calsync's own receiver does.
async fn validating_webhooks() -> String {
    use axum::{extract::Query, routing::post, Router};
    let app = Router::new().route(
        "/webhooks/microsoft",
        post(|Query(q): Query<std::collections::HashMap<String, String>>| async move { q.get("validationToken").cloned().unwrap_or_default() }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

db_test!(an_outlook_record_without_a_calendar_id_syncs_the_default_calendar, |db| {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (access, refresh) = sandbox.with(|s| s.issue_ms_tokens(ANA));
    let cal = sandbox.with(|s| {
        let cal = s.add_ms_account(ANA);
        s.add_graph_calendar(ANA, "AAMk-team", "Team", true);
        s.put_graph_event(&cal, "lunch", timed("Lunch", 2, 12));
        s.put_graph_event(&cal, "dentist", timed("Dentist", 3, 10));
        s.put_graph_event("AAMk-team", "offsite", timed("Team offsite", 4, 9));
        cal
    });
    let me = user(&db, ANA).await;
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("Outlook Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: None,
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        ..Patch::default()
    };
    let saved = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap();
    drop(c);
    assert_eq!(saved.integration.calendar_id, None);
    assert!(saved.warnings.iter().any(|w| w.field.as_deref() == Some("calendar_id") && w.message.contains("primary calendar")), "{:?}", saved.warnings);
    let name = saved.integration.name.clone();
    let feeds = limits();
    let settings = Settings {
        feeds: feeds.clone(),
        outlook: sandbox.microsoft_endpoints(),
        webhook_base: Some(validating_webhooks().await),
        provider_timeout: Duration::from_secs(5),
        ..Settings::default()
    };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);

    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(names(&busy(&db).await), vec!["Lunch", "Dentist"], "the default calendar's events, not the team calendar's");
    assert!(sandbox.with(|s| s.requests.iter().any(|r| r == "GET delta me/calendar")), "asked at /me/calendar");
    // The push subscription is on the default calendar's events.
    let subscribed: Vec<String> = sandbox.with(|s| s.subscriptions.iter().map(|x| x.calendar.clone()).collect());
    assert_eq!(subscribed, vec![cal.clone()]);

    // Changed in the default calendar: the next round follows its delta link.
    sandbox.with(|s| {
        s.put_graph_event(&cal, "lunch", timed("Lunch (moved)", 5, 12));
        s.delete_graph_event(&cal, "dentist");
    });
    let again = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(again.status, "Success", "{:?}", again.error);
    assert_eq!(names(&busy(&db).await), vec!["Lunch (moved)"]);
});
