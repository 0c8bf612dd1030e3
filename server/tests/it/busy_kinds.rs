//! What counts as busy, the same for every provider: one logical event of each kind written as
//! Google Calendar JSON and Graph JSON (in the provider sandbox) and as an iCalendar feed, each
//! synced by the engine, on SQLite and PostgreSQL. The three calendars must agree on every
//! event's kind and busy time under the default rules, and again after the rules change (which
//! applies to the stored events at once, with no sync).
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sandbox::Sandbox;
use serde_json::{json, Value};
use server::{
    crypto::Secret,
    db::schema::event_instances as ei,
    domain::{
        availability as av, busy_rules,
        integrations::{self as ig, Patch},
        users, Actor,
    },
    providers::fetch::FeedClient,
    run,
    sync::{Engine, Settings, Trigger},
};
use testkit::db_test;
use testkit::{
    feeds::{FeedHost, Reply},
    TestDb,
};

use crate::common;
use common::*;

const ANA: &str = "ana@example.com";
const BOSS: &str = "boss@example.com";

fn date(d: i64) -> NaiveDate {
    Utc::now().date_naive() + Days::days(d)
}

/// The events, one per kind (and Google's focus time, which is busy): the day each is on,
/// its title, the kind every provider must read.
const EVENTS: [(i64, &str, &str); 8] = [
    (1, "Declined review", "declined"),
    (2, "Unanswered invite", "unanswered"),
    (3, "Vacation", "out_of_office"),
    (4, "Home office", "working_elsewhere"),
    (5, "Lunch", "free"),
    (6, "Maybe planning", "tentative"),
    (7, "Offsite", "all_day"),
    (8, "Planning", "busy"),
];

fn google_event(day: i64, title: &str, kind: &str) -> Value {
    let at = |h: u32| format!("{}T{h:02}:00:00Z", date(day));
    let mut e = json!({"summary": title, "start": {"dateTime": at(10)}, "end": {"dateTime": at(11)}});
    let invite = |answer: &str| json!([{"email": ANA, "responseStatus": answer}, {"email": BOSS, "responseStatus": "accepted"}]);
    match kind {
        "declined" => {
            e["organizer"] = json!({"email": BOSS});
            e["attendees"] = invite("declined");
        }
        "unanswered" => {
            e["organizer"] = json!({"email": BOSS});
            e["attendees"] = invite("needsAction");
        }
        "out_of_office" => e["eventType"] = json!("outOfOffice"),
        // Google's working-location events are transparent too.
        "working_elsewhere" => {
            e["eventType"] = json!("workingLocation");
            e["transparency"] = json!("transparent");
        }
        "free" => e["transparency"] = json!("transparent"),
        "tentative" => e["status"] = json!("tentative"),
        "all_day" => {
            e["start"] = json!({"date": date(day).to_string()});
            e["end"] = json!({"date": date(day + 1).to_string()});
        }
        _ => e["eventType"] = json!("default"),
    }
    e
}

fn graph_event(day: i64, title: &str, kind: &str) -> Value {
    let at = |h: u32| json!({"dateTime": format!("{}T{h:02}:00:00.0000000", date(day)), "timeZone": "UTC"});
    let mut e = json!({"subject": title, "start": at(10), "end": at(11)});
    let invite = |answer: &str| json!({"isOrganizer": false, "responseStatus": {"response": answer, "time": "0001-01-01T00:00:00Z"}, "organizer": {"emailAddress": {"address": BOSS}}});
    let merge = |e: &mut Value, extra: Value| extra.as_object().unwrap().iter().for_each(|(k, v)| e[k] = v.clone());
    match kind {
        "declined" => merge(&mut e, invite("declined")),
        "unanswered" => merge(&mut e, invite("notResponded")),
        "out_of_office" => e["showAs"] = json!("oof"),
        "working_elsewhere" => e["showAs"] = json!("workingElsewhere"),
        "free" => e["showAs"] = json!("free"),
        "tentative" => e["showAs"] = json!("tentative"),
        "all_day" => {
            e["isAllDay"] = json!(true);
            e["start"] = json!({"dateTime": format!("{}T00:00:00.0000000", date(day)), "timeZone": "UTC"});
            e["end"] = json!({"dateTime": format!("{}T00:00:00.0000000", date(day + 1)), "timeZone": "UTC"});
        }
        _ => {}
    }
    e
}

