//! VTIMEZONE definitions for the IANA zones an export uses, from chrono-tz's data: every
//! offset change between two years, each as an observance with its start and RDATEs, so a
//! reader that does not know the zone's name still gets every local time right in that span.
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// One offset change: when (UTC), from and to (seconds east of UTC), and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
    dst: bool,
    name: String,
}

fn state(tz: Tz, at: DateTime<Utc>) -> (i32, bool, String) {
    let o = tz.offset_from_utc_datetime(&at.naive_utc());
    (o.fix().local_minus_utc(), !o.dst_offset().is_zero(), o.abbreviation().unwrap_or("").to_string())
}

/// The offset changes of `tz` from the start of `from_year` to the end of `to_year`.
fn changes(tz: Tz, from_year: i32, to_year: i32) -> Vec<Change> {
    let start = NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap_or_default().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = NaiveDate::from_ymd_opt(to_year + 1, 1, 1).unwrap_or_default().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let mut out = Vec::new();
    let mut at = start;
    let mut before = state(tz, at);
    // A day at a time (zones change at most a few times a year), then down to the second.
    while at < end {
        let next = at + Duration::days(1);
        let after = state(tz, next);
        if after != before {
            // Whole seconds: the first one in the new state.
            let (mut lo, mut hi) = (at.timestamp(), next.timestamp());
            let at_second = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if state(tz, at_second(mid)) == before {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            out.push(Change { at: at_second(hi), from: before.0, to: after.0, dst: after.1, name: after.2.clone() });
        }
        before = after;
        at = next;
    }
    out
}

fn offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    match s % 60 {
        0 => format!("{sign}{:02}{:02}", s / 3600, s / 60 % 60),
        r => format!("{sign}{:02}{:02}{r:02}", s / 3600, s / 60 % 60),
    }
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// The VTIMEZONE component of `tz` covering `from_year` through `to_year`, as iCalendar text.
pub fn vtimezone(tz: Tz, from_year: i32, to_year: i32) -> String {
    let mut text = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", tz.name());
    let first = NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap_or_default().and_hms_opt(0, 0, 0).unwrap_or_default();
    let (initial, dst, name) = state(tz, first.and_utc());
    let mut observances: Vec<(bool, i32, i32, String, Vec<NaiveDateTime>)> = vec![(dst, initial, initial, name, vec![first])];
    for c in changes(tz, from_year, to_year) {
        // DTSTART and RDATE are local times in the offset in force before the change.
        let wall = c.at.naive_utc() + Duration::seconds(c.from as i64);
        match observances.iter_mut().find(|o| o.0 == c.dst && o.1 == c.from && o.2 == c.to && o.3 == c.name) {
            Some(o) => o.4.push(wall),
            None => observances.push((c.dst, c.from, c.to, c.name, vec![wall])),
        }
    }
    for (dst, from, to, name, starts) in observances {
        let part = if dst { "DAYLIGHT" } else { "STANDARD" };
        text.push_str(&format!("BEGIN:{part}\r\nDTSTART:{}\r\n", local(starts[0])));
        // Four to a line: every line stays under the 75 octets iCalendar allows unfolded.
        for chunk in starts[1..].chunks(4) {
            text.push_str(&format!("RDATE:{}\r\n", chunk.iter().map(|t| local(*t)).collect::<Vec<_>>().join(",")));
        }
        text.push_str(&format!("TZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\n", offset(from), offset(to)));
        if !name.is_empty() {
            text.push_str(&format!("TZNAME:{name}\r\n"));
        }
        text.push_str(&format!("END:{part}\r\n"));
    }
    text.push_str("END:VTIMEZONE\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berlin_changes_twice_a_year_at_the_right_second() {
        let c = changes(chrono_tz::Europe::Berlin, 2026, 2026);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].at.to_rfc3339(), "2026-03-29T01:00:00+00:00");
        assert_eq!((c[0].from, c[0].to, c[0].dst, c[0].name.as_str()), (3600, 7200, true, "CEST"));
        assert_eq!(c[1].at.to_rfc3339(), "2026-10-25T01:00:00+00:00");
        let text = vtimezone(chrono_tz::Europe::Berlin, 2026, 2027);
        assert!(
            text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260329T020000\r\nRDATE:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"),
            "{text}"
        );
        assert!(text.contains("DTSTART:20261025T030000\r\nRDATE:20271031T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"), "{text}");
        let decades = vtimezone(chrono_tz::Europe::Berlin, 1996, 2036);
        assert!(decades.lines().all(|l| l.len() <= 75), "a line over 75 octets:\n{decades}");
    }

    #[test]
    fn a_zone_without_changes_has_one_observance() {
        let text = vtimezone(chrono_tz::Asia::Kolkata, 2026, 2030);
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1);
        assert!(text.contains("TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530"));
    }
}
