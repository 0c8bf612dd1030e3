//! What the engine tests share: users, feed calendars, an engine on loopback, feeds and the
//! stored copies.
#![allow(dead_code)]
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{change_history as ch, event_instances as ei},
    domain::{
        integrations::{self as ig, Patch},
        users::{self, NewUser, Role},
        Actor,
    },
    password::Cost,
    providers::{
        fetch::{FeedClient, FeedLimits},
        guard::StaticResolver,
    },
    run,
    sync::{runs, Engine, Settings},
};
use testkit::TestDb;

pub async fn user(db: &TestDb, email: &str) -> Actor {
    let mut c = db.pool.get().await.unwrap();
    let u = users::create(
        &mut c.conn(),
        Cost::Test,
        NewUser { email: email.into(), full_name: String::new(), password: "password 123".into(), role: Role::User, time_zone: "UTC".into() },
    )
    .await
    .unwrap();
    Actor::of(&u)
}

pub async fn calendar(db: &TestDb, actor: Actor, name: &str, url: &str) -> String {
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch { integration_type: Some("iCal".into()), integration_name: Some(name.into()), ical_url: Some(url.into()), ..Patch::default() };
    ig::create(&mut c.conn(), &db.keys, actor, patch).await.unwrap().integration.name
}

pub fn limits() -> FeedLimits {
    FeedLimits { allow_private: true, timeout: Duration::from_secs(5), ..FeedLimits::default() }
}

pub fn engine_with(db: &TestDb, feeds: FeedLimits, resolver: Option<StaticResolver>) -> Engine {
    let client = match resolver {
        Some(r) => FeedClient::with_resolver(feeds.clone(), Arc::new(r)),
        None => FeedClient::new(feeds.clone()),
    };
    Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(client), Settings { feeds, concurrency: 3, ..Settings::default() })
}

pub fn engine(db: &TestDb) -> Engine {
    engine_with(db, limits(), None)
}

/// A feed of single events `days` from today at 09:00Z, plus one weekly series.
pub fn feed(singles: &[(&str, i64, &str)]) -> String {
    let today = Utc::now().date_naive();
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync tests//EN\r\n");
    for (uid, days, summary) in singles {
        let d = (today + Days::days(*days)).format("%Y%m%d");
        text.push_str(&format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{d}T090000Z\r\nDTEND:{d}T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"));
    }
    let start = (today - Days::days(7)).format("%Y%m%d");
    text.push_str(&format!(
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTART:{start}T150000Z\r\nDTEND:{start}T153000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n"
    ));
    text.push_str("END:VCALENDAR\r\n");
    text
}

pub async fn instances(db: &TestDb) -> Vec<(String, String, String)> {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    run!(&mut c, |c| ei::table
        .select((ei::uid, ei::recurrence_id, ei::summary))
        .order((ei::start_at.asc(), ei::uid.asc()))
        .load::<(String, String, String)>(c)
        .await)
    .unwrap()
}

/// How many history rows of synced events (series and instances) record `action`.
pub async fn count_history(db: &TestDb, action: &str) -> i64 {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    run!(&mut c, |c| ch::table.filter(ch::action.eq(action)).filter(ch::entity.eq_any(["series", "instance"])).count().get_result::<i64>(c).await).unwrap()
}

pub fn counts(r: &runs::Run) -> (i32, i32, i32, i32) {
    (r.created_count, r.updated_count, r.deleted_count, r.unchanged_count)
}

/// A Google calendar of `owner` at the sandbox, connected with fresh tokens (Two-way by
/// default); `policy`: its conflict policy.
#[allow(clippy::too_many_arguments)]
pub async fn google_calendar(
    db: &TestDb,
    sandbox: &sandbox::Sandbox,
    me: Actor,
    owner: &str,
    calendar: &str,
    label: &str,
    primary: bool,
    policy: Option<&str>,
) -> String {
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(owner));
    let mut c = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some(label.into()),
        calendar_id: Some(calendar.into()),
        access_token: Some(Some(server::crypto::Secret::new(access))),
        refresh_token: Some(Some(server::crypto::Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        is_primary: Some(primary),
        conflict_policy: policy.map(str::to_string),
        ..Patch::default()
    };
    ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name
}

/// An engine whose providers are the sandbox's, with `timeout` per provider request.
pub fn sandbox_engine(db: &TestDb, sandbox: &sandbox::Sandbox, timeout: Duration) -> Engine {
    let feeds = limits();
    let settings = Settings {
        feeds: feeds.clone(),
        google: sandbox.google_endpoints(),
        outlook: sandbox.microsoft_endpoints(),
        provider_timeout: timeout,
        ..Settings::default()
    };
    Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings)
}
