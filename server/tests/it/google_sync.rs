//! Google Calendar calendars synced by the engine against the provider sandbox, on SQLite and
//! PostgreSQL: the first sync, incremental changes (single, series, one exception, a cancelled
//! instance), paging with empty pages, 410 recovery, faults and their messages.
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

const ANA: &str = "ana@example.com";

async fn setup(db: &TestDb) -> (Sandbox, Actor, String, Engine) {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let me = user(db, ANA).await;
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some(ANA.into()),
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        ..Patch::default()
    };
    let name = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name;
    let google = server::providers::google::Endpoints {
        auth: sandbox.google_auth_url(),
        token: sandbox.google_token_url(),
        revoke: sandbox.google_revoke_url(),
        api: sandbox.google_api_url(),
        client_id: Some(sandbox::CLIENT_ID.into()),
        client_secret: Some(Secret::new(sandbox::CLIENT_SECRET)),
    };
    let feeds = limits();
    let settings = Settings { feeds: feeds.clone(), google, provider_timeout: Duration::from_secs(5), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    (sandbox, me, name, engine)
}

/// An ISO time `days` from today at `hour`:00 UTC.
fn at(days: i64, hour: u32) -> String {
    let d = Utc::now().date_naive() + Days::days(days);
    format!("{}T{hour:02}:00:00Z", d.format("%Y-%m-%d"))
}

fn single(summary: &str, days: i64) -> Value {
    json!({"summary": summary, "start": {"dateTime": at(days, 9)}, "end": {"dateTime": at(days, 10)}})
}

fn put(s: &Sandbox, id: &str, event: Value) {
    s.with(|st| st.put_event(ANA, id, event)).expect("the calendar exists");
}

/// A daily series of five from tomorrow at 15:00 UTC, in Berlin's zone.
fn daily() -> Value {
    let d = Utc::now().date_naive() + Days::days(1);
    json!({
        "summary": "Standup",
        "start": {"dateTime": format!("{}T15:00:00Z", d.format("%Y-%m-%d")), "timeZone": "UTC"},
        "end": {"dateTime": format!("{}T15:15:00Z", d.format("%Y-%m-%d")), "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"]
    })
}

fn occurrence(days: i64) -> Value {
    json!({"dateTime": at(days, 15), "timeZone": "UTC"})
}

/// The stored occurrences that block time (a cancelled occurrence is kept, not busy).
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

fn summaries(rows: &[(String, String, String)]) -> Vec<&str> {
    rows.iter().map(|(_, _, s)| s.as_str()).collect()
}

