//! Working hours as a member sets them: weekly intervals per weekday and date overrides, read in
//! the member's own zone; checked on the way in, and turned into UTC windows for a range. No
//! database here.
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::FieldMessage;

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Local hours of one day: `end` is the next day when `overnight`; an `end` of 24:00 is
/// midnight at the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Minutes after midnight.
    pub start: u32,
    pub end: u32,
    pub overnight: bool,
}

impl Interval {
    /// Its minutes from the start of its own day (an overnight one runs past 1440).
    fn span(&self) -> (u32, u32) {
        (self.start, if self.overnight { self.end + 1440 } else { self.end })
    }

    pub fn text(&self) -> String {
        format!("{}–{}", clock(self.start), clock(self.end))
    }
}

pub fn clock(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// What is stored (and what REST shows) of one weekly entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursText {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overnight: bool,
}

/// Reads "09:00" (and "24:00" as an end).
fn parse_clock(value: &str, end: bool) -> Option<u32> {
    let (h, m) = value.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Checks one interval; `at` names it in messages ("working_hours[1]").
fn interval(at: &str, h: &HoursText, errors: &mut Vec<FieldMessage>) -> Option<Interval> {
    let start = parse_clock(&h.start, false);
    let end = parse_clock(&h.end, true);
    if start.is_none() {
        errors.push(FieldMessage::new(&format!("{at}.start"), format!("start '{}' is not a time of day such as 09:00.", h.start.trim())));
    }
    if end.is_none() {
        errors.push(FieldMessage::new(&format!("{at}.end"), format!("end '{}' is not a time of day such as 17:00 (24:00 for midnight).", h.end.trim())));
    }
    let (start, end) = (start?, end?);
    let field = format!("{at}.end");
    if h.overnight {
        if end >= start || end == 1440 {
            errors.push(FieldMessage::new(
                &field,
                format!("Overnight hours end the next day before they start (such as 22:00–02:00); {}–{} does not cross midnight.", clock(start), clock(end)),
            ));
            return None;
        }
    } else if end == start {
        errors.push(FieldMessage::new(&field, format!("end {} must be after start {}.", clock(end), clock(start))));
        return None;
    } else if end < start {
        errors.push(FieldMessage::new(
            &field,
            format!("end {} is before start {}: for hours that cross midnight, set \"overnight\": true.", clock(end), clock(start)),
        ));
        return None;
    }
    Some(Interval { start, end, overnight: h.overnight })
}

/// A member's weekly hours: intervals per weekday (Monday first).
pub type Weekly = [Vec<Interval>; 7];

/// Checks weekly hours: known days, readable times, no two intervals overlapping (an overnight
/// one counts into the next day, Sunday's into Monday's).
pub fn weekly(entries: &[HoursText], errors: &mut Vec<FieldMessage>) -> Option<Weekly> {
    let before = errors.len();
    let mut week: Weekly = Default::default();
    let mut placed: Vec<(usize, usize, Interval)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = format!("working_hours[{i}]");
        let mut days = Vec::new();
        if e.days.is_empty() {
            errors.push(FieldMessage::new(&format!("{at}.days"), "days is required: one or more of mon, tue, wed, thu, fri, sat, sun."));
        }
        for d in &e.days {
            match DAYS.iter().position(|n| n.eq_ignore_ascii_case(d.trim())) {
                Some(p) if days.contains(&p) => errors.push(FieldMessage::new(&format!("{at}.days"), format!("'{}' is listed twice.", d.trim()))),
                Some(p) => days.push(p),
                None => errors.push(FieldMessage::new(&format!("{at}.days"), format!("'{}' is not a day: use mon, tue, wed, thu, fri, sat or sun.", d.trim()))),
            }
        }
        let Some(iv) = interval(&at, e, errors) else { continue };
        for d in days {
            placed.push((i, d, iv));
        }
    }
    // Minutes of the week, wrapping Sunday night into Monday.
    const WEEK: u32 = 7 * 1440;
    let pieces = |d: usize, iv: &Interval| -> Vec<(u32, u32)> {
        let (s, e) = iv.span();
        let (s, e) = (d as u32 * 1440 + s, d as u32 * 1440 + e);
        if e > WEEK {
            vec![(s, WEEK), (0, e - WEEK)]
        } else {
            vec![(s, e)]
        }
    };
    'outer: for (a, (ia, da, va)) in placed.iter().enumerate() {
        for (ib, db, vb) in placed.iter().take(a) {
            let overlap = pieces(*da, va).iter().any(|x| pieces(*db, vb).iter().any(|y| x.0 < y.1 && y.0 < x.1));
            if overlap {
                let other = if ia == ib { String::new() } else { format!(" (working_hours[{ib}])") };
                let message = format!("{} on {} overlaps {} on {}{other}.", va.text(), DAY_NAMES[*da], vb.text(), DAY_NAMES[*db]);
                errors.push(FieldMessage::new(&format!("working_hours[{ia}]"), message));
                continue 'outer;
            }
        }
    }
    if errors.len() > before {
        return None;
    }
    for (_, d, iv) in placed {
        week[d].push(iv);
    }
    for day in &mut week {
        day.sort_by_key(|iv| iv.start);
    }
    Some(week)
}

