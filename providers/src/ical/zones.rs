//! TZID resolution: IANA names (any case, with `/mozilla.org/…`-style prefixes), Windows names
//! as Outlook writes them, and VTIMEZONE definitions when a feed uses a name of its own.
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::windows_zones::iana_for_windows;
use crate::events::local_to_utc;

/// A resolved time zone.
#[derive(Debug, Clone)]
pub enum Zone {
    Iana(Tz),
    /// A VTIMEZONE with a name no database knows: its own transitions.
    Custom(Arc<CustomZone>),
}

impl Zone {
    /// The UTC instant of a wall-clock time. A time in a DST gap moves forward by the gap;
    /// an ambiguous one is its first occurrence (RFC 5545 §3.3.5).
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Iana(tz) => local_to_utc(*tz, local),
            Zone::Custom(zone) => zone.to_utc(local),
        }
    }

    /// The wall-clock time of a UTC instant.
    pub fn to_local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Iana(tz) => tz.from_utc_datetime(&utc).naive_local(),
            Zone::Custom(zone) => zone.to_local(utc),
        }
    }

    /// The IANA name, or the feed's own name for a custom zone.
    pub fn name(&self) -> &str {
        match self {
            Zone::Iana(tz) => tz.name(),
            Zone::Custom(zone) => &zone.name,
        }
    }
}

/// Resolves a TZID as a database name: exact, ignoring case, after a path prefix, or Windows.
pub fn lookup_iana(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim().trim_matches('"');
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Some(tz);
    }
    if let Ok(tz) = Tz::from_str_insensitive(tzid) {
        return Some(tz);
    }
    if let Some(name) = iana_for_windows(tzid) {
        return name.parse().ok();
    }
    // "/mozilla.org/20070129_1/America/New_York", "/softwarestudio.org/Olson_20011030_5/…":
    // try each suffix that starts after a '/'.
    tzid.match_indices('/').find_map(|(i, _)| Tz::from_str_insensitive(&tzid[i + 1..]).ok())
}

/// A VTIMEZONE's observances turned into a list of transitions.
#[derive(Debug)]
pub struct CustomZone {
    pub name: String,
    /// (UTC instant of the transition, offset in seconds from then on), sorted.
    transitions: Vec<(NaiveDateTime, i32)>,
    /// The offset before the first transition.
    initial: i32,
}

impl CustomZone {
    fn offset_at_local(&self, local: NaiveDateTime) -> i32 {
        // The last transition whose onset, read in its new offset, is not after `local`.
        let idx = self.transitions.partition_point(|&(at, to)| at + Duration::seconds(to as i64) <= local);
        if idx == 0 {
            self.initial
        } else {
            self.transitions[idx - 1].1
        }
    }

    pub fn to_local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        let idx = self.transitions.partition_point(|&(at, _)| at <= utc);
        let offset = if idx == 0 { self.initial } else { self.transitions[idx - 1].1 };
        utc + Duration::seconds(offset as i64)
    }

    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let offset = self.offset_at_local(local);
        DateTime::from_naive_utc_and_offset(local - Duration::seconds(offset as i64), Utc)
    }
}

/// One STANDARD or DAYLIGHT block.
#[derive(Debug, Clone)]
pub struct Observance {
    pub start: NaiveDateTime,
    pub offset_from: i32,
    pub offset_to: i32,
    pub rrule: Option<String>,
    pub rdates: Vec<NaiveDateTime>,
}

/// The years transitions are computed for: wide enough for any sync window.
const FIRST_YEAR: i32 = 1970;
const LAST_YEAR: i32 = 2100;

pub fn build_custom(name: &str, observances: &[Observance]) -> Option<CustomZone> {
    let mut transitions = Vec::new();
    let limit = chrono::NaiveDate::from_ymd_opt(LAST_YEAR, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let floor = chrono::NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1)?.and_hms_opt(0, 0, 0)?;
    for obs in observances {
        let mut onsets = vec![obs.start];
        onsets.extend(obs.rdates.iter().copied());
        if let Some(rule) = &obs.rrule {
            if let Ok((starts, _)) = super::expand::wall_occurrences(rule, obs.start, floor, limit, 400, &|t, _| t, None) {
                onsets.extend(starts);
            }
        }
        for onset in onsets {
            // An onset is written in the local time in force before it (offset_from).
            transitions.push((onset - Duration::seconds(obs.offset_from as i64), obs.offset_to));
        }
    }
    if transitions.is_empty() {
        return None;
    }
    transitions.sort();
    transitions.dedup();
    let initial = observances.iter().min_by_key(|o| o.start).map(|o| o.offset_from).unwrap_or(0);
    Some(CustomZone { name: name.to_owned(), transitions, initial })
}

