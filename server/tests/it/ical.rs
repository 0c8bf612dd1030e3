//! The feed reader and recurrence expansion, against fixtures and RFC 5545's own examples.
//! Expected instances are written down by hand from the RFC and the feeds.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use server::events::Instance;
use server::ical::{self, Options};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/icalendar-tests")
}

fn at(s: &str) -> DateTime<Utc> {
    if s.len() == 10 {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    }
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn expand_in(text: &[u8], from: &str, to: &str, tz: chrono_tz::Tz) -> (Vec<Instance>, Vec<String>) {
    let mut cal = ical::parse(text).expect("readable");
    let out = ical::expand(&mut cal, Options { from: at(from), to: at(to), floating: tz, max_instances: 100_000 });
    (out.instances, out.warnings.iter().map(|w| w.to_string()).collect())
}

fn expand(text: &str, from: &str, to: &str) -> Vec<Instance> {
    expand_in(text.as_bytes(), from, to, chrono_tz::UTC).0
}

fn starts(instances: &[Instance]) -> Vec<String> {
    instances.iter().map(|i| i.start.to_string()).collect()
}

fn feed(events: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync tests//EN\r\n{}END:VCALENDAR\r\n", events.replace('\n', "\r\n"))
}

/// The fixtures that end inside a component (checked by hand: each stops after a BEGIN whose
/// END never comes).
const CUT_OFF_FIXTURES: &[&str] = &["big_bad_calendar.ics", "pr_480_summary_with_colon.ics", "small_bad_calendar.ics"];

#[test]
fn every_fixture_yields_events_or_a_specific_error_quickly() {
    let mut files = Vec::new();
    for dir in ["calendars", "events", "timezones"] {
        for entry in std::fs::read_dir(fixtures().join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    assert!(files.len() > 150, "the fixtures are in place");
    let mut with_events = 0;
    let mut cut_off = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let started = Instant::now();
        match ical::parse(&bytes) {
            Ok(mut cal) => {
                let out = ical::expand(&mut cal, Options { from: at("1990-01-01"), to: at("2040-01-01"), floating: chrono_tz::UTC, max_instances: 100_000 });
                if !out.instances.is_empty() {
                    with_events += 1;
                }
            }
            Err(e) if e.cut_off => cut_off.push(path.file_name().unwrap().to_string_lossy().into_owned()),
            Err(e) => assert!(e.message.starts_with("not an iCalendar feed") || e.message.contains("empty"), "{}: {}", path.display(), e.message),
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{} took {:?}", path.display(), started.elapsed());
    }
    assert!(with_events > 60, "{with_events} files had events");
    // Files that stop inside a component are cut off by design.
    cut_off.sort();
    assert_eq!(cut_off, CUT_OFF_FIXTURES);
}

#[test]
fn exdates_on_several_lines_in_vienna() {
    // Weekly on Tuesday 10:00 Vienna (CEST, UTC+2) from 2012-03-27 until 2012-07-03 08:00Z;
    // five Tuesdays are excluded: 04-03, 04-10, 04-17, 05-01, 05-29.
    let bytes = std::fs::read(fixtures().join("events/event_with_recurrence_exdates_on_different_lines.ics")).unwrap();
    let (got, _) = expand_in(&bytes, "2012-01-01", "2013-01-01", chrono_tz::UTC);
    let want: Vec<String> =
        ["03-27", "04-24", "05-08", "05-15", "05-22", "06-05", "06-12", "06-19", "06-26", "07-03"].iter().map(|d| format!("2012-{d}T08:00:00Z")).collect();
    assert_eq!(starts(&got), want);
    assert!(got.iter().all(|i| i.end == server::events::When::At(at(&i.start.to_string()) + chrono::Duration::hours(8))));
    assert!(got.iter().all(|i| i.tzid.as_deref() == Some("Europe/Vienna") && i.recurrence_id == Some(i.start)));
}

#[test]
fn rdate_periods_set_their_own_ends() {
    let bytes = std::fs::read(fixtures().join("events/issue_156_RDATE_with_PERIOD_list.ics")).unwrap();
    let (got, _) = expand_in(&bytes, "1996-01-01", "1998-01-01", chrono_tz::UTC);
    let spans: Vec<(String, String)> = got.iter().map(|i| (i.start.to_string(), i.end.to_string())).collect();
    assert_eq!(
        spans,
        vec![
            ("1996-12-30T02:00:00Z".into(), "1996-12-30T06:00:00Z".into()),
            ("1997-01-01T18:00:00Z".into(), "1997-01-02T07:00:00Z".into()),
            ("1997-01-09T18:00:00Z".into(), "1997-01-09T23:30:00Z".into()),
        ]
    );
}

#[test]
fn a_custom_vtimezone_is_followed() {
    // TZID=custom_America/New_York, defined by its VTIMEZONE: 08:00 EDT on 2014-08-29 = 12:00Z.
    let bytes = std::fs::read(fixtures().join("calendars/america_new_york.ics")).unwrap();
    let (got, _) = expand_in(&bytes, "2014-01-01", "2015-01-01", chrono_tz::UTC);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].start.to_string(), got[0].end.to_string()), ("2014-08-29T12:00:00Z".into(), "2014-08-29T14:00:00Z".into()));
    assert_eq!(got[0].recurrence_id, None);
}