db_test!(a_google_calendar_syncs_in_full_then_only_what_changed, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    put(&sandbox, "lunch", single("Lunch", 2));
    put(&sandbox, "holiday", json!({"summary": "Holiday", "start": {"date": &at(3, 0)[..10]}, "end": {"date": &at(4, 0)[..10]}}));
    put(&sandbox, "focus", json!({"summary": "Focus", "transparency": "transparent", "start": {"dateTime": at(5, 13)}, "end": {"dateTime": at(5, 14)}}));
    put(&sandbox, "standup", daily());
    // One occurrence moved to 16:00, one cancelled.
    put(
        &sandbox,
        "standup_2",
        json!({"recurringEventId": "standup", "originalStartTime": occurrence(2), "summary": "Standup (late)", "start": {"dateTime": at(2, 16)}, "end": {"dateTime": at(2, 17)}}),
    );
    put(&sandbox, "standup_3", json!({"recurringEventId": "standup", "originalStartTime": occurrence(3), "status": "cancelled"}));

    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let rows = busy(&db).await;
    let standups = rows.iter().filter(|(uid, _, _)| uid == "standup").count();
    assert_eq!(standups, 4, "five occurrences, one cancelled: {rows:?}");
    assert!(summaries(&rows).contains(&"Standup (late)"));
    assert!(summaries(&rows).contains(&"Holiday") && summaries(&rows).contains(&"Lunch"));
    assert!(!summaries(&rows).contains(&"Focus"), "a transparent event does not block time");
    assert_eq!(instances(&db).await.len(), 5 + 3, "the cancelled occurrence and the free event are kept, not busy");

    // Nothing changed: one request, nothing written.
    let before = sandbox.with(|s| s.requests.len());
    let again = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!((again.status.as_str(), counts(&again)), ("Success", (0, 0, 0, 8)));
    assert_eq!(sandbox.with(|s| s.requests.len()) - before, 1, "one incremental list");

    // A person edits in Google: a new event, one moved, one deleted, the series retitled and
    // another occurrence cancelled.
    put(&sandbox, "dentist", single("Dentist", 6));
    put(&sandbox, "lunch", single("Lunch (moved)", 7));
    sandbox.with(|s| s.delete_event(ANA, "holiday"));
    let mut retitled = daily();
    retitled["summary"] = json!("Daily sync");
    put(&sandbox, "standup", retitled);
    put(&sandbox, "standup_4", json!({"recurringEventId": "standup", "originalStartTime": occurrence(4), "status": "cancelled"}));
    let changed = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(changed.status, "Success", "{:?}", changed.error);
    let rows = busy(&db).await;
    let names = summaries(&rows);
    assert!(names.contains(&"Dentist") && names.contains(&"Lunch (moved)") && !names.contains(&"Lunch"));
    assert!(!names.contains(&"Holiday"), "the deleted event is gone: {names:?}");
    assert_eq!(rows.iter().filter(|(uid, _, _)| uid == "standup").count(), 3, "two occurrences cancelled now");
    assert!(names.contains(&"Daily sync") && names.contains(&"Standup (late)"), "the retitled series keeps its moved exception: {names:?}");
    assert!(!names.contains(&"Standup"));
});

db_test!(empty_and_short_pages_are_followed_to_the_end, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    sandbox.with(|s| {
        s.empty_first_page = true;
        for i in 0..600 {
            s.put_event(ANA, &format!("e{i:03}"), single(&format!("E{i}"), 1 + (i % 20) as i64));
        }
    });
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(instances(&db).await.len(), 600);
    let lists = sandbox.with(|s| s.requests.iter().filter(|r| r.starts_with("GET events")).count());
    assert_eq!(lists, 4, "an empty first page, then 250 + 250 + 100");
});

db_test!(an_invalidated_sync_token_starts_over_and_removes_what_vanished, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    put(&sandbox, "b", single("Beta", 2));
    assert_eq!(engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
    // Google drops the token, and the deletion of "b" is only seen through a full sync.
    sandbox.with(|s| {
        s.calendars.get_mut(ANA).unwrap().events.remove("b");
        s.invalidate_sync_tokens(ANA);
    });
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(summaries(&instances(&db).await), vec!["Alpha"]);
    assert_eq!(run.deleted_count, 1);
});

db_test!(provider_faults_fail_the_run_with_what_to_do_and_keep_what_was_synced, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    assert_eq!(engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
    let faults = |status: u16, body: &str, retry_after: Option<u64>, times: u32| {
        sandbox.with(|s| {
            s.faults.push(sandbox::Fault { path: "/events".into(), status, body: Some(body.into()), retry_after, delay_ms: None, times, after: false })
        })
    };
    let fault = |status: u16, body: &str, retry_after: Option<u64>| faults(status, body, retry_after, 1);
    let rate = r#"{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":403,"message":"Rate Limit Exceeded"}}"#;
    fault(403, rate, Some(30));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Failed");
    assert!(run.error.as_deref().unwrap().contains("asked calsync to slow down"), "{:?}", run.error);
    let i = ig::get(&mut db.pool.get().await.unwrap().conn(), me, &name).await.unwrap();
    assert!(i.due_at.unwrap() >= server::domain::now() + Days::seconds(25), "Retry-After is honoured");

    // A server error is retried within the run (with back-off), a few times at most.
    faults(500, "<html>oops</html>", None, 1 + server::providers::pace::MAX_RETRIES);
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("server error (500)"), "{:?}", run.error);
    assert!(sandbox.with(|s| s.faults.is_empty()), "tried 1 + {} times", server::providers::pace::MAX_RETRIES);

    fault(200, "<html>a captive portal</html>", None);
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("not JSON"), "{:?}", run.error);

    fault(
        401,
        r#"{"error":{"errors":[{"domain":"global","reason":"authError","message":"Invalid Credentials"}],"code":401,"message":"Invalid Credentials"}}"#,
        None,
    );
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert!(run.error.as_deref().unwrap().contains("Reconnect"), "{:?}", run.error);

    assert_eq!(summaries(&instances(&db).await), vec!["Alpha"], "failures keep the synced events");
    // And the next clean run is incremental and duplicates nothing.
    put(&sandbox, "b", single("Beta", 2));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(summaries(&instances(&db).await), vec!["Alpha", "Beta"]);
});

