//! Recurrence shapes that real feeds contain, read as calendar apps show them. Each fixture in
//! `tests/data/shapes/` is small and written for this test; the expected instances below are
//! worked out by hand, with the reasoning beside them. Where RFC 5545 and the apps differ, the
//! apps win and the comment says so.
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use server::ical::{self, Options};

fn at(s: &str) -> DateTime<Utc> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// (start, end, summary) of every instance in [from, to), read with the owner in UTC, and the
/// warnings.
fn read(file: &str, from: &str, to: &str) -> (Vec<(String, String, String)>, Vec<String>) {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shapes").join(file)).unwrap();
    read_text(&bytes, from, to)
}

fn read_text(bytes: &[u8], from: &str, to: &str) -> (Vec<(String, String, String)>, Vec<String>) {
    let mut cal = ical::parse(bytes).expect("readable");
    let out = ical::expand(&mut cal, Options { from: at(from), to: at(to), floating: chrono_tz::UTC, max_instances: 1000 });
    let got = out.instances.iter().map(|i| (i.start.to_string(), i.end.to_string(), i.summary.to_string())).collect();
    (got, out.warnings.iter().map(|w| w.to_string()).collect())
}

fn spans(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(s, e, t)| (s.to_string(), e.to_string(), t.to_string())).collect()
}

#[test]
fn an_override_of_an_excluded_occurrence_is_deleted_with_it() {
    // Daily 09:00–09:30Z, Jan 4–8 2027. EXDATE names the 6th (twice, on two lines) and the 7th.
    // The 6th also has an override moving it to 14:00: a "deleted modification" — Google,
    // Outlook and Thunderbird show nothing on the 6th. The 5th's override (10:00) stands.
    let (got, _) = read("1_deleted_modification.ics", "2027-01-01", "2027-02-01");
    assert_eq!(got, spans(&[
        ("2027-01-04T09:00:00Z", "2027-01-04T09:30:00Z", "Standup"),
        ("2027-01-05T10:00:00Z", "2027-01-05T10:30:00Z", "Standup (later)"),
        ("2027-01-08T09:00:00Z", "2027-01-08T09:30:00Z", "Standup"),
    ]));
}

#[test]
fn an_all_day_override_named_by_a_date_time_replaces_its_day() {
    // All-day weekly from Thursday 2020-04-09, three times: the 9th, 16th and 23rd. Outlook names
    // the override `RECURRENCE-ID;TZID=GMT Standard Time:20200416T000000`: midnight on the
    // 16th in London — 23:00Z on the 15th, so matching by UTC instant would miss. The date it
    // names as written is the 16th: that occurrence moves to the 17th, none is left on the 16th.
    let (got, _) = read("2_all_day_override_with_time.ics", "2020-04-01", "2020-05-01");
    assert_eq!(got, spans(&[
        ("2020-04-09", "2020-04-10", "Bin day"),
        ("2020-04-17", "2020-04-18", "Bin day (Easter: a day later)"),
        ("2020-04-23", "2020-04-24", "Bin day"),
    ]));
}

#[test]
fn two_masters_of_one_uid_give_one_set_with_every_exception_once() {
    // Weekly Mondays 15:00Z from 2027-01-04, four times (4th, 11th, 18th, 25th), listed twice
    // with the same SEQUENCE: the first copy excludes the 11th, the second does not. The
    // override of the 18th (moved to 17:00) carries an RRULE of its own, which an override
    // never has a use for. One set: the 11th excluded, the 18th moved once, no duplicates.
    let (got, warnings) = read("3_two_masters.ics", "2027-01-01", "2027-02-01");
    assert_eq!(got, spans(&[
        ("2027-01-04T15:00:00Z", "2027-01-04T16:00:00Z", "Review"),
        ("2027-01-18T17:00:00Z", "2027-01-18T18:00:00Z", "Review (late)"),
        ("2027-01-25T15:00:00Z", "2027-01-25T16:00:00Z", "Review"),
    ]));
    assert!(warnings.iter().any(|w| w.contains("a later VEVENT with UID review replaces this one")), "{warnings:?}");
}

#[test]
fn this_and_future_overrides_each_apply_until_the_next() {
    // Daily 09:00–10:00Z, Jan 4–10 2027. From the 6th: +2h ("room B", 11:00). From the 8th:
    // 13:00 ("room C"). The second names its occurrence by where the first had moved it
    // (11:00 on the 8th), as Thunderbird writes; RFC 5545 would name the original 09:00. Either
    // way: the 6th and 7th at 11:00, the 8th to the 10th at 13:00, nothing left at 09:00 or
    // 11:00 on the 8th.
    let want = spans(&[
        ("2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z", "Class"),
        ("2027-01-05T09:00:00Z", "2027-01-05T10:00:00Z", "Class"),
        ("2027-01-06T11:00:00Z", "2027-01-06T12:00:00Z", "Class (room B)"),
        ("2027-01-07T11:00:00Z", "2027-01-07T12:00:00Z", "Class (room B)"),
        ("2027-01-08T13:00:00Z", "2027-01-08T14:00:00Z", "Class (room C)"),
        ("2027-01-09T13:00:00Z", "2027-01-09T14:00:00Z", "Class (room C)"),
        ("2027-01-10T13:00:00Z", "2027-01-10T14:00:00Z", "Class (room C)"),
    ]);
    let (got, _) = read("4_this_and_future_twice.ics", "2027-01-01", "2027-02-01");
    assert_eq!(got, want);
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shapes/4_this_and_future_twice.ics")).unwrap();
    let rfc_form = String::from_utf8(bytes).unwrap().replace("THISANDFUTURE:20270108T110000Z", "THISANDFUTURE:20270108T090000Z");
    assert_eq!(read_text(rfc_form.as_bytes(), "2027-01-01", "2027-02-01").0, want);
}