/// Checks one day's hours (a date override): readable times, none overlapping.
pub fn day(entries: &[HoursText], errors: &mut Vec<FieldMessage>) -> Option<Vec<Interval>> {
    let before = errors.len();
    let mut out: Vec<Interval> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = format!("hours[{i}]");
        if !e.days.is_empty() {
            errors.push(FieldMessage::new(&format!("{at}.days"), "An override is for one date: leave days out."));
        }
        let Some(iv) = interval(&at, e, errors) else { continue };
        if let Some(other) = out.iter().find(|o| iv.span().0 < o.span().1 && o.span().0 < iv.span().1) {
            errors.push(FieldMessage::new(&at, format!("{} overlaps {}.", iv.text(), other.text())));
            continue;
        }
        out.push(iv);
    }
    out.sort_by_key(|iv| iv.start);
    (errors.len() == before).then_some(out)
}

/// Reads stored entries (checked when they were saved).
pub fn stored_weekly(text: &str) -> Option<Weekly> {
    let entries: Vec<HoursText> = serde_json::from_str(text).ok()?;
    weekly(&entries, &mut Vec::new())
}

pub fn stored_day(text: &str) -> Vec<Interval> {
    serde_json::from_str::<Vec<HoursText>>(text).ok().and_then(|e| day(&e, &mut Vec::new())).unwrap_or_default()
}

/// The instant a wall-clock time in `tz` names: the first one when the clocks go back, and the
/// moment they jump to when it falls in the hour they skip.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    loop {
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return at.with_timezone(&Utc);
        }
        // Gaps are whole quarter hours in every zone in use.
        t = floor_quarter(t + Duration::minutes(15));
    }
}

/// Down to the quarter hour.
fn floor_quarter(t: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike;
    t.with_minute(t.minute() / 15 * 15).and_then(|t| t.with_second(0)).unwrap_or(t)
}

/// When a member works: weekly hours (`None`: any time) and date overrides, in `tz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    pub tz: Tz,
    pub weekly: Option<Weekly>,
    pub overrides: BTreeMap<NaiveDate, Vec<Interval>>,
}

impl Hours {
    pub fn any_time(tz: Tz) -> Hours {
        Hours { tz, weekly: None, overrides: BTreeMap::new() }
    }

    /// The hours of one local date: its override, else its weekday's, else all day.
    fn of_day(&self, d: NaiveDate) -> std::borrow::Cow<'_, [Interval]> {
        static ALL_DAY: [Interval; 1] = [Interval { start: 0, end: 1440, overnight: false }];
        match (self.overrides.get(&d), &self.weekly) {
            (Some(o), _) => o.as_slice().into(),
            (None, Some(w)) => w[d.weekday().num_days_from_monday() as usize].as_slice().into(),
            (None, None) => ALL_DAY.as_slice().into(),
        }
    }

    /// The working time overlapping [from, to) as UTC windows, merged, in order.
    pub fn windows(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        // A day earlier for the night before's overnight hours.
        let first = from.with_timezone(&self.tz).date_naive() - Duration::days(1);
        let last = to.with_timezone(&self.tz).date_naive();
        let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        let mut d = first;
        while d <= last {
            for iv in self.of_day(d).iter() {
                let at = |minutes: u32| resolve(self.tz, d.and_time(NaiveTime::MIN) + Duration::minutes(minutes as i64));
                let (s, e) = iv.span();
                let (s, e) = (at(s), at(e));
                if s < to && e > from && e > s {
                    match out.last_mut() {
                        Some(last) if s <= last.1 => last.1 = last.1.max(e),
                        _ => out.push((s, e)),
                    }
                }
            }
            d += Duration::days(1);
        }
        out
    }

    /// Does [start, end) lie inside one stretch of working time?
    pub fn contains(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.windows(start, end).iter().any(|(s, e)| *s <= start && *e >= end)
    }
}

/// The Monday of a date's week.
pub fn week_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

pub fn weekday_name(d: Weekday) -> &'static str {
    DAY_NAMES[d.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(days: &[&str], start: &str, end: &str, overnight: bool) -> HoursText {
        HoursText { days: days.iter().map(|d| d.to_string()).collect(), start: start.into(), end: end.into(), overnight }
    }

    #[test]
    fn overlapping_and_backwards_hours_are_refused_with_a_message_each() {
        let mut errors = Vec::new();
        assert!(weekly(&[h(&["mon"], "09:00", "12:00", false), h(&["mon"], "11:00", "13:00", false)], &mut errors).is_none());
        assert_eq!(errors[0].message, "11:00–13:00 on Monday overlaps 09:00–12:00 on Monday (working_hours[0]).");
        let mut errors = Vec::new();
        assert!(weekly(&[h(&["tue"], "22:00", "02:00", false)], &mut errors).is_none());
        assert_eq!(errors[0].field.as_deref(), Some("working_hours[0].end"));
        // Sunday night runs into Monday morning.
        let mut errors = Vec::new();
        assert!(weekly(&[h(&["sun"], "22:00", "02:00", true), h(&["mon"], "01:00", "05:00", false)], &mut errors).is_none());
        assert!(weekly(&[h(&["sun"], "22:00", "02:00", true), h(&["mon"], "02:00", "05:00", false)], &mut Vec::new()).is_some());
        let mut errors = Vec::new();
        assert!(weekly(&[h(&["mon", "funday"], "09:00", "17:00", false)], &mut errors).is_none());
        assert_eq!(errors[0].message, "'funday' is not a day: use mon, tue, wed, thu, fri, sat or sun.");
    }

    #[test]
    fn a_time_the_clocks_skip_starts_when_they_jump() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let skipped = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(resolve(tz, skipped).to_rfc3339(), "2026-03-29T01:00:00+00:00");
        let twice = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(resolve(tz, twice).to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }
}