fn ical_event(day: i64, title: &str, kind: &str) -> String {
    let d = date(day).format("%Y%m%d");
    let mut lines = vec![format!("UID:{kind}@feed"), format!("DTSTART:{d}T100000Z"), format!("DTEND:{d}T110000Z"), format!("SUMMARY:{title}")];
    let invite = |answer: &str| {
        vec![
            format!("ORGANIZER:mailto:{BOSS}"),
            format!("ATTENDEE;PARTSTAT={answer}:mailto:{}", ANA.to_uppercase()),
            format!("ATTENDEE;PARTSTAT=ACCEPTED:mailto:{BOSS}"),
        ]
    };
    match kind {
        "declined" => lines.extend(invite("DECLINED")),
        // No PARTSTAT is NEEDS-ACTION (RFC 5545 §3.2.12).
        "unanswered" => lines.extend([format!("ORGANIZER:mailto:{BOSS}"), format!("ATTENDEE;RSVP=TRUE:mailto:{ANA}")]),
        "out_of_office" => lines.push("X-MICROSOFT-CDO-BUSYSTATUS:OOF".into()),
        "working_elsewhere" => lines.push("X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE".into()),
        "free" => lines.push("TRANSP:TRANSPARENT".into()),
        "tentative" => lines.push("STATUS:TENTATIVE".into()),
        "all_day" => {
            lines[1] = format!("DTSTART;VALUE=DATE:{d}");
            lines[2] = format!("DTEND;VALUE=DATE:{}", date(day + 1).format("%Y%m%d"));
        }
        _ => {}
    }
    format!("BEGIN:VEVENT\r\n{}\r\nEND:VEVENT\r\n", lines.join("\r\n"))
}

struct World {
    _sandbox: Sandbox,
    _feeds: FeedHost,
    me: Actor,
    engine: Engine,
    /// Google, Outlook, iCal.
    names: [String; 3],
}

async fn world(db: &TestDb) -> World {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let me = user(db, ANA).await;
    let (g_access, g_refresh) = sandbox.with(|s| s.issue_tokens(ANA));
    let (m_access, m_refresh) = sandbox.with(|s| s.issue_ms_tokens(ANA));
    let graph_cal = sandbox.with(|s| s.add_ms_account(ANA));
    sandbox.with(|s| {
        for (day, title, kind) in EVENTS {
            s.put_event(ANA, kind, google_event(day, title, kind));
            s.put_graph_event(&graph_cal, kind, graph_event(day, title, kind));
        }
        // Focus time is busy time.
        s.put_event(ANA, "focus", json!({"summary": "Focus", "eventType": "focusTime", "start": {"dateTime": format!("{}T14:00:00Z", date(8))}, "end": {"dateTime": format!("{}T15:00:00Z", date(8))}}));
    });
    let feeds = FeedHost::start().await;
    let body: String = EVENTS.iter().map(|(d, t, k)| ical_event(*d, t, k)).collect();
    feeds.set("/ana.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")));

    let mut c = db.pool.get().await.unwrap();
    let oauth = |kind: &str, cal: &str, access: &str, refresh: &str| Patch {
        integration_type: Some(kind.into()),
        integration_name: Some(kind.into()),
        calendar_id: Some(cal.into()),
        access_token: Some(Some(Secret::new(access.to_owned()))),
        refresh_token: Some(Some(Secret::new(refresh.to_owned()))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        ..Patch::default()
    };
    let google = ig::create(&mut c.conn(), &db.keys, me, oauth("Google Calendar", ANA, &g_access, &g_refresh)).await.unwrap().integration.name;
    let outlook = ig::create(&mut c.conn(), &db.keys, me, oauth("Outlook Calendar", &graph_cal, &m_access, &m_refresh)).await.unwrap().integration.name;
    drop(c);
    let ical = calendar(db, me, "Feed", &feeds.url("/ana.ics")).await;
    let settings = Settings {
        feeds: limits(),
        google: sandbox.google_endpoints(),
        outlook: sandbox.microsoft_endpoints(),
        provider_timeout: Duration::from_secs(5),
        ..Settings::default()
    };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(limits())), settings);
    let names = [google, outlook, ical];
    for name in &names {
        let run = engine.sync_and_wait(me, name, Trigger::Manual).await.unwrap();
        assert_eq!(run.status, "Success", "{name}: {:?}", run.error);
    }
    World { _sandbox: sandbox, _feeds: feeds, me, engine, names }
}