/// A calendar picked from an account whose access token expires in a minute.
async fn connected(db: &TestDb, sandbox: &Sandbox, me: Actor) -> (String, i64) {
    use server::domain::accounts;
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let mut c = db.pool.get().await.unwrap();
    let grant = accounts::Grant {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh)),
        expiry: Some(server::domain::now() + Days::minutes(1)),
    };
    let account = accounts::connect(&mut c.conn(), &db.keys, me.user_id, ig::IntegrationType::Google, ANA, grant).await.unwrap();
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Picked".into()),
        calendar_id: Some(ANA.into()),
        access_token: Some(Some(Secret::new("placeholder"))),
        ..Patch::default()
    };
    let name = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name;
    ig::link_account(&mut c.conn(), &name, account.id).await.unwrap();
    (name, account.id)
}

db_test!(an_accounts_token_is_refreshed_ahead_and_after_a_401_and_a_revoked_grant_asks_to_reconnect, |db| {
    use server::domain::accounts;
    let (sandbox, me, _, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    let (name, account) = connected(&db, &sandbox, me).await;

    // Expiring within five minutes: refreshed before the fetch, once.
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    let tokens = sandbox.with(|s| s.requests.iter().filter(|r| *r == "POST token").count());
    assert_eq!(tokens, 1);
    let mut c = db.pool.get().await.unwrap();
    let a = accounts::get(&mut c.conn(), me, account).await.unwrap();
    assert!(a.refreshed_at.is_some() && a.token_expiry.unwrap() > server::domain::now() + Days::minutes(30));
    let record = ig::get(&mut c.conn(), me, &name).await.unwrap();
    assert_eq!(record.token_expiry, a.token_expiry, "the record's expiry mirrors the account's");
    drop(c);

    // Google drops the access token early: a 401, one refresh, the same run succeeds.
    sandbox.with(|s| s.access.clear());
    put(&sandbox, "b", single("Beta", 2));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(sandbox.with(|s| s.requests.iter().filter(|r| *r == "POST token").count()), 2);

    // The user revokes access in their Google account: the run says to reconnect.
    sandbox.with(|s| s.revoke_account(ANA));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Failed");
    assert_eq!(run.error.as_deref(), Some("Access to Google Calendar was revoked (invalid_grant). Reconnect to resume syncing."));
    let mut c = db.pool.get().await.unwrap();
    assert!(accounts::get(&mut c.conn(), me, account).await.unwrap().revoked_error.is_some());
    // Not asked again while revoked.
    let before = sandbox.with(|s| s.requests.len());
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(sandbox.with(|s| s.requests.len()), before, "a revoked account is not asked until reconnected");

    // Reconnect: the same account and record, syncing again with its events.
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let grant =
        accounts::Grant { access_token: Secret::new(access), refresh_token: Some(Secret::new(refresh)), expiry: Some(server::domain::now() + Days::hours(1)) };
    let again = accounts::connect(&mut c.conn(), &db.keys, me.user_id, ig::IntegrationType::Google, ANA, grant).await.unwrap();
    assert_eq!(again.id, account);
    drop(c);
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(summaries(&busy(&db).await), vec!["Alpha", "Beta"]);
});

db_test!(key_rotation_reencrypts_the_accounts_tokens_too, |db| {
    use server::domain::accounts;
    let (sandbox, me, _, _) = setup(&db).await;
    let (_, account) = connected(&db, &sandbox, me).await;
    let mut c = db.pool.get().await.unwrap();
    let rotated = db.keys.rotated();
    ig::reencrypt_all(&mut c.conn(), &rotated).await.unwrap();
    // Only the new key now: the account's tokens open with it.
    let only_new = server::crypto::Keyring::new(vec![rotated.current().clone()]).unwrap();
    let (access, refresh) = accounts::secrets(&mut c.conn(), &only_new, account).await.unwrap();
    assert!(access.is_some() && refresh.is_some());
    ig::verify_keys(&mut c.conn(), &only_new).await.unwrap();
    assert!(ig::verify_keys(&mut c.conn(), &db.keys).await.is_err(), "the old ring alone no longer opens them");
});

db_test!(deleting_the_last_calendar_of_an_account_or_disconnecting_it_revokes_the_grant, |db| {
    use server::domain::accounts;
    let (sandbox, me, _, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    let (first, account) = connected(&db, &sandbox, me).await;
    // A second calendar from the same account.
    sandbox.with(|s| s.add_calendar(ANA, "team@group.calendar.google.com", "Team", "reader"));
    let mut c = db.pool.get().await.unwrap();
    let picks = vec![accounts::Pick { calendar_id: "team@group.calendar.google.com".into(), name: "Team".into(), writable: false }];
    let added = accounts::add_calendars(&mut c.conn(), &db.keys, me, account, picks).await.unwrap();
    assert_eq!(added[0].integration.integration_name, "Team (ana@example.com)");
    assert_eq!(added[0].integration.sync_direction.as_str(), "One-way (Read Only)");
    assert!(added[0].note.as_deref().unwrap().contains("read-only"));
    drop(c);
    assert_eq!(engine.sync_and_wait(me, &first, Trigger::Manual).await.unwrap().status, "Success");

    // Deleting one calendar keeps the account for the other.
    let (_, warning) = engine.delete_calendar(me, &first).await.unwrap();
    assert_eq!(warning, None);
    assert!(busy(&db).await.is_empty(), "its events stop blocking time");
    assert_eq!(sandbox.with(|s| s.requests.iter().filter(|r| *r == "POST revoke").count()), 0);
    let mut c = db.pool.get().await.unwrap();
    let (_, refresh) = accounts::secrets(&mut c.conn(), &db.keys, account).await.unwrap();
    drop(c);

    // Disconnecting the account: its last calendar goes, the grant is revoked at Google.
    let (gone, warning) = engine.disconnect_account(me, account).await.unwrap();
    assert_eq!((gone.len(), warning), (1, None));
    assert_eq!(sandbox.with(|s| s.requests.iter().filter(|r| *r == "POST revoke").count()), 1);
    assert!(sandbox.with(|s| !s.refresh.contains_key(refresh.unwrap().expose())), "the refresh token no longer works at Google");
    let mut c = db.pool.get().await.unwrap();
    assert!(matches!(accounts::get(&mut c.conn(), me, account).await, Err(server::domain::Error::NotFound)));
});

db_test!(the_periodic_full_sync_repairs_what_incremental_syncs_missed_and_says_so, |db| {
    let (sandbox, me, name, _) = setup(&db).await;
    let feeds = limits();
    let settings = Settings { feeds: feeds.clone(), google: sandbox.google_endpoints(), repair_every: Duration::from_secs(2), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    put(&sandbox, "a", single("Alpha", 1));
    put(&sandbox, "b", single("Beta", 2));
    assert_eq!(engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
    // Changes an incremental sync never hears of (no change number, no tombstone).
    sandbox.with(|s| {
        let cal = s.calendars.get_mut(ANA).unwrap();
        cal.events.remove("b");
        let (a, change) = cal.events.get("a").cloned().unwrap();
        let mut a = a;
        a["summary"] = json!("Alpha (renamed quietly)");
        cal.events.insert("a".into(), (a, change));
    });
    let quiet = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(counts(&quiet), (0, 0, 0, 2), "the incremental sync cannot see them");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let repair = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(repair.status, "Success", "{:?}", repair.error);
    assert_eq!((repair.updated_count, repair.deleted_count), (1, 1));
    assert!(repair.warnings.as_deref().unwrap_or("").contains("Repair: the periodic full sync fixed 2 difference(s)"), "{:?}", repair.warnings);
    assert_eq!(summaries(&busy(&db).await), vec!["Alpha (renamed quietly)"]);
});

db_test!(transient_failures_are_retried_within_the_run_and_waits_are_recorded, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    // One 503, then a 429 asking for a second: the run succeeds, saying it was throttled.
    sandbox.with(|s| {
        s.faults.push(sandbox::Fault { path: "/events".into(), status: 503, body: None, retry_after: None, delay_ms: None, times: 1, after: false });
        s.faults.push(sandbox::Fault { path: "/events".into(), status: 429, body: None, retry_after: Some(1), delay_ms: None, times: 1, after: false });
    });
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert!(run.throttled_ms >= 1000, "{}", run.throttled_ms);
    assert!(run.warnings.as_deref().unwrap_or("").contains("Throttled for 1."), "{:?}", run.warnings);
    assert_eq!(summaries(&busy(&db).await), vec!["Alpha"]);
});

db_test!(calsyncs_own_budget_is_shared_and_ends_a_run_that_would_wait_long, |db| {
    let (sandbox, me, name, _) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    let engine_with_budget = || {
        let feeds = limits();
        let settings = Settings {
            feeds: feeds.clone(),
            google: sandbox.google_endpoints(),
            google_user_rate: server::providers::pace::Rate { requests: 1, per: Duration::from_secs(60) },
            ..Settings::default()
        };
        Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings)
    };
    let (one, two) = (engine_with_budget(), engine_with_budget());
    assert_eq!(one.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
    // Another process draws on the same budget: used up for a minute, so the run ends at once.
    let before = sandbox.with(|s| s.requests.len());
    let run = two.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Failed");
    assert!(
        run.error.as_deref().unwrap().starts_with("calsync's request budget for Google Calendar is used up for now; the next sync waits"),
        "{:?}",
        run.error
    );
    assert_eq!(sandbox.with(|s| s.requests.len()), before, "nothing was asked of Google");
    let i = ig::get(&mut db.pool.get().await.unwrap().conn(), me, &name).await.unwrap();
    assert!(i.due_at.unwrap() >= server::domain::now() + Days::seconds(40), "the scheduler waits for the budget");
});

db_test!(a_burst_of_notifications_before_the_claim_is_one_sync_and_forged_ones_change_nothing, |db| {
    use server::domain::webhooks::{self, Heard};
    let (sandbox, me, name, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    let mut c = db.pool.get().await.unwrap();
    let id = ig::get(&mut c.conn(), me, &name).await.unwrap().id;
    webhooks::add(&mut c.conn(), id, "chan-1", Some("res-1"), "the-token", server::domain::now() + Days::days(7)).await.unwrap();
    assert_eq!(webhooks::heard(&mut c.conn(), "chan-1", "the-token", false).await.unwrap(), Heard::Acknowledged);
    assert_eq!(webhooks::heard(&mut c.conn(), "chan-1", "wrong", true).await.unwrap(), Heard::Refused);
    assert_eq!(webhooks::heard(&mut c.conn(), "no-such", "the-token", true).await.unwrap(), Heard::Refused);
    assert_eq!(ig::get(&mut c.conn(), me, &name).await.unwrap().queued_at, None, "nothing queued by forged or first messages");
    for _ in 0..5 {
        assert_eq!(webhooks::heard(&mut c.conn(), "chan-1", "the-token", true).await.unwrap(), Heard::Queued(id));
    }
    drop(c);
    // A sync makes it due only an interval later: from here on only the queue counts.
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success");
    let mut c = db.pool.get().await.unwrap();
    for _ in 0..5 {
        webhooks::heard(&mut c.conn(), "chan-1", "the-token", true).await.unwrap();
    }
    drop(c);
    let done = engine.run_due().await.unwrap();
    assert_eq!(done.len(), 1, "five notifications, one sync");
    assert!(engine.run_due().await.unwrap().is_empty(), "and nothing after it");
});

db_test!(a_dropped_connection_or_a_slow_answer_times_out_and_is_retried, |db| {
    let (sandbox, me, name, _) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    let feeds = limits();
    let settings = Settings { feeds: feeds.clone(), google: sandbox.google_endpoints(), provider_timeout: Duration::from_millis(400), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    sandbox.with(|s| {
        // The connection is held and never answered, then an answer comes too late.
        s.faults.push(sandbox::Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 1, after: false });
        s.faults.push(sandbox::Fault {
            path: "/events".into(),
            status: 200,
            body: Some("{}".into()),
            retry_after: None,
            delay_ms: Some(1500),
            times: 1,
            after: false,
        });
    });
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "retried after two timeouts: {:?}", run.error);
    assert_eq!(summaries(&busy(&db).await), vec!["Alpha"]);
    // Always silent: the run ends with the timeout, the events kept.
    sandbox
        .with(|s| s.faults.push(sandbox::Fault { path: "/events".into(), status: 0, body: None, retry_after: None, delay_ms: None, times: 10, after: false }));
    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.error.as_deref(), Some("Google Calendar did not answer in time. The next sync will try again."));
    assert_eq!(summaries(&busy(&db).await), vec!["Alpha"]);
});

db_test!(a_channel_near_its_end_is_replaced_and_the_old_one_stopped, |db| {
    use server::domain::webhooks;
    let (sandbox, me, name, _) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    let feeds = limits();
    // The address is never called here: the sandbox only checks it is loopback http.
    let settings =
        Settings { feeds: feeds.clone(), google: sandbox.google_endpoints(), webhook_base: Some("http://127.0.0.1:9".into()), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);
    assert_eq!(engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
    let id = ig::get(&mut db.pool.get().await.unwrap().conn(), me, &name).await.unwrap().id;
    let first = webhooks::of(&mut db.pool.get().await.unwrap().conn(), id).await.unwrap();
    assert_eq!(first.len(), 1);
    // Another sync a while later: the channel has days left, so it is kept.
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(webhooks::of(&mut db.pool.get().await.unwrap().conn(), id).await.unwrap(), first);
    // Within a day of its end: a new channel, the old one stopped at Google.
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use server::{db::schema::webhook_channels as wc, run};
        let mut p = db.pool.get().await.unwrap();
        let soon = server::domain::now() + Days::hours(12);
        run!(&mut p.conn(), |c| diesel::update(wc::table).set(wc::expires_at.eq(soon)).execute(c).await).unwrap();
    }
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    let now = webhooks::of(&mut db.pool.get().await.unwrap().conn(), id).await.unwrap();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].channel_id, first[0].channel_id);
    assert!(now[0].expires_at > server::domain::now() + Days::days(6));
    let open: Vec<String> = sandbox.with(|s| s.channels.iter().map(|c| c.id.clone()).collect());
    assert_eq!(open, vec![now[0].channel_id.clone()], "the old channel was stopped");
});

