//! The domain's own event type, spoken by every provider adapter: series (one per external
//! event / iCal UID, with the master's fields) and instances (one per occurrence in the sync
//! window, with UTC instants or all-day dates).
use std::fmt::Write as _;
use std::sync::Arc;

use crate::busy::{Kind, Rules};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use serde::Serialize;

/// A point in time: a UTC instant, or a date for all-day events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum When {
    At(DateTime<Utc>),
    Date(NaiveDate),
}

impl When {
    pub fn is_date(&self) -> bool {
        matches!(self, When::Date(_))
    }

    /// The instant this starts at; dates are read at midnight in `tz`.
    pub fn instant(&self, tz: chrono_tz::Tz) -> DateTime<Utc> {
        match *self {
            When::At(t) => t,
            When::Date(d) => local_to_utc(tz, d.and_hms_opt(0, 0, 0).unwrap_or_default()),
        }
    }

    /// RFC 3339 in UTC ending in `Z`, or `YYYY-MM-DD`. Hand-written: this is on the hot path of
    /// `calsync ical inspect --json` and chrono's formatter dominated it.
    pub fn write(&self, out: &mut String) {
        match *self {
            When::At(t) => {
                let t = t.naive_utc();
                write_date(out, t.date());
                out.push('T');
                push2(out, t.hour());
                out.push(':');
                push2(out, t.minute());
                out.push(':');
                push2(out, t.second());
                out.push('Z');
            }
            When::Date(d) => write_date(out, d),
        }
    }

    /// Parses what `write` produces.
    pub fn parse(s: &str) -> Option<When> {
        if s.len() == 10 {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(When::Date);
        }
        DateTime::parse_from_rfc3339(s).ok().map(|t| When::At(t.with_timezone(&Utc)))
    }

    /// A range bound as people type it: a date (midnight in `tz`) or an RFC 3339 instant.
    pub fn parse_bound(value: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
        match When::parse(value.trim())? {
            When::Date(d) => Some(When::Date(d).instant(tz)),
            When::At(t) => Some(t),
        }
    }

    /// Storage form: instants as naive UTC, dates at midnight (with `all_day` telling which).
    pub fn naive(&self) -> NaiveDateTime {
        match *self {
            When::At(t) => t.naive_utc(),
            When::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
        }
    }

    pub fn from_naive(at: NaiveDateTime, all_day: bool) -> When {
        if all_day {
            When::Date(at.date())
        } else {
            When::At(at.and_utc())
        }
    }

    /// Storage form of the event tables: Unix seconds, dates at midnight UTC.
    pub fn timestamp(&self) -> i64 {
        self.naive().and_utc().timestamp()
    }

    pub fn from_timestamp(seconds: i64, all_day: bool) -> When {
        When::from_naive(DateTime::from_timestamp(seconds, 0).unwrap_or_default().naive_utc(), all_day)
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(20);
        self.write(&mut s);
        f.write_str(&s)
    }
}

impl Serialize for When {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The UTC instant of a wall-clock time in `tz`. A time in a DST gap moves forward by the gap;
/// an ambiguous one is its first occurrence (RFC 5545 §3.3.5).
pub fn local_to_utc(tz: chrono_tz::Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // In a gap: the offset before the gap applies, which moves the time forward.
            let before = tz.offset_from_utc_datetime(&(local - Duration::hours(3)));
            let offset = chrono::Offset::fix(&before).local_minus_utc();
            DateTime::from_naive_utc_and_offset(local - Duration::seconds(offset as i64), Utc)
        }
    }
}

fn push2(out: &mut String, n: u32) {
    out.push((b'0' + (n / 10) as u8) as char);
    out.push((b'0' + (n % 10) as u8) as char);
}

fn write_date(out: &mut String, d: NaiveDate) {
    let y = d.year();
    if (0..=9999).contains(&y) {
        let y = y as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        let _ = write!(out, "{y:+05}");
    }
    out.push('-');
    push2(out, d.month());
    out.push('-');
    push2(out, d.day());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Confirmed,
    Tentative,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::Tentative => "tentative",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "confirmed" => Some(Status::Confirmed),
            "tentative" => Some(Status::Tentative),
            "cancelled" | "canceled" => Some(Status::Cancelled),
            _ => None,
        }
    }
}

