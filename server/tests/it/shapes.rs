//! Recurrence shapes that real feeds contain, read as calendar apps show them. Each fixture in
//! `tests/data/shapes/` is small and written for this test; the expected instances below are
//! worked out by hand, with the reasoning beside them. Where RFC 5545 and the apps differ, the
//! apps win and the comment says so. Every fixture is also read by an independent expander,
//! Python's icalendar + recurring-ical-events (the last test), which must give the same instances.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    assert_eq!(
        got,
        spans(&[
            ("2027-01-04T09:00:00Z", "2027-01-04T09:30:00Z", "Standup"),
            ("2027-01-05T10:00:00Z", "2027-01-05T10:30:00Z", "Standup (later)"),
            ("2027-01-08T09:00:00Z", "2027-01-08T09:30:00Z", "Standup"),
        ])
    );
}

#[test]
fn an_all_day_override_named_by_a_date_time_replaces_its_day() {
    // All-day weekly from Thursday 2020-04-09, three times: the 9th, 16th and 23rd. Outlook names
    // the override `RECURRENCE-ID;TZID=GMT Standard Time:20200416T000000`: midnight on the
    // 16th in London — 23:00Z on the 15th, so matching by UTC instant would miss. The date it
    // names as written is the 16th: that occurrence moves to the 17th, none is left on the 16th.
    let (got, _) = read("2_all_day_override_with_time.ics", "2020-04-01", "2020-05-01");
    assert_eq!(
        got,
        spans(&[
            ("2020-04-09", "2020-04-10", "Bin day"),
            ("2020-04-17", "2020-04-18", "Bin day (Easter: a day later)"),
            ("2020-04-23", "2020-04-24", "Bin day"),
        ])
    );
}

#[test]
fn two_masters_of_one_uid_give_one_set_with_every_exception_once() {
    // Weekly Mondays 15:00Z from 2027-01-04, four times (4th, 11th, 18th, 25th), listed twice
    // with the same SEQUENCE: the first copy excludes the 11th, the second does not. The
    // override of the 18th (moved to 17:00) carries an RRULE of its own, which an override
    // never has a use for. One set: the 11th excluded, the 18th moved once, no duplicates.
    let (got, warnings) = read("3_two_masters.ics", "2027-01-01", "2027-02-01");
    assert_eq!(
        got,
        spans(&[
            ("2027-01-04T15:00:00Z", "2027-01-04T16:00:00Z", "Review"),
            ("2027-01-18T17:00:00Z", "2027-01-18T18:00:00Z", "Review (late)"),
            ("2027-01-25T15:00:00Z", "2027-01-25T16:00:00Z", "Review"),
        ])
    );
    assert!(warnings.iter().any(|w| w.contains("a later VEVENT with UID review replaces this one")), "{warnings:?}");
}