db_test!(a_run_that_lost_its_cursor_fetches_everything_again_and_duplicates_nothing, |db| {
    let (sandbox, me, name, engine) = setup(&db).await;
    put(&sandbox, "a", single("Alpha", 1));
    put(&sandbox, "s", daily());
    assert_eq!(engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap().status, "Success");
    let before = instances(&db).await;
    // As after a crash between the provider's answer and the cursor's save.
    {
        use diesel_async::RunQueryDsl;
        use server::{db::schema::sync_cursors as sc, run};
        let mut p = db.pool.get().await.unwrap();
        run!(&mut p.conn(), |c| diesel::delete(sc::table).execute(c).await).unwrap();
    }
    let again = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(again.status, "Success");
    assert_eq!((again.created_count, again.deleted_count), (0, 0), "the same events, matched by uid and occurrence");
    assert_eq!(instances(&db).await, before);
});

db_test!(a_calendar_whose_account_refreshes_its_token_gets_no_expiry_warning_until_revoked, |db| {
    use server::domain::accounts;
    let (sandbox, me, _, _) = setup(&db).await;
    let (name, account) = connected(&db, &sandbox, me).await;
    // The mirrored expiry has passed (no sync since): normal for a token refreshed on use.
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use server::{db::schema::calendar_integrations as ci, run};
        let mut p = db.pool.get().await.unwrap();
        let past = server::domain::now() - Days::minutes(20);
        run!(&mut p.conn(), |c| diesel::update(ci::table.filter(ci::name.eq(&name))).set(ci::token_expiry.eq(Some(past))).execute(c).await).unwrap();
    }
    let rename = |n: &str| Patch { integration_name: Some(n.into()), ..Patch::default() };
    let mut c = db.pool.get().await.unwrap();
    let saved = ig::update(&mut c.conn(), &db.keys, me, &name, rename("Picked again")).await.unwrap();
    assert!(saved.warnings.iter().all(|w| w.field.as_deref() != Some("token_expiry")), "{:?}", saved.warnings);
    // Revoked: the spec's warning is back.
    accounts::mark_revoked(&mut c.conn(), account, "Access to Google Calendar was revoked (invalid_grant). Reconnect to resume syncing.").await.unwrap();
    let saved = ig::update(&mut c.conn(), &db.keys, me, &name, rename("Picked once more")).await.unwrap();
    assert!(
        saved.warnings.iter().any(|w| w.field.as_deref() == Some("token_expiry") && w.message.contains("Access Token has expired")),
        "{:?}",
        saved.warnings
    );
});