/// One external event: the master's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub uid: String,
    pub summary: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub organizer: Option<String>,
    pub attendees: Vec<String>,
    /// The recurrence as iCalendar lines (RRULE, RDATE, EXDATE), empty for single events.
    pub recurrence: String,
    pub tzid: Option<String>,
    pub status: Status,
    pub transparent: bool,
    pub sequence: i64,
    /// The provider's own id of the event (Google event id, Graph id); `None` for feeds,
    /// whose UID is the identity.
    pub external_id: Option<String>,
    /// The provider's version of it (Google etag, Graph changeKey).
    pub etag: Option<String>,
    /// Changes whenever anything in the source of the series (master and overrides) changes.
    pub source_hash: String,
    /// The master's own start and end (DTSTART, DTEND): what its recurrence counts from.
    /// `None` where a provider answers occurrences only (Outlook), and without a master.
    pub start: Option<When>,
    pub end: Option<When>,
}

/// One occurrence inside the sync window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub uid: Arc<str>,
    /// The original start for every instance of a recurring series; `None` for single events.
    pub recurrence_id: Option<When>,
    pub start: When,
    /// Exclusive; for all-day events the day after the last day.
    pub end: When,
    pub status: Status,
    pub transparent: bool,
    /// What kind of event it is for the calendar's owner (`crate::busy`): the calendar's
    /// rules say whether it blocks.
    pub kind: Kind,
    pub summary: Arc<str>,
    /// The IANA zone of a zoned start; `None` for UTC, floating and all-day.
    pub tzid: Option<Arc<str>>,
}

impl Instance {
    /// Whether it blocks time under `rules`.
    pub fn blocks(&self, rules: &Rules) -> bool {
        rules.blocks(self.kind, self.status == Status::Cancelled, &self.summary)
    }

    /// The key instances are matched by across syncs.
    pub fn recurrence_key(&self) -> String {
        self.recurrence_id.map(|r| r.to_string()).unwrap_or_default()
    }

    /// Changes whenever anything a user sees of the instance changes.
    pub fn version_hash(&self) -> String {
        let mut h = Fingerprint::new();
        h.add(self.start.to_string().as_bytes());
        h.add(self.end.to_string().as_bytes());
        h.add(self.status.as_str().as_bytes());
        h.add(&[self.transparent as u8]);
        h.add(self.kind.as_str().as_bytes());
        h.add(self.summary.as_bytes());
        h.add(self.tzid.as_deref().unwrap_or("").as_bytes());
        h.hex()
    }
}

/// What a provider found in the window.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub series: Vec<Series>,
    pub instances: Vec<Instance>,
}

/// A stable, fast 64-bit fingerprint of an event's parts (not a security boundary): XXH3.
#[derive(Clone)]
pub struct Fingerprint(xxhash_rust::xxh3::Xxh3);

impl Fingerprint {
    pub fn new() -> Self {
        Fingerprint(xxhash_rust::xxh3::Xxh3::new())
    }

    pub fn add(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
        // The length ends each part, so ("ab","c") and ("a","bc") differ.
        self.0.update(&(bytes.len() as u64).to_le_bytes());
    }

    pub fn value(&self) -> u64 {
        self.0.digest()
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.value())
    }
}

impl Default for Fingerprint {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_parts_apart() {
        let of = |parts: &[&str]| {
            let mut f = Fingerprint::new();
            parts.iter().for_each(|p| f.add(p.as_bytes()));
            f.value()
        };
        assert_ne!(of(&["ab", "c"]), of(&["a", "bc"]));
        assert_ne!(of(&["abcdefgh"]), of(&["abcdefgh\0"]));
        assert_eq!(of(&["same", "parts"]), of(&["same", "parts"]));
    }

    #[test]
    fn when_round_trips() {
        for s in ["2024-03-10T07:30:00Z", "2024-03-10", "0999-01-02T00:00:00Z"] {
            assert_eq!(When::parse(s).unwrap().to_string(), s);
        }
        let t = When::parse("2024-03-10T08:30:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2024-03-10T07:30:00Z");
        assert_eq!(t.to_string(), t.naive().and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
}