/// `+0530`, `-0800`, `+013045` → seconds east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let d = &s[1..];
    if !(d.len() == 4 || d.len() == 6) || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = d[0..2].parse().ok()?;
    let m: i32 = d[2..4].parse().ok()?;
    let sec: i32 = if d.len() == 6 { d[4..6].parse().ok()? } else { 0 };
    Some(sign * (h * 3600 + m * 60 + sec))
}

/// The zones of one feed: TZID → zone, resolved once per name.
#[derive(Default, Clone)]
pub struct ZoneTable {
    /// VTIMEZONE definitions by TZID, as found in the feed.
    pub defined: HashMap<String, DefinedZone>,
    resolved: HashMap<String, Option<Zone>>,
}

#[derive(Debug, Clone, Default)]
pub struct DefinedZone {
    pub location: Option<String>,
    pub observances: Vec<Observance>,
}

impl ZoneTable {
    /// Resolves a TZID: an IANA or Windows name wins (feeds often omit or garble VTIMEZONE);
    /// then the VTIMEZONE's X-LIC-LOCATION; then its observances. `None` if nothing fits.
    pub fn resolve(&mut self, tzid: &str) -> Option<Zone> {
        if let Some(found) = self.resolved.get(tzid) {
            return found.clone();
        }
        let zone = lookup_iana(tzid).map(Zone::Iana).or_else(|| {
            let defined = self.defined.get(tzid)?;
            defined
                .location
                .as_deref()
                .and_then(lookup_iana)
                .map(Zone::Iana)
                .or_else(|| build_custom(tzid, &defined.observances).map(|z| Zone::Custom(Arc::new(z))))
        });
        self.resolved.insert(tzid.to_owned(), zone.clone());
        zone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, 0).unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(lookup_iana("America/New_York"), Some(Tz::America__New_York));
        assert_eq!(lookup_iana("europe/berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(lookup_iana("/mozilla.org/20070129_1/Europe/Paris"), Some(Tz::Europe__Paris));
        assert_eq!(lookup_iana("Eastern Standard Time"), Some(Tz::America__New_York));
        assert_eq!(lookup_iana("\"W. Europe Standard Time\""), Some(Tz::Europe__Berlin));
        assert_eq!(lookup_iana("Mars/Olympus"), None);
    }

    #[test]
    fn gaps_move_forward_and_overlaps_take_the_first() {
        let ny = Tz::America__New_York;
        // 2024-03-10 02:30 does not exist in New York: read as 03:30 EDT = 07:30Z.
        assert_eq!(local_to_utc(ny, at(2024, 3, 10, 2, 30)).naive_utc(), at(2024, 3, 10, 7, 30));
        // 2024-11-03 01:30 happens twice: the first (EDT) = 05:30Z.
        assert_eq!(local_to_utc(ny, at(2024, 11, 3, 1, 30)).naive_utc(), at(2024, 11, 3, 5, 30));
    }

    #[test]
    fn custom_zone_follows_its_rules() {
        let observances = vec![
            Observance {
                start: at(1970, 3, 8, 2, 0),
                offset_from: -5 * 3600,
                offset_to: -4 * 3600,
                rrule: Some("FREQ=YEARLY;BYMONTH=3;BYDAY=2SU".into()),
                rdates: vec![],
            },
            Observance {
                start: at(1970, 11, 1, 2, 0),
                offset_from: -4 * 3600,
                offset_to: -5 * 3600,
                rrule: Some("FREQ=YEARLY;BYMONTH=11;BYDAY=1SU".into()),
                rdates: vec![],
            },
        ];
        let zone = build_custom("Eastern (custom)", &observances).unwrap();
        assert_eq!(zone.to_utc(at(2024, 7, 1, 9, 0)).naive_utc(), at(2024, 7, 1, 13, 0));
        assert_eq!(zone.to_utc(at(2024, 1, 15, 9, 0)).naive_utc(), at(2024, 1, 15, 14, 0));
        assert_eq!(parse_offset("-0430"), Some(-(4 * 3600 + 30 * 60)));
        assert_eq!(parse_offset("0430"), None);
    }
}