#[test]
fn rfc_5545_examples() {
    // "Every other week on Tuesday and Thursday, for 8 occurrences" (RFC 5545 §3.8.5.3).
    let got = expand(
        &feed("BEGIN:VEVENT\nUID:a\nDTSTART;TZID=America/New_York:19970902T090000\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH\nEND:VEVENT\n"),
        "1997-01-01",
        "1998-01-01",
    );
    let days = ["09-02", "09-04", "09-16", "09-18", "09-30", "10-02", "10-14", "10-16"];
    assert_eq!(starts(&got), days.iter().map(|d| format!("1997-{d}T13:00:00Z")).collect::<Vec<_>>());

    // "Daily until December 24, 1997": 113 days, 9:00 local across the end of DST on Oct 26.
    let got = expand(
        &feed("BEGIN:VEVENT\nUID:b\nDTSTART;TZID=America/New_York:19970902T090000\nRRULE:FREQ=DAILY;UNTIL=19971224T000000Z\nEND:VEVENT\n"),
        "1997-01-01",
        "1998-01-01",
    );
    assert_eq!(got.len(), 113);
    assert_eq!(got[0].start.to_string(), "1997-09-02T13:00:00Z");
    assert_eq!(got[53].start.to_string(), "1997-10-25T13:00:00Z");
    assert_eq!(got[54].start.to_string(), "1997-10-26T14:00:00Z");
    assert_eq!(got[112].start.to_string(), "1997-12-23T14:00:00Z");

    // "Monthly on the first Friday for 10 occurrences".
    let got = expand(
        &feed("BEGIN:VEVENT\nUID:c\nDTSTART;TZID=America/New_York:19970905T090000\nRRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR\nEND:VEVENT\n"),
        "1997-01-01",
        "1999-01-01",
    );
    let want = [
        "1997-09-05T13:00:00Z",
        "1997-10-03T13:00:00Z",
        "1997-11-07T14:00:00Z",
        "1997-12-05T14:00:00Z",
        "1998-01-02T14:00:00Z",
        "1998-02-06T14:00:00Z",
        "1998-03-06T14:00:00Z",
        "1998-04-03T14:00:00Z",
        "1998-05-01T13:00:00Z",
        "1998-06-05T13:00:00Z",
    ];
    assert_eq!(starts(&got), want);
}