/// Each stored event of a calendar: (title, kind, busy, start, end), in start order.
async fn stored(db: &TestDb, me: Actor, name: &str) -> Vec<(String, String, bool, i64, i64)> {
    let mut p = db.pool.get().await.unwrap();
    let mut c = p.conn();
    let id = ig::get(&mut c, me, name).await.unwrap().id;
    run!(&mut c, |c| ei::table
        .filter(ei::integration_id.eq(id))
        .order((ei::start_at, ei::summary))
        .select((ei::summary, ei::kind, ei::busy, ei::start_at, ei::end_at))
        .load(c)
        .await)
    .unwrap()
}

async fn agree(db: &TestDb, w: &World) -> Vec<(String, String, bool, i64, i64)> {
    let google = stored(db, w.me, &w.names[0]).await;
    let focus: Vec<_> = google.iter().filter(|e| e.0 == "Focus").cloned().collect();
    assert_eq!(focus.iter().map(|e| (e.1.as_str(), e.2)).collect::<Vec<_>>(), [("busy", true)], "focus time is busy");
    let google: Vec<_> = google.into_iter().filter(|e| e.0 != "Focus").collect();
    let outlook = stored(db, w.me, &w.names[1]).await;
    let ical = stored(db, w.me, &w.names[2]).await;
    assert_eq!(google, outlook, "Google and Outlook disagree");
    assert_eq!(google, ical, "Google and the feed disagree");
    let kinds: Vec<(&str, &str)> = google.iter().map(|e| (e.0.as_str(), e.1.as_str())).collect();
    assert_eq!(kinds, EVENTS.map(|(_, t, k)| (t, k)));
    google
}

fn blocking(events: &[(String, String, bool, i64, i64)]) -> Vec<&str> {
    events.iter().filter(|e| e.2).map(|e| e.1.as_str()).collect()
}

db_test!(one_event_of_each_kind_reads_the_same_from_google_graph_and_a_feed, |db| {
    let w = world(&db).await;
    let events = agree(&db, &w).await;
    assert_eq!(blocking(&events), ["unanswered", "out_of_office", "tentative", "all_day", "busy"], "the defaults");

    // The availability answer names the rule of each source, and all three calendars agree.
    let mut p = db.pool.get().await.unwrap();
    let ana = users::get(&mut p.conn(), w.me.user_id).await.unwrap();
    let (busy, _) =
        av::busy(&mut p.conn(), &ana, (date(1)).and_hms_opt(0, 0, 0).unwrap().and_utc(), date(10).and_hms_opt(0, 0, 0).unwrap().and_utc()).await.unwrap();
    let rules: Vec<Vec<&str>> = busy.iter().map(|b| b.sources.iter().filter_map(|s| s.rule).collect()).collect();
    let three = |k| vec![k; 3];
    assert_eq!(
        rules,
        [three("unanswered"), three("out_of_office"), three("tentative"), three("all_day"), three("busy"), vec!["busy"]],
        "the last is Google's focus time"
    );

    // New rules on all three calendars: declined blocks, tentative and all-day do not, and
    // "planning" in a title frees it. They apply at once, with no sync.
    for name in &w.names {
        let version = ig::get(&mut p.conn(), w.me, name).await.unwrap().version;
        let patch = Patch {
            busy_rules: Some(vec![("declined".into(), "busy".into()), ("tentative".into(), "free".into()), ("all_day".into(), "free".into())]),
            free_title_patterns: Some(vec!["PLANNING".into()]),
            version: Some(version),
            ..Patch::default()
        };
        ig::update(&mut p.conn(), &db.keys, w.me, name, patch).await.unwrap();
    }
    let events = agree(&db, &w).await;
    assert_eq!(blocking(&events), ["declined", "unanswered", "out_of_office"], "'Planning' and 'Maybe planning' are freed by their title");

    // The preview says the same, and why each one does not block.
    let i = ig::get(&mut p.conn(), w.me, &w.names[2]).await.unwrap();
    let (from, to) = busy_rules::window(Some(&date(0).to_string()), None, chrono_tz::UTC).unwrap();
    let preview = busy_rules::preview(&mut p.conn(), &i, &i.busy_rules, from, to).await.unwrap();
    assert_eq!((preview.blocking, preview.not_blocking), (3, 5));
    assert!(preview.sentence().starts_with("3 events will block your time, 5 won't: 'Home office' (working elsewhere), 'Lunch' (free), 'Maybe planning' (tentative), 'Offsite' (all day), 'Planning' (title has \"PLANNING\")."), "{}", preview.sentence());

    // A sync after the change keeps the rules: nothing flips back.
    for name in &w.names {
        w.engine.sync_and_wait(w.me, name, Trigger::Manual).await.unwrap();
    }
    assert_eq!(blocking(&agree(&db, &w).await), ["declined", "unanswered", "out_of_office"]);
});