db_test!(a_google_record_without_a_calendar_id_syncs_the_primary_calendar, |db| {
    use server::domain::webhooks;
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_calendar(ANA, "team@group.calendar.google.com", "Team", "owner"));
    put(&sandbox, "lunch", single("Lunch", 2));
    put(&sandbox, "dentist", single("Dentist", 3));
    sandbox.with(|s| s.put_event("team@group.calendar.google.com", "offsite", single("Team offsite", 4))).expect("the team calendar exists");
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let me = user(&db, ANA).await;
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Personal".into()),
        calendar_id: Some(String::new()),
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
    // The push address is never called here: the sandbox only checks it is loopback http.
    let settings = Settings {
        feeds: feeds.clone(),
        google: sandbox.google_endpoints(),
        webhook_base: Some("http://127.0.0.1:9".into()),
        provider_timeout: Duration::from_secs(5),
        ..Settings::default()
    };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);

    let run = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Success", "{:?}", run.error);
    assert_eq!(summaries(&busy(&db).await), vec!["Lunch", "Dentist"], "the primary calendar's events, not the team calendar's");
    assert!(sandbox.with(|s| s.requests.iter().any(|r| r == "GET events primary")), "asked for `primary`");
    // The push channel watches the primary calendar.
    let watched: Vec<String> = sandbox.with(|s| s.channels.iter().map(|c| c.calendar.clone()).collect());
    assert_eq!(watched, vec![ANA.to_string()]);
    assert_eq!(webhooks::of(&mut db.pool.get().await.unwrap().conn(), saved.integration.id).await.unwrap().len(), 1);

    // Changed in the primary calendar: the next sync brings it in.
    put(&sandbox, "lunch", single("Lunch (moved)", 5));
    let again = engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(again.status, "Success", "{:?}", again.error);
    assert_eq!(summaries(&busy(&db).await), vec!["Dentist", "Lunch (moved)"]);
});