/// Mondays 09:00 Berlin (CET, 08:00Z) from 2026-01-05, eight of them, with every kind of
/// exception.
const SERIES: &str = "BEGIN:VEVENT
UID:weekly@example.com
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T100000
RRULE:FREQ=WEEKLY;COUNT=8
EXDATE;TZID=Europe/Berlin:20260112T090000,20260119T090000
SUMMARY:Weekly
END:VEVENT
BEGIN:VEVENT
UID:weekly@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260126T090000
DTSTART;TZID=Europe/Berlin:20260127T140000
DTEND;TZID=Europe/Berlin:20260127T153000
SUMMARY:Weekly (moved)
END:VEVENT
BEGIN:VEVENT
UID:weekly@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260202T090000
DTSTART;TZID=Europe/Berlin:20260202T090000
DTEND;TZID=Europe/Berlin:20260202T100000
STATUS:CANCELLED
SUMMARY:Weekly
END:VEVENT
BEGIN:VEVENT
UID:weekly@example.com
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260209T090000
DTSTART;TZID=Europe/Berlin:20260209T110000
DTEND;TZID=Europe/Berlin:20260209T113000
SUMMARY:Weekly (later, shorter)
END:VEVENT
BEGIN:VEVENT
UID:weekly@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20260310T090000
DTSTART;TZID=Europe/Berlin:20260311T090000
DTEND;TZID=Europe/Berlin:20260311T100000
SUMMARY:Weekly (orphan override)
END:VEVENT
";

#[test]
fn exdates_overrides_cancellations_and_this_and_future() {
    let got = expand(&feed(SERIES), "2026-01-01", "2026-04-01");
    let rows: Vec<(String, String, String, &str, bool, &str)> = got
        .iter()
        .map(|i| (i.recurrence_key(), i.start.to_string(), i.end.to_string(), i.status.as_str(), i.blocks(&server::busy::Rules::default()), &*i.summary))
        .collect();
    let row = |rid: &str, s: &str, e: &str, status: &'static str, busy: bool, summary: &'static str| {
        (rid.to_owned(), s.to_owned(), e.to_owned(), status, busy, summary)
    };
    assert_eq!(
        rows,
        vec![
            row("2026-01-05T08:00:00Z", "2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z", "confirmed", true, "Weekly"),
            // 01-12 and 01-19 excluded (one EXDATE line, two values).
            row("2026-01-26T08:00:00Z", "2026-01-27T13:00:00Z", "2026-01-27T14:30:00Z", "confirmed", true, "Weekly (moved)"),
            row("2026-02-02T08:00:00Z", "2026-02-02T08:00:00Z", "2026-02-02T09:00:00Z", "cancelled", false, "Weekly"),
            // From 02-09 on: two hours later and 30 minutes long.
            row("2026-02-09T08:00:00Z", "2026-02-09T10:00:00Z", "2026-02-09T10:30:00Z", "confirmed", true, "Weekly (later, shorter)"),
            row("2026-02-16T08:00:00Z", "2026-02-16T10:00:00Z", "2026-02-16T10:30:00Z", "confirmed", true, "Weekly (later, shorter)"),
            row("2026-02-23T08:00:00Z", "2026-02-23T10:00:00Z", "2026-02-23T10:30:00Z", "confirmed", true, "Weekly (later, shorter)"),
            // An override whose RECURRENCE-ID matches no instance is still an event.
            row("2026-03-10T08:00:00Z", "2026-03-11T08:00:00Z", "2026-03-11T09:00:00Z", "confirmed", true, "Weekly (orphan override)"),
        ]
    );
}