db_test!(rules_that_cannot_be_read_are_refused_and_change_nothing, |db| {
    let me = user(&db, ANA).await;
    let name = calendar(&db, me, "Feed", "https://example.com/a.ics").await;
    let mut p = db.pool.get().await.unwrap();
    let before = ig::get(&mut p.conn(), me, &name).await.unwrap();
    let patch = Patch {
        busy_rules: Some(vec![("maybe".into(), "busy".into()), ("declined".into(), "sometimes".into())]),
        free_title_patterns: Some(vec!["x".repeat(201)]),
        own_addresses: Some("ana@example.com\nnot an address".into()),
        version: Some(before.version),
        ..Patch::default()
    };
    let err = ig::update(&mut p.conn(), &db.keys, me, &name, patch).await.unwrap_err();
    let server::domain::Error::Invalid(report) = err else { panic!("{err:?}") };
    let messages: Vec<(String, String)> = report.errors.iter().map(|e| (e.field.clone().unwrap_or_default(), e.message.clone())).collect();
    assert!(
        messages.contains(&(
            "busy_rules".into(),
            "'maybe' is not a kind of event. Use one of declined, unanswered, out_of_office, working_elsewhere, free, tentative, all_day, busy.".into()
        )),
        "{messages:?}"
    );
    assert!(messages.contains(&("busy_rules".into(), "The rule for 'declined' must be \"busy\" or \"free\", not \"sometimes\".".into())), "{messages:?}");
    assert!(messages.iter().any(|(f, m)| f == "free_title_patterns" && m.contains("longer than 200 characters")), "{messages:?}");
    assert!(messages.contains(&("own_addresses".into(), "'not an address' is not an email address.".into())), "{messages:?}");
    assert_eq!(ig::get(&mut p.conn(), me, &name).await.unwrap(), before);
});

db_test!(a_feed_knows_its_owner_by_the_addresses_entered_and_reads_every_event_again_when_they_change, |db| {
    let me = user(&db, ANA).await;
    let feeds = FeedHost::start().await;
    let d = date(2).format("%Y%m%d");
    feeds.set("/club.ics", Reply::Feed(format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:match\r\nDTSTART:{d}T180000Z\r\nDTEND:{d}T200000Z\r\nSUMMARY:Match\r\nORGANIZER:mailto:coach@club.example\r\nATTENDEE;PARTSTAT=DECLINED:mailto:ana.private@home.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )));
    let name = calendar(&db, me, "Club", &feeds.url("/club.ics")).await;
    let engine = engine_with(&db, limits(), None);
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    // The feed invites another address of Ana's: by default (her calsync email) not hers.
    assert_eq!(stored(&db, me, &name).await.iter().map(|e| (e.1.as_str(), e.2)).collect::<Vec<_>>(), [("busy", true)]);

    let mut p = db.pool.get().await.unwrap();
    let version = ig::get(&mut p.conn(), me, &name).await.unwrap().version;
    let patch = Patch { own_addresses: Some("ana@example.com, mailto:Ana.Private@home.example".into()), version: Some(version), ..Patch::default() };
    let saved = ig::update(&mut p.conn(), &db.keys, me, &name, patch).await.unwrap().integration;
    assert_eq!(saved.own_addresses, ["ana@example.com", "Ana.Private@home.example"]);
    // The feed has not changed, but it is read again in full for the new addresses.
    engine.sync_and_wait(me, &name, Trigger::Manual).await.unwrap();
    assert_eq!(stored(&db, me, &name).await.iter().map(|e| (e.1.as_str(), e.2)).collect::<Vec<_>>(), [("declined", false)]);
});
