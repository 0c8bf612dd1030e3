//! The booking flow (issue #22): free slots of a team of 50 members (each with working hours in
//! their own zone, buffers and a day limit) with 5,000 external events (synced from feeds) and
//! 500 bookings between them, over 90 days, 30-minute meetings, mode=any; then a booking for the
//! team (check, assign, save; no provider write). How the answer's cost grows with members and
//! days. SQLite and PostgreSQL.
//!
//! Run with `make bench` (sets CALSYNC_TEST_DATABASE_URL).
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Duration as Days, Utc, Weekday};
use server::{
    domain::{
        bookings::{self as bk, NewBooking, Outcome},
        hours::HoursText,
        integrations::{self as ig, Patch},
        slots, teams,
        users::{self, NewUser, Role},
        working_hours::{self as wh, Settings as Hours},
        Actor,
    },
    password::Cost,
    providers::fetch::{FeedClient, FeedLimits},
    sync::{Engine, Settings, Trigger},
};
use testkit::{
    feeds::{FeedHost, Reply},
    Kind, TestDb,
};

const MEMBERS: usize = 50;
const EVENTS_PER_MEMBER: usize = 100;
const BOOKINGS_PER_MEMBER: usize = 10;
const DAYS: i64 = 90;
const RUNS: usize = 21;
const ZONES: [&str; 5] = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"];