#[test]
fn all_day_floating_windows_zones_free_and_cancelled() {
    let text = feed(
        "BEGIN:VEVENT\nUID:holiday\nDTSTART;VALUE=DATE:20260310\nDTEND;VALUE=DATE:20260312\nSUMMARY:Away\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:birthday\nDTSTART;VALUE=DATE:20200315\nRRULE:FREQ=YEARLY\nEXDATE;VALUE=DATE:20250315\nSUMMARY:Birthday\nTRANSP:TRANSPARENT\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:floating\nDTSTART:20260310T090000\nDURATION:PT45M\nSUMMARY:Floating\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:outlook\nDTSTART;TZID=\"W. Europe Standard Time\":20260310T090000\nDTEND;TZID=\"W. Europe Standard Time\":20260310T093000\nSUMMARY:Outlook\nEND:VEVENT\n\
         BEGIN:VEVENT\nUID:off\nDTSTART:20260311T120000Z\nDTEND:20260311T130000Z\nSTATUS:CANCELLED\nEND:VEVENT\n",
    );
    let (got, warnings) = expand_in(text.as_bytes(), "2024-01-01", "2027-01-01", chrono_tz::America::New_York);
    assert!(warnings.is_empty(), "{warnings:?}");
    let find = |uid: &str| got.iter().filter(|i| &*i.uid == uid).collect::<Vec<_>>();

    let holiday = find("holiday");
    assert_eq!((holiday[0].start.to_string(), holiday[0].end.to_string()), ("2026-03-10".into(), "2026-03-12".into()));
    assert_eq!((holiday[0].tzid.as_deref(), holiday[0].recurrence_id, holiday[0].blocks(&server::busy::Rules::default())), (None, None, true));

    // Yearly all-day, 2025 excluded; one day long; transparent, so free.
    let birthdays: Vec<String> = find("birthday").iter().map(|i| format!("{}/{}/{}", i.start, i.end, i.blocks(&server::busy::Rules::default()))).collect();
    assert_eq!(birthdays, vec!["2024-03-15/2024-03-16/false", "2026-03-15/2026-03-16/false"]);

    // Floating 09:00 read in New York (EDT from 2026-03-08): 13:00Z, 45 minutes.
    let floating = find("floating");
    assert_eq!((floating[0].start.to_string(), floating[0].end.to_string()), ("2026-03-10T13:00:00Z".into(), "2026-03-10T13:45:00Z".into()));
    assert_eq!(floating[0].tzid.as_deref(), None);

    // Outlook's Windows zone name is Berlin.
    let outlook = find("outlook");
    assert_eq!(outlook[0].start.to_string(), "2026-03-10T08:00:00Z");
    assert_eq!(outlook[0].tzid.as_deref(), Some("Europe/Berlin"));

    let off = find("off");
    assert_eq!((off[0].status.as_str(), off[0].blocks(&server::busy::Rules::default()), &*off[0].summary), ("cancelled", false, ""));
}

#[test]
fn line_endings_case_folding_and_bom_do_not_matter() {
    let crlf = feed(SERIES);
    let lf = crlf.replace("\r\n", "\n");
    let cr = crlf.replace("\r\n", "\r");
    let mut lower = String::from("\u{feff}");
    for line in lf.lines() {
        // Lower-case property names, and every long line folded.
        let (name, rest) = line.split_once([':', ';']).unwrap();
        let sep = &line[name.len()..name.len() + 1];
        let folded: String = format!("{}{sep}{rest}", name.to_lowercase())
            .chars()
            .collect::<Vec<_>>()
            .chunks(20)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("\n ");
        lower.push_str(&folded);
        lower.push('\n');
    }
    let want = expand(&crlf, "2026-01-01", "2026-04-01");
    assert_eq!(want.len(), 7);
    for text in [lf, cr, lower] {
        assert_eq!(expand(&text, "2026-01-01", "2026-04-01"), want);
    }
}

#[test]
fn broken_lines_and_components_are_skipped_with_their_line() {
    let text = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:good\nDTSTART:20260310T090000Z\nthis line is broken\nSUMMARY:Fine\nEND:VEVENT\n\
                BEGIN:VEVENT\nUID:bad\nDTSTART:2026-03-10\nEND:VEVENT\n\
                BEGIN:VEVENT\nUID:unclosed\nDTSTART:20260310T100000Z\n\
                BEGIN:VEVENT\nUID:also-good\nDTSTART:20260311T090000Z\nSUMMARY:Caf\u{e9}\nEND:VEVENT\nEND:VCALENDAR\n";
    let mut bytes = text.as_bytes().to_vec();
    // An invalid UTF-8 byte in the last summary.
    let at_e = bytes.windows(2).position(|w| w == "\u{e9}".as_bytes()).unwrap();
    bytes.splice(at_e..at_e + 2, [0xE9]);
    let (got, warnings) = expand_in(&bytes, "2026-01-01", "2027-01-01", chrono_tz::UTC);
    assert_eq!(got.iter().map(|i| &*i.uid).collect::<Vec<_>>(), vec!["good", "also-good"]);
    assert_eq!(&*got[1].summary, "Caf\u{fffd}");
    let joined = warnings.join("\n");
    for expected in
        ["line 6: expected NAME:VALUE", "line 11: DTSTART \"2026-03-10\" is not a date", "line 13: BEGIN:VEVENT is never closed", "line 19: invalid UTF-8"]
    {
        assert!(joined.contains(expected), "missing {expected:?} in:\n{joined}");
    }
}

