//! Bookings on SQLite and PostgreSQL: a meeting is checked against the member's calendars and
//! other bookings (a clash is refused with what is in the way unless overridden), bad input is
//! refused with a message per field and saves nothing, bookings block availability, cancel.
use chrono::{Duration as Days, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{bookings as b, calendar_integrations as ci, change_history as ch},
    domain::{
        audit::By,
        availability,
        bookings::{self, Answer, Changes, NewBooking, Outcome},
        health::Kind,
        integrations::{self as ig, Patch},
        now, users, Actor, Error,
    },
    run,
    sync::Trigger,
};
use testkit::db_test;
use testkit::{
    feeds::{FeedHost, Reply},
    TestDb,
};

use crate::common;
use common::*;

fn tomorrow() -> NaiveDate {
    Utc::now().date_naive() + Days::days(1)
}

/// A meeting tomorrow, wall-clock times in Berlin.
fn meeting(title: &str, from: &str, to: &str) -> NewBooking {
    NewBooking {
        title: title.into(),
        start: format!("{} {from}", tomorrow()),
        end: format!("{} {to}", tomorrow()),
        time_zone: "Europe/Berlin".into(),
        ..NewBooking::default()
    }
}

async fn book(db: &TestDb, actor: Actor, new: NewBooking) -> Result<Outcome, Error> {
    let mut c = db.pool.get().await.unwrap();
    bookings::create(&mut c.conn(), actor, "sarah@example.com", new).await
}

async fn book_checked(db: &TestDb, actor: Actor, new: NewBooking) -> Result<Answer, Error> {
    let mut c = db.pool.get().await.unwrap();
    bookings::create_with_warnings(&mut c.conn(), actor, "sarah@example.com", new).await
}

