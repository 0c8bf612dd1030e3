//! Feeds written to hurt: the reader stays linear whatever the nesting, expansion stops at the
//! feed's step budget, and reading stops at its deadline — while other calendars sync on.
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use server::{
    ical::{self, Budget, Options},
    providers::fetch::{FeedClient, FeedLimits},
    sync::{Engine, Settings, Trigger},
};
use testkit::db_test;
use testkit::feeds::{FeedHost, Reply};

use crate::common;
use common::*;

fn at(s: &str) -> DateTime<Utc> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

#[test]
fn a_million_components_under_a_stray_begin_are_read_in_one_pass() {
    // Every BEGIN used to search the whole stack of open components: quadratic here.
    let text = format!("BEGIN:X\r\n{}", "BEGIN:VEVENT\r\n".repeat(1_000_000));
    let err = ical::parse(text.as_bytes()).err().expect("not a calendar");
    assert!(err.message.starts_with("not an iCalendar feed"), "{}", err.message);
}

#[test]
fn half_a_million_nested_components_are_skipped_in_one_pass() {
    // Every END used to search the whole stack: quadratic here.
    let text = format!("BEGIN:VCALENDAR\r\n{}{}END:VCALENDAR\r\n", "BEGIN:X\r\n".repeat(500_000), "END:Y\r\n".repeat(500_000));
    let cal = ical::parse(text.as_bytes()).expect("a calendar with nothing in it");
    assert!(cal.events.is_empty());
    assert!(cal.warnings.iter().any(|w| w.message.contains("nested more than 16 deep")), "{:?}", &cal.warnings[..3]);
    assert!(cal.warnings.len() <= 1001, "warnings are bounded: {}", cal.warnings.len());
}

/// `n` events, each `FREQ=SECONDLY` from 1900: every one walks its steps up to the window.
fn secondly(n: usize) -> String {
    let events: String = (0..n).map(|i| format!("BEGIN:VEVENT\r\nUID:s{i}\r\nDTSTART:19000101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n")).collect();
    format!("BEGIN:VCALENDAR\r\n{events}END:VCALENDAR\r\n")
}

#[test]
fn expansion_stops_at_the_feeds_step_budget() {
    // 50,000 rules × 200,000 steps each before the window: hours, without a budget per feed.
    let mut cal = ical::parse(secondly(50_000).as_bytes()).unwrap();
    let opts = Options { from: at("2027-01-01"), to: at("2027-02-01"), floating: chrono_tz::UTC, max_instances: 100_000 };
    let budget = Budget::new(1_000_000, None);
    let out = ical::expand_within(&mut cal, opts, &budget);
    assert_eq!(out.series.len(), 50_000, "every event keeps its series");
    let said: Vec<String> = out.warnings.iter().map(|w| w.message.clone()).filter(|m| m.contains("expansion budget")).collect();
    assert!(!said.is_empty() && said.len() <= 2, "said where it ran out (once per thread at most): {said:?}");
    assert!(!budget.timed_out());
}

db_test!(a_feed_too_complex_for_the_deadline_fails_while_another_user_syncs_normally, |db| {
    let host = FeedHost::start().await;
    host.set("/hostile.ics", Reply::Feed(secondly(20_000)));
    host.set("/fine.ics", Reply::Feed(feed(&[("a", 1, "Alpha")])));
    let mallory = user(&db, "mallory@example.com").await;
    let sarah = user(&db, "sarah@example.com").await;
    let hostile = calendar(&db, mallory, "Hostile", &host.url("/hostile.ics")).await;
    let fine = calendar(&db, sarah, "Fine", &host.url("/fine.ics")).await;
    let feeds = FeedLimits { allow_private: true, timeout: Duration::from_secs(5), ..FeedLimits::default() };
    // No step budget to speak of: only the deadline stops it.
    let settings = Settings { feeds: feeds.clone(), max_steps: usize::MAX / 2, read_deadline: Duration::from_secs(1), ..Settings::default() };
    let engine = Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds)), settings);

    let slow = engine.sync_and_wait(mallory, &hostile, Trigger::Manual);
    let normal = async {
        // Started while the hostile feed is being read.
        tokio::time::sleep(Duration::from_millis(200)).await;
        engine.sync_and_wait(sarah, &fine, Trigger::Manual).await.unwrap()
    };
    let (slow, normal) = tokio::join!(slow, normal);
    assert_eq!(normal.status, "Success", "{:?}", normal.error);
    assert!(normal.finished_at.unwrap() < slow.as_ref().unwrap().finished_at.unwrap(), "the other calendar did not wait for the hostile one");
    let slow = slow.unwrap();
    assert_eq!(slow.status, "Failed");
    assert!(slow.error.as_deref().unwrap().starts_with("This feed is too complex to read within 1 s"), "{:?}", slow.error);
});