#[test]
fn expansion_is_bounded() {
    let text = feed("BEGIN:VEVENT\nUID:forever\nDTSTART:20000101T090000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\n");
    let mut cal = ical::parse(text.as_bytes()).unwrap();
    let out = ical::expand(&mut cal, Options { from: at("2026-01-01"), to: at("2030-01-01"), floating: chrono_tz::UTC, max_instances: 100 });
    assert_eq!(out.instances.len(), 100);
    assert_eq!(out.instances[0].start.to_string(), "2026-01-01T09:00:00Z");
    // A window far from DTSTART still starts at the window, not at 2000.
    let got = expand(&text, "2026-06-01", "2026-06-03");
    assert_eq!(starts(&got), vec!["2026-06-01T09:00:00Z", "2026-06-02T09:00:00Z"]);
}

#[test]
fn not_a_calendar_says_so() {
    let err = ical::parse(b"<!doctype html><html><body>Sign in</body></html>").err().unwrap();
    assert!(err.message.contains("HTML"), "{}", err.message);
    let err = ical::parse(b"").err().unwrap();
    assert_eq!(err.message, "the feed is empty");
}

/// Five one-hour events on consecutive days, as a feed.
fn five_events() -> String {
    let events: String =
        (1..=5).map(|d| format!("BEGIN:VEVENT\nUID:e{d}\nDTSTART:2027010{d}T090000Z\nDTEND:2027010{d}T100000Z\nSUMMARY:Event {d}\nEND:VEVENT\n")).collect();
    feed(&events)
}

#[test]
fn a_feed_cut_anywhere_before_its_end_is_an_error_that_names_the_last_line() {
    let full = five_events();
    assert_eq!(ical::parse(full.as_bytes()).unwrap().events.len(), 5);
    let end = full.rfind("END:VCALENDAR").unwrap();
    // Every cut inside the body: at line breaks, inside lines, after a component's END.
    // (Before "BEGIN:VCALENDAR" is whole, it is no iCalendar feed at all.)
    for cut in ("BEGIN:VCALENDAR".len()..end).filter(|&n| full.is_char_boundary(n)) {
        let part = &full[..cut];
        let err = match ical::parse(part.as_bytes()) {
            Err(e) => e,
            Ok(cal) => panic!("cut at byte {cut} read as complete ({} events): {part:?}", cal.events.len()),
        };
        assert!(err.cut_off, "cut at {cut}: {}", err.message);
        let last = part.trim_end().lines().count();
        assert_eq!(err.message, format!("The feed ended early (line {last}) — it looks cut off in transfer."), "cut at {cut}");
    }
    // Cut inside the closing line itself: every event arrived, nothing is lost.
    let cut = &full[..end + "END:VCAL".len()];
    assert_eq!(ical::parse(cut.as_bytes()).unwrap().events.len(), 5);
}

#[test]
fn a_broken_component_in_the_middle_of_a_complete_feed_is_still_skipped() {
    let text = feed("BEGIN:VEVENT\nUID:a\nDTSTART:20270101T090000Z\nSUMMARY:cut\nBEGIN:VEVENT\nUID:b\nDTSTART:20270102T090000Z\nEND:VEVENT\n");
    let (instances, warnings) = expand_in(text.as_bytes(), "2027-01-01", "2027-02-01", chrono_tz::UTC);
    assert_eq!(starts(&instances), ["2027-01-02T09:00:00Z"]);
    assert!(warnings.iter().any(|w| w.contains("BEGIN:VEVENT is never closed")), "{warnings:?}");
}

#[test]
fn past_the_instance_limit_every_event_still_has_its_series() {
    // A series missing from a snapshot would be deleted: the limit may stop the instances,
    // never the series.
    let mut cal = ical::parse(five_events().as_bytes()).unwrap();
    let out = ical::expand(&mut cal, Options { from: at("2027-01-01"), to: at("2027-02-01"), floating: chrono_tz::UTC, max_instances: 2 });
    assert_eq!(out.series.len(), 5);
    assert_eq!(out.instances.len(), 2);
    assert_eq!(out.warnings.iter().filter(|w| w.message.starts_with("stopped after 2 instances")).count(), 1);
}
