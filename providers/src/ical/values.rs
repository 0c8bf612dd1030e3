//! Typed property values: DATE, DATE-TIME, DURATION, PERIOD and TEXT.
use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// A DATE or DATE-TIME value as written, before any time zone is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeValue {
    Date(NaiveDate),
    Utc(NaiveDateTime),
    /// Local time with a TZID parameter (the zone is resolved later).
    Zoned(NaiveDateTime, String),
    /// Local time without a zone: the reader's wall clock.
    Floating(NaiveDateTime),
}

impl TimeValue {
    pub fn is_date(&self) -> bool {
        matches!(self, TimeValue::Date(_))
    }

    /// The wall-clock time as written (a date at midnight).
    pub fn wall(&self) -> chrono::NaiveDateTime {
        match self {
            TimeValue::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            TimeValue::Utc(t) | TimeValue::Zoned(t, _) | TimeValue::Floating(t) => *t,
        }
    }

    /// The same kind of value (UTC, zoned, floating) at another wall-clock time; a date
    /// becomes that day.
    pub fn with_wall(&self, wall: chrono::NaiveDateTime) -> TimeValue {
        match self {
            TimeValue::Date(_) => TimeValue::Date(wall.date()),
            TimeValue::Utc(_) => TimeValue::Utc(wall),
            TimeValue::Zoned(_, tzid) => TimeValue::Zoned(wall, tzid.clone()),
            TimeValue::Floating(_) => TimeValue::Floating(wall),
        }
    }
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(&s[0..4])?, digits(&s[4..6])?, digits(&s[6..8])?)
}

/// `YYYYMMDDTHHMMSS` with an optional trailing `Z`; returns the time and whether it is UTC.
pub fn parse_date_time(s: &str) -> Option<(NaiveDateTime, bool)> {
    let (s, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    if s.len() != 15 || !matches!(s.as_bytes()[8], b'T' | b't') {
        return None;
    }
    let date = parse_date(&s[..8])?;
    let (h, m, sec): (u32, u32, u32) = (digits(&s[9..11])?, digits(&s[11..13])?, digits(&s[13..15])?);
    // A leap second (60) is read as the last second of the minute.
    let time = NaiveTime::from_hms_opt(h, m, sec.min(59))?;
    Some((date.and_time(time), utc))
}

/// Reads one DATE or DATE-TIME value; `value_type` is the VALUE parameter, `tzid` the TZID one.
pub fn parse_time_value(raw: &str, value_type: Option<&str>, tzid: Option<&str>) -> Option<TimeValue> {
    let raw = raw.trim();
    let is_date = value_type.is_some_and(|v| v.eq_ignore_ascii_case("DATE")) || raw.len() == 8;
    if is_date {
        return parse_date(raw).map(TimeValue::Date);
    }
    let (at, utc) = parse_date_time(raw)?;
    Some(match (utc, tzid) {
        (true, _) => TimeValue::Utc(at),
        (false, Some(z)) if !z.trim().is_empty() => TimeValue::Zoned(at, z.trim().to_owned()),
        (false, _) => TimeValue::Floating(at),
    })
}

/// RFC 5545 DURATION: `[+-]P(nW | nD[T[nH][nM][nS]] | T…)`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' if number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                // Checked: a fuzzed "P99999999999W" must not overflow.
                let part = match (unit, in_time) {
                    ('W', false) => Duration::try_weeks(n),
                    ('D', false) => Duration::try_days(n),
                    ('H', true) => Duration::try_hours(n),
                    ('M', true) => Duration::try_minutes(n),
                    ('S', true) => Duration::try_seconds(n),
                    _ => return None,
                }?;
                total = total.checked_add(&part)?;
            }
        }
    }
    (any && number.is_empty()).then_some(total * sign)
}

/// TEXT with its escapes (`\\ \; \, \n \N`) undone.
pub fn unescape_text(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("P1W"), Some(Duration::weeks(1)));
        assert_eq!(parse_duration("-P1DT2H"), Some(-Duration::hours(26)));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT1X"), None);
        assert_eq!(parse_duration("1H"), None);
        assert_eq!(parse_duration("P99999999999999W"), None);
    }

    #[test]
    fn times() {
        let v = parse_time_value("20240310T020000", None, Some("America/New_York")).unwrap();
        assert!(matches!(v, TimeValue::Zoned(_, ref z) if z == "America/New_York"));
        assert!(matches!(parse_time_value("20240101", None, None), Some(TimeValue::Date(_))));
        assert!(matches!(parse_time_value("20240101T000000Z", None, Some("X")), Some(TimeValue::Utc(_))));
        assert_eq!(parse_time_value("20241301T000000", None, None), None);
        assert_eq!(parse_time_value("2024-01-01", None, None), None);
    }

    #[test]
    fn text() {
        assert_eq!(unescape_text(r"a\, b\; c\\d\ne"), "a, b; c\\d\ne");
    }
}