#[test]
fn an_invalid_count_beside_a_valid_until_is_dropped_not_the_series() {
    // Weekly on Mondays 18:00Z from Monday 2024-03-04 UNTIL 2024-03-31 (a date: through its
    // end), with COUNT=-1. The negative count is dropped with a warning; UNTIL bounds the
    // series: the 4th, 11th, 18th and 25th — not just the first.
    let (got, warnings) = read("5_invalid_count_beside_until.ics", "2024-03-01", "2024-05-01");
    let starts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(starts, ["2024-03-04T18:00:00Z", "2024-03-11T18:00:00Z", "2024-03-18T18:00:00Z", "2024-03-25T18:00:00Z"]);
    assert!(warnings.iter().any(|w| w.contains("COUNT=-1 is not a positive number; that part was ignored")), "{warnings:?}");
}

#[test]
fn several_rrules_give_the_union_of_their_occurrences() {
    // DTSTART Monday 2027-01-04 17:00Z. RRULE 1: weekly, twice (4th, 11th). RRULE 2: monthly on
    // the 4th, twice (Jan 4, Feb 4). Union, the shared Jan 4 once: Jan 4, Jan 11, Feb 4.
    let (got, _) = read("6_two_rrules.ics", "2027-01-01", "2027-03-01");
    let starts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(starts, ["2027-01-04T17:00:00Z", "2027-01-11T17:00:00Z", "2027-02-04T17:00:00Z"]);
}

#[test]
fn floating_times_follow_x_wr_timezone() {
    // Google's export: floating 09:00 with X-WR-TIMEZONE:America/New_York. The owner is in
    // UTC, but the calendar means New York: 09:00 EST = 14:00Z (RFC 5545 would read floating
    // times in the reader's zone; the apps use X-WR-TIMEZONE).
    let (got, _) = read("7_x_wr_timezone.ics", "2027-01-01", "2027-02-01");
    assert_eq!(got, spans(&[
        ("2027-01-04T14:00:00Z", "2027-01-04T14:30:00Z", "Sync call"),
        ("2027-01-11T14:00:00Z", "2027-01-11T14:30:00Z", "Sync call"),
    ]));
}

#[test]
fn an_end_before_its_start_is_the_span_between_them() {
    // DTSTART 11:00Z, DTEND 10:00Z (swapped by an editor): 10:00–11:00, with a warning —
    // not a zero-length event that blocks nothing.
    let (got, warnings) = read("8_end_before_start.ics", "2027-01-01", "2027-02-01");
    assert_eq!(got, spans(&[("2027-01-05T10:00:00Z", "2027-01-05T11:00:00Z", "Swapped")]));
    assert!(warnings.iter().any(|w| w == "line 4: DTEND is before DTSTART; read as the span between them"), "{warnings:?}");
}

#[test]
fn a_date_and_a_date_time_make_the_span_they_describe() {
    // "Offsite morning": DTSTART the date Jan 5, DTEND 12:00 Berlin (CET, UTC+1). The date is
    // midnight in the other value's zone: 00:00 Berlin = 23:00Z on the 4th, until 11:00Z.
    // "Trip": DTSTART 15:00 Berlin on the 6th (14:00Z), DTEND the date Jan 8: midnight Berlin,
    // 23:00Z on the 7th. Not one all-day day, not a zero-length event.
    let (got, warnings) = read("9_date_and_date_time.ics", "2027-01-01", "2027-02-01");
    assert_eq!(got, spans(&[
        ("2027-01-04T23:00:00Z", "2027-01-05T11:00:00Z", "Offsite morning"),
        ("2027-01-06T14:00:00Z", "2027-01-07T23:00:00Z", "Trip"),
    ]));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}

#[test]
fn what_was_right_stays_right() {
    // A DATE start without an end lasts one day (RFC 5545 3.6.1).
    let one_day = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20270105\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(read_text(one_day.as_bytes(), "2027-01-01", "2027-02-01").0, spans(&[("2027-01-05", "2027-01-06", "")]));
    // DTSTART is the first occurrence even when UNTIL is before it.
    let early_until = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20270105T090000Z\r\nDTEND:20270105T100000Z\r\nRRULE:FREQ=DAILY;UNTIL=20270101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(read_text(early_until.as_bytes(), "2027-01-01", "2027-02-01").0, spans(&[("2027-01-05T09:00:00Z", "2027-01-05T10:00:00Z", "")]));
}