fn refused(r: Result<Outcome, Error>) -> Vec<(Option<String>, String)> {
    match r {
        Err(Error::Invalid(report)) => report.errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn count(db: &TestDb) -> i64 {
    let mut c = db.pool.get().await.unwrap();
    run!(&mut c.conn(), |cc| b::table.count().get_result(cc).await).unwrap()
}

db_test!(a_booking_is_checked_against_calendars_and_bookings_and_blocks_time, |db| {
    let host = FeedHost::start().await;
    let d = tomorrow().format("%Y%m%d");
    // 10:00–10:30 UTC is 11:00–11:30 in Berlin (winter).
    host.set("/me.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:dentist\r\nDTSTART:{d}T100000Z\r\nDTEND:{d}T103000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    let sarah = user(&db, "sarah@example.com").await;
    let name = calendar(&db, sarah, "Personal", &host.url("/me.ics")).await;
    engine(&db).sync_and_wait(sarah, &name, Trigger::Manual).await.unwrap();

    // Free: booked, stored in UTC.
    let standup = match book(&db, sarah, NewBooking { attendees: vec!["Lee@Example.com".into()], ..meeting("Standup", "10:00", "10:30") }).await.unwrap() {
        Outcome::Booked(b) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(standup.start, tomorrow().and_hms_opt(9, 0, 0).unwrap(), "10:00 in Berlin is 09:00 UTC");
    assert_eq!((standup.status.as_str(), standup.version, standup.attendees.clone()), ("confirmed", 1, vec!["lee@example.com".to_string()]));

    // In the way of the dentist: refused, naming it in the booking's zone; nothing saved.
    let clash = book(&db, sarah, meeting("Review", "11:15", "11:45")).await.unwrap();
    let Outcome::Busy(clashes) = clash else { panic!("{clash:?}") };
    assert_eq!(clashes.len(), 1);
    assert_eq!(clashes[0].message, "sarah@example.com is busy 11:00–11:30: 'Dentist' (Personal)");
    assert_eq!(clashes[0].integration, name);
    assert_eq!(count(&db).await, 1);
    // In the way of the first booking.
    let Outcome::Busy(clashes) = book(&db, sarah, meeting("Sync", "10:15", "10:45")).await.unwrap() else { panic!() };
    assert_eq!(clashes[0].message, "sarah@example.com is busy 10:00–10:30: 'Standup' (Booking)");
    // Overridden: booked anyway.
    assert!(matches!(book(&db, sarah, NewBooking { allow_conflict: true, ..meeting("Review", "11:15", "11:45") }).await.unwrap(), Outcome::Booked(_)));

    // A weekly meeting is checked on each occurrence: the second week is in the way.
    let next = tomorrow() + Days::days(7);
    let nd = next.format("%Y%m%d");
    host.set("/me.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:offsite\r\nDTSTART:{nd}T150000Z\r\nDTEND:{nd}T160000Z\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    engine(&db).sync_and_wait(sarah, &name, Trigger::Manual).await.unwrap();
    let weekly = NewBooking { recurrence: Some("RRULE:FREQ=WEEKLY;COUNT=3".into()), ..meeting("1:1", "16:30", "17:00") };
    let Outcome::Busy(clashes) = book(&db, sarah, weekly).await.unwrap() else { panic!() };
    assert_eq!(clashes[0].message, format!("sarah@example.com is busy {next} 16:00–17:00: 'Offsite' (Personal)"));

    // Bookings block availability; a cancelled one no longer does.
    let u = {
        let mut c = db.pool.get().await.unwrap();
        users::get(&mut c.conn(), sarah.user_id).await.unwrap()
    };
    let day = tomorrow().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let busy = |db: &TestDb| {
        let (pool, u) = (db.pool.clone(), u.clone());
        async move {
            let mut c = pool.get().await.unwrap();
            availability::busy(&mut c.conn(), &u, day, day + Days::days(1)).await.unwrap().0
        }
    };
    let before = busy(&db).await;
    assert!(before.iter().any(|i| i.sources.iter().any(|s| s.kind == "booking" && s.summary == "Standup")), "{before:?}");
    let cancelled = {
        let mut c = db.pool.get().await.unwrap();
        bookings::cancel(&mut c.conn(), sarah, standup.id, "sarah@example.com").await.unwrap()
    };
    assert_eq!((cancelled.status.as_str(), cancelled.version), ("cancelled", 2));
    assert!(busy(&db).await.iter().all(|i| i.sources.iter().all(|s| s.summary != "Standup")));
    {
        let mut c = db.pool.get().await.unwrap();
        let again = bookings::cancel(&mut c.conn(), sarah, standup.id, "sarah@example.com").await;
        assert!(matches!(again, Err(Error::Conflict(ref m)) if m == bookings::MSG_CANCELLED), "{again:?}");
        // Someone else's booking does not exist for them.
        let john = user(&db, "john@example.com").await;
        assert!(matches!(bookings::get(&mut c.conn(), john, standup.id).await, Err(Error::NotFound)));
        let actions: Vec<String> = run!(&mut c.conn(), |cc| ch::table
            .filter(ch::entity.eq("booking").and(ch::entity_key.eq(standup.id.to_string())))
            .order(ch::id)
            .select(ch::action)
            .load(cc)
            .await)
        .unwrap();
        assert_eq!(actions, vec!["create", "cancel"]);
    }
});

db_test!(bad_bookings_are_refused_with_a_message_each_and_save_nothing, |db| {
    let sarah = user(&db, "sarah@example.com").await;
    let tz_gap = "2027-03-28 02:30"; // Berlin skips 02:00–03:00 that night.
    let cases: Vec<(NewBooking, &str, String)> = vec![
        (meeting("", "10:00", "11:00"), "title", "Title is required.".into()),
        (meeting("Zero", "10:00", "10:00"), "end", "The end must be after the start.".into()),
        (meeting("Backwards", "11:00", "10:00"), "end", "The end must be after the start.".into()),
        (
            NewBooking { start: "2020-01-01 10:00".into(), end: "2020-01-01 11:00".into(), ..meeting("Past", "", "") },
            "start",
            "A booking cannot start in the past.".into(),
        ),
        (
            NewBooking { start: tz_gap.into(), end: "2027-03-28 04:00".into(), ..meeting("Gap", "", "") },
            "start",
            "2027-03-28 02:30 does not exist in Europe/Berlin: the clocks go forward then. Choose another time.".into(),
        ),
        (
            NewBooking { time_zone: "Mars/Olympus".into(), ..meeting("Zone", "10:00", "11:00") },
            "time_zone",
            "'Mars/Olympus' is not a time zone: use an IANA name such as Europe/Berlin.".into(),
        ),
        (
            NewBooking { start: "tomorrow at ten".into(), ..meeting("Words", "", "11:00") },
            "start",
            "Start 'tomorrow at ten' is not a time such as 2026-12-02 10:00 or 2026-12-02T09:00:00Z.".into(),
        ),
        (
            NewBooking { recurrence: Some("FREQ=WEEKLY".into()), ..meeting("Rule", "10:00", "11:00") },
            "recurrence",
            "'FREQ=WEEKLY' is not a recurrence rule: it must start with RRULE: (for example RRULE:FREQ=WEEKLY;COUNT=10).".into(),
        ),
        (
            NewBooking { attendees: vec!["not an email".into()], ..meeting("People", "10:00", "11:00") },
            "attendees",
            "'not an email' is not an email address.".into(),
        ),
    ];
    for (new, field, message) in cases {
        let errors = refused(book(&db, sarah, new).await);
        assert!(errors.contains(&(Some(field.to_string()), message.clone())), "{field}: {errors:?}");
    }
    let errors = refused(book(&db, sarah, NewBooking { recurrence: Some("RRULE:FREQ=SOMETIMES".into()), ..meeting("Rule", "10:00", "11:00") }).await);
    assert!(errors[0].1.starts_with("'RRULE:FREQ=SOMETIMES' is not a valid recurrence rule:"), "{errors:?}");

    // Members: yourself, or anyone for an admin; not an unknown or inactive one.
    let john = user(&db, "john@example.com").await;
    let theirs = book(&db, john, NewBooking { user: Some("sarah@example.com".into()), ..meeting("Mine", "10:00", "11:00") }).await;
    assert!(matches!(theirs, Err(Error::Forbidden(ref m)) if m == bookings::MSG_OWN_ONLY), "{theirs:?}");
    let errors = refused(book(&db, Actor::SYSTEM, NewBooking { user: Some("nobody@example.com".into()), ..meeting("Ghost", "10:00", "11:00") }).await);
    assert_eq!(errors, vec![(Some("user".into()), "There is no user with the email 'nobody@example.com'.".into())]);
    {
        let mut c = db.pool.get().await.unwrap();
        users::set_disabled(&mut c.conn(), john.user_id, true, &By::cli()).await.unwrap();
    }
    let errors = refused(book(&db, Actor::SYSTEM, NewBooking { user: Some("john@example.com".into()), ..meeting("Gone", "10:00", "11:00") }).await);
    assert!(errors.contains(&(Some("user".into()), "john@example.com is inactive and cannot be booked.".into())), "{errors:?}");
    assert_eq!(count(&db).await, 0, "nothing was saved");
});

db_test!(a_booking_names_the_calendars_it_could_not_check_and_fail_closed_refuses_it, |db| {
    let host = FeedHost::start().await;
    host.set("/work.ics", Reply::Feed(feed(&[])));
    let sarah = user(&db, "sarah@example.com").await;
    let name = calendar(&db, sarah, "Work", &host.url("/work.ics")).await;
    // Added a day ago and never synced: calsync knows none of its busy time.
    {
        let mut c = db.pool.get().await.unwrap();
        run!(&mut c.conn(), |cc| diesel::update(ci::table.filter(ci::name.eq(name.as_str())))
            .set(ci::created_at.eq(now() - Days::hours(24)))
            .execute(cc)
            .await)
        .unwrap();
    }
    let never = "Booked, but 'Work' has never synced — a clash there would not be seen";

    // Fail-open (the default): booked, saying which calendar could not be checked.
    let a = book_checked(&db, sarah, meeting("Standup", "10:00", "10:30")).await.unwrap();
    let Outcome::Booked(standup) = a.outcome.clone() else { panic!("{a:?}") };
    assert_eq!(a.unchecked.len(), 1, "{a:?}");
    assert_eq!(
        (a.unchecked[0].calendar.kind, a.unchecked[0].calendar.integration.as_str(), a.unchecked[0].calendar.stale_policy.as_str()),
        (Kind::NeverSynced, name.as_str(), "fail-open")
    );
    assert_eq!(a.unchecked[0].warning, never);
    assert_eq!(count(&db).await, 1);

    // Fail-closed: refused, naming the calendar and why; nothing saved.
    {
        let mut c = db.pool.get().await.unwrap();
        ig::update(&mut c.conn(), &db.keys, sarah, &name, Patch { stale_policy: Some("fail-closed".into()), ..Patch::default() }).await.unwrap();
    }
    let closed = "'Work' has never synced, and its policy is fail-closed: a clash there would not be seen, so the time counts as busy and nothing was saved. Sync it again, or override the conflict to book anyway.";
    let a = book_checked(&db, sarah, meeting("Review", "15:00", "16:00")).await.unwrap();
    let Outcome::Busy(clashes) = &a.outcome else { panic!("{a:?}") };
    assert_eq!(clashes.iter().map(|c| c.message.as_str()).collect::<Vec<_>>(), vec![closed]);
    assert_eq!((clashes[0].integration.as_str(), clashes[0].summary.as_str()), (name.as_str(), "Never synced calendar: treated as busy"));
    assert_eq!(a.unchecked[0].calendar.stale_policy, "fail-closed");
    // The plain create refuses the same way.
    assert!(matches!(book(&db, sarah, meeting("Review", "15:00", "16:00")).await.unwrap(), Outcome::Busy(ref c) if c[0].message == closed));
    assert_eq!(count(&db).await, 1, "nothing was saved");

    // Moving a booking is refused the same way, and leaves it; a change that keeps its times is not.
    let change = |changes: Changes| {
        let pool = db.pool.clone();
        async move {
            let mut c = pool.get().await.unwrap();
            bookings::update_with_warnings(&mut c.conn(), sarah, standup.id, "sarah@example.com", changes).await.unwrap()
        }
    };
    let moved =
        change(Changes { version: 1, start: Some(format!("{} 17:00", tomorrow())), end: Some(format!("{} 17:30", tomorrow())), ..Changes::default() }).await;
    assert!(matches!(&moved.outcome, Outcome::Busy(c) if c[0].message == closed), "{moved:?}");
    {
        let mut c = db.pool.get().await.unwrap();
        let still = bookings::get(&mut c.conn(), sarah, standup.id).await.unwrap();
        assert_eq!((still.start, still.version), (standup.start, 1), "not moved");
    }
    let retitled = change(Changes { version: 1, title: Some("Standup (daily)".into()), ..Changes::default() }).await;
    assert!(matches!(&retitled.outcome, Outcome::Booked(b) if b.title == "Standup (daily)"), "{retitled:?}");
    assert!(retitled.unchecked.is_empty(), "the times did not change: nothing to check");

    // Overridden: booked anyway, with the warning.
    let a = book_checked(&db, sarah, NewBooking { allow_conflict: true, ..meeting("Review", "15:00", "16:00") }).await.unwrap();
    assert!(matches!(a.outcome, Outcome::Booked(_)), "{a:?}");
    assert_eq!(a.unchecked.iter().map(|u| u.warning.as_str()).collect::<Vec<_>>(), vec![never]);

    // Synced: trusted again, nothing to say.
    engine(&db).sync_and_wait(sarah, &name, Trigger::Manual).await.unwrap();
    let a = book_checked(&db, sarah, meeting("Planning", "18:00", "18:30")).await.unwrap();
    assert!(matches!(a.outcome, Outcome::Booked(_)) && a.unchecked.is_empty(), "{a:?}");
});