#[test]
fn this_and_future_overrides_each_apply_until_the_next() {
    // Daily 09:00–10:00Z, Jan 4–10 2027. From the 6th: +2h ("room B", 11:00). From the 8th,
    // named as RFC 5545 names an occurrence, by its time as the rule made it (09:00): 13:00
    // ("room C"), +4h. The 6th and 7th at 11:00, the 8th to the 10th at 13:00, nothing left at
    // 09:00 or 11:00 on the 8th. (Named by where room B had moved it, 11:00 on the 8th, the
    // second override names no occurrence: `an_override_naming_no_occurrence_…` below.)
    let (got, _) = read("4_this_and_future_twice.ics", "2027-01-01", "2027-02-01");
    assert_eq!(
        got,
        spans(&[
            ("2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z", "Class"),
            ("2027-01-05T09:00:00Z", "2027-01-05T10:00:00Z", "Class"),
            ("2027-01-06T11:00:00Z", "2027-01-06T12:00:00Z", "Class (room B)"),
            ("2027-01-07T11:00:00Z", "2027-01-07T12:00:00Z", "Class (room B)"),
            ("2027-01-08T13:00:00Z", "2027-01-08T14:00:00Z", "Class (room C)"),
            ("2027-01-09T13:00:00Z", "2027-01-09T14:00:00Z", "Class (room C)"),
            ("2027-01-10T13:00:00Z", "2027-01-10T14:00:00Z", "Class (room C)"),
        ])
    );
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
    assert_eq!(got, spans(&[("2027-01-04T14:00:00Z", "2027-01-04T14:30:00Z", "Sync call"), ("2027-01-11T14:00:00Z", "2027-01-11T14:30:00Z", "Sync call"),]));
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
    assert_eq!(got, spans(&[("2027-01-04T23:00:00Z", "2027-01-05T11:00:00Z", "Offsite morning"), ("2027-01-06T14:00:00Z", "2027-01-07T23:00:00Z", "Trip"),]));
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

#[test]
fn a_date_with_a_duration_of_hours_lasts_those_hours_from_its_midnight() {
    // "Dentist": DTSTART the date Jan 5, DURATION:PT2H. RFC 5545 gives a date's DURATION in
    // whole days; calendar apps and other expanders (recurring-ical-events) read hours as that
    // long from the date's midnight, a floating time (the owner is in UTC here): 00:00–02:00,
    // with a warning — not the whole day. "Retreat": weekly from the date Jan 11 for
    // P1DT12H, three times, the 18th excluded by a date: Jan 11 00:00 to Jan 12 12:00 and
    // Jan 25 to 26. "Offsite", P2D, is whole days and stays an all-day event.
    let (got, warnings) = read("10_date_with_hours.ics", "2027-01-01", "2027-02-01");
    assert_eq!(
        got,
        spans(&[
            ("2027-01-05T00:00:00Z", "2027-01-05T02:00:00Z", "Dentist"),
            ("2027-01-07", "2027-01-09", "Offsite"),
            ("2027-01-11T00:00:00Z", "2027-01-12T12:00:00Z", "Retreat"),
            ("2027-01-25T00:00:00Z", "2027-01-26T12:00:00Z", "Retreat"),
        ])
    );
    let said = "DTSTART is a date but DURATION is not a whole number of days; read as that long from midnight of that date";
    assert_eq!(warnings, [format!("line 7: {said}"), format!("line 19: {said}")]);
}

#[test]
fn an_override_naming_no_occurrence_stands_beside_the_others() {
    // Daily 09:00–10:00Z, Jan 4–10 2027. The 5th starts at 09:30 (a plain override); from the
    // 6th, room B at 11:00 (RANGE=THISANDFUTURE, +2h). Room C's RANGE=THISANDFUTURE override
    // names 11:00 on the 8th — where room B had moved that day, but no occurrence of the rule:
    // RFC 5545 3.8.4.4 names an instance by its time "as originally scheduled", 09:00. So it
    // replaces nothing: the 8th stays room B's at 11:00, and room C is an event of its own at
    // 13:00. From the instant it names, later occurrences move by its own difference
    // (11:00 → 13:00, +2h): the 9th and 10th at 11:00 with room C's fields. The other overrides
    // still apply. recurring-ical-events reads it so; calsync used to guess the 8th was meant
    // and put the 8th to the 10th at 13:00.
    let (got, _) = read("11_orphan_this_and_future.ics", "2027-01-01", "2027-02-01");
    assert_eq!(
        got,
        spans(&[
            ("2027-01-04T09:00:00Z", "2027-01-04T10:00:00Z", "Class"),
            ("2027-01-05T09:30:00Z", "2027-01-05T10:30:00Z", "Class (late start)"),
            ("2027-01-06T11:00:00Z", "2027-01-06T12:00:00Z", "Class (room B)"),
            ("2027-01-07T11:00:00Z", "2027-01-07T12:00:00Z", "Class (room B)"),
            ("2027-01-08T11:00:00Z", "2027-01-08T12:00:00Z", "Class (room B)"),
            ("2027-01-08T13:00:00Z", "2027-01-08T14:00:00Z", "Class (room C)"),
            ("2027-01-09T11:00:00Z", "2027-01-09T12:00:00Z", "Class (room C)"),
            ("2027-01-10T11:00:00Z", "2027-01-10T12:00:00Z", "Class (room C)"),
        ])
    );
}

#[test]
fn this_and_future_overrides_move_by_their_own_difference_on_the_wall_clock() {
    // Choir, Mondays 19:00–21:00 Berlin from 2027-03-01, seven times (to Apr 12). From Mar 15:
    // an hour later (20:00 CET, 19:00Z). From Mar 22: a week on, to Mar 29 19:00, 90 minutes
    // long — a different move than its neighbour's. Berlin goes to summer time on Mar 28, so
    // that week is 167 hours; RFC 5545 repeats in local time, and the later occurrences are
    // "rescheduled by the same time difference": a week on the wall clock, at 19:00 CEST
    // (17:00Z), not 18:00 CEST. Mar 29's occurrence goes to Apr 5, Apr 5's to Apr 12, Apr 12's
    // to Apr 19. recurring-ical-events reads it so.
    let (got, _) = read("12_this_and_future_across_dst.ics", "2027-03-01", "2027-05-01");
    assert_eq!(
        got,
        spans(&[
            ("2027-03-01T18:00:00Z", "2027-03-01T20:00:00Z", "Choir"),
            ("2027-03-08T18:00:00Z", "2027-03-08T20:00:00Z", "Choir"),
            ("2027-03-15T19:00:00Z", "2027-03-15T21:00:00Z", "Choir (an hour later)"),
            ("2027-03-29T17:00:00Z", "2027-03-29T18:30:00Z", "Choir (a week on)"),
            ("2027-04-05T17:00:00Z", "2027-04-05T18:30:00Z", "Choir (a week on)"),
            ("2027-04-12T17:00:00Z", "2027-04-12T18:30:00Z", "Choir (a week on)"),
            ("2027-04-19T17:00:00Z", "2027-04-19T18:30:00Z", "Choir (a week on)"),
        ])
    );
    // A window after the last occurrence the rule makes (Apr 12) still has the one moved into it.
    let (late, _) = read("12_this_and_future_across_dst.ics", "2027-04-15", "2027-05-01");
    assert_eq!(late, spans(&[("2027-04-19T17:00:00Z", "2027-04-19T18:30:00Z", "Choir (a week on)")]));
}

/// The Python with the independent expander: CALSYNC_PYTHON (scripts/test.sh sets it), else
/// target/pyenv's (scripts/setup.sh --test makes it).
fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CALSYNC_PYTHON") {
        return Some(PathBuf::from(p));
    }
    Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/python")).filter(|p| p.exists())
}

#[test]
fn every_shape_reads_as_an_independent_expander_reads_it() {
    // scripts/ics_instances.py: Python's icalendar + recurring-ical-events, instants in UTC
    // (floating ones read as UTC, as the owner here), dates as dates.
    let Some(python) = python() else {
        eprintln!("no Python with recurring-ical-events (CALSYNC_PYTHON, target/pyenv): comparison skipped");
        return;
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("../scripts/ics_instances.py");
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest.join("tests/data/shapes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ics"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let (mut ours, _) = read_text(&bytes, "2019-01-01", "2028-01-01");
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["2019-01-01T00:00:00Z", "2028-01-01T00:00:00Z"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        let field = |o: &serde_json::Value, k: &str| o[k].as_str().unwrap_or_default().to_owned();
        let mut theirs: Vec<(String, String, String)> = listed.iter().map(|o| (field(o, "start"), field(o, "end"), field(o, "summary"))).collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}: calsync (left) and recurring-ical-events (right) differ", path.display());
    }
}