fn first_monday() -> DateTime<Utc> {
    let mut d = Utc::now().date_naive() + Days::days(2);
    while d.weekday() != Weekday::Mon {
        d += Days::days(1);
    }
    d.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// A member's feed: 100 one-hour events spread over the 90 days at varying hours.
fn feed(member: usize, from: DateTime<Utc>) -> String {
    let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync slots bench//EN\r\n");
    for e in 0..EVENTS_PER_MEMBER {
        let start = from + Days::hours(((e * 21 + member * 5) % (DAYS as usize * 24)) as i64);
        let end = start + Days::hours(1);
        text.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:m{member}e{e}\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:Event {e}\r\nEND:VEVENT\r\n",
            start.format("%Y%m%dT%H%M%SZ"),
            end.format("%Y%m%dT%H%M%SZ")
        ));
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

struct Setup {
    admin: Actor,
    from: DateTime<Utc>,
}

async fn setup(db: &TestDb, host: &FeedHost) -> Setup {
    let from = first_monday();
    let feeds = FeedLimits { allow_private: true, ..FeedLimits::default() };
    let engine =
        Engine::with_feed_client(db.pool.clone(), db.keys.clone(), Arc::new(FeedClient::new(feeds.clone())), Settings { feeds, ..Settings::default() });
    let mut pooled = db.pool.get().await.unwrap();
    let new_user =
        |email: String, role: Role, zone: &str| NewUser { email, full_name: String::new(), password: "bench password 1".into(), role, time_zone: zone.into() };
    let admin = Actor::of(&users::create(&mut pooled.conn(), Cost::Test, new_user("admin@example.com".into(), Role::Admin, "UTC")).await.unwrap());
    let mut emails = Vec::new();
    for m in 0..MEMBERS {
        let zone = ZONES[m % ZONES.len()];
        let email = format!("member{m:02}@example.com");
        let user = users::create(&mut pooled.conn(), Cost::Test, new_user(email.clone(), Role::User, zone)).await.unwrap();
        let actor = Actor::of(&user);
        let hours = Hours {
            time_zone: zone.into(),
            working_hours: Some(vec![HoursText {
                days: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(),
                start: "09:00".into(),
                end: "17:00".into(),
                overnight: false,
            }]),
            buffer_before_minutes: 5,
            buffer_after_minutes: 10,
            minimum_notice_minutes: 60,
            max_bookings_per_day: Some(6),
            max_bookings_per_week: None,
        };
        wh::put_settings(&mut pooled.conn(), admin, &email, hours).await.unwrap();
        let path = format!("/m{m}.ics");
        host.set(&path, Reply::Feed(feed(m, from)));
        let patch = Patch {
            integration_type: Some("iCal".into()),
            integration_name: Some("Work".into()),
            ical_url: Some(host.url(&path)),
            sync_future_days: Some("120".into()),
            ..Patch::default()
        };
        let name = ig::create(&mut pooled.conn(), &db.keys, actor, patch).await.unwrap().integration.name;
        let run = engine.sync_and_wait(actor, &name, Trigger::Manual).await.unwrap();
        assert_eq!(run.status, "Success", "{:?}", run.error);
        for b in 0..BOOKINGS_PER_MEMBER {
            let start = from + Days::days((b * 9 + m % 9) as i64) + Days::hours(10 + (m % 6) as i64);
            let new = NewBooking {
                title: format!("Booked {b}"),
                start: start.to_rfc3339(),
                end: (start + Days::minutes(30)).to_rfc3339(),
                time_zone: "UTC".into(),
                allow_conflict: true,
                ..NewBooking::default()
            };
            assert!(matches!(bk::create(&mut pooled.conn(), actor, "bench", new).await.unwrap(), Outcome::Booked(_)));
        }
        emails.push(email);
    }
    for n in [10, 25, 50] {
        teams::create(&mut pooled.conn(), admin, &format!("Team {n}"), &emails[..n]).await.unwrap();
    }
    Setup { admin, from }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p95(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 95).div_ceil(100) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn answer(db: &TestDb, s: &Setup, team: &str, days: i64) -> (Vec<Duration>, usize) {
    let q = slots::Query {
        team: Some(team.into()),
        mode: Some("any".into()),
        from: Some(s.from.to_rfc3339()),
        to: Some((s.from + Days::days(days)).to_rfc3339()),
        duration: Some("30".into()),
        step: Some("15".into()),
        ..slots::Query::default()
    };
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..RUNS + 1 {
        let mut pooled = db.pool.get().await.unwrap();
        let t = Instant::now();
        let found = slots::find(&mut pooled.conn(), s.admin, &q).await.unwrap();
        times.push(t.elapsed());
        count = found.slots.len();
    }
    times.remove(0);
    (times, count)
}

/// The answer's two halves: reading the members (rules, events, bookings, health) and working
/// out the slots.
async fn halves(db: &TestDb, s: &Setup) -> (Duration, Duration) {
    let (to, mut reads, mut sums) = (s.from + Days::days(DAYS), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let mut pooled = db.pool.get().await.unwrap();
        let team = teams::get(&mut pooled.conn(), s.admin, "Team 50").await.unwrap();
        let t = Instant::now();
        let members = slots::load(&mut pooled.conn(), team.members, s.from, to, None).await.unwrap();
        reads.push(t.elapsed());
        let t = Instant::now();
        let found = slots::slots(&members, slots::Mode::Any, s.from, to, Days::minutes(30), Days::minutes(15), Utc::now());
        sums.push(t.elapsed());
        assert!(!found.is_empty());
    }
    (median(reads), median(sums))
}

struct Figures {
    label: &'static str,
    halves: (Duration, Duration),
    answer: (Duration, Duration, usize),
    growth: Vec<(usize, i64, Duration)>,
    booking: (Duration, Duration),
}

async fn measure(kind: Kind) -> Figures {
    let db = TestDb::new(kind).await;
    let host = FeedHost::start().await;
    let started = Instant::now();
    let s = setup(&db, &host).await;
    eprintln!(
        "{kind:?}: {MEMBERS} members, {} events, {} bookings set up in {:.1} s",
        MEMBERS * EVENTS_PER_MEMBER,
        MEMBERS * BOOKINGS_PER_MEMBER,
        started.elapsed().as_secs_f64()
    );
    let (times, count) = answer(&db, &s, "Team 50", DAYS).await;
    let answer_figures = (median(times.clone()), p95(times), count);
    let halves = halves(&db, &s).await;
    let mut growth = Vec::new();
    for (n, days) in [(10, 90), (25, 90), (50, 7), (50, 30), (50, 90)] {
        let (times, _) = answer(&db, &s, &format!("Team {n}"), days).await;
        growth.push((n, days, median(times)));
    }
    // Team bookings at slots the search offers, spread over the range.
    let found = {
        let q = slots::Query {
            team: Some("Team 50".into()),
            mode: Some("any".into()),
            from: Some(s.from.to_rfc3339()),
            to: Some((s.from + Days::days(DAYS)).to_rfc3339()),
            duration: Some("30".into()),
            step: Some("15".into()),
            ..slots::Query::default()
        };
        let mut pooled = db.pool.get().await.unwrap();
        slots::find(&mut pooled.conn(), s.admin, &q).await.unwrap()
    };
    let mut times = Vec::new();
    for (i, slot) in found.slots.iter().step_by(found.slots.len() / RUNS).take(RUNS).enumerate() {
        let new = NewBooking {
            team: Some("Team 50".into()),
            title: format!("Team call {i}"),
            start: slot.start.to_rfc3339(),
            end: slot.end.to_rfc3339(),
            time_zone: "UTC".into(),
            ..NewBooking::default()
        };
        let mut pooled = db.pool.get().await.unwrap();
        let t = Instant::now();
        let answer = bk::create_with_warnings(&mut pooled.conn(), s.admin, "bench", new).await.unwrap();
        times.push(t.elapsed());
        assert!(matches!(answer.outcome, Outcome::Booked(_)), "{:?}", answer.outcome);
    }
    Figures {
        label: match kind {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        },
        answer: answer_figures,
        halves,
        growth,
        booking: (median(times.clone()), p95(times)),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let runs = [measure(Kind::Sqlite).await, measure(Kind::Postgres).await];
        println!();
        println!("| booking flow: team of 50, 5,000 events, 500 bookings | median | p95 | goal |");
        println!("|---|---|---|---|");
        for f in &runs {
            let goal = if f.label == "SQLite" { "10 ms" } else { "20 ms" };
            println!("| slots, 90 days, 30 min, mode=any, {} ({} slots) | {:.1} ms | {:.1} ms | {goal} |", f.label, f.answer.2, ms(f.answer.0), ms(f.answer.1));
            println!("| of which reading the 50 members, {} / working out the slots | {:.1} ms / {:.1} ms | | |", f.label, ms(f.halves.0), ms(f.halves.1));
            println!("| team booking: check, assign, save, {} | {:.1} ms | {:.1} ms | 15 ms |", f.label, ms(f.booking.0), ms(f.booking.1));
        }
        println!();
        println!("| slots answer, median | SQLite | PostgreSQL |");
        println!("|---|---|---|");
        for (i, (n, days, _)) in runs[0].growth.iter().enumerate() {
            println!("| {n} members, {days} days | {:.1} ms | {:.1} ms |", ms(runs[0].growth[i].2), ms(runs[1].growth[i].2));
        }
    });
}
