//! Bookings: meetings the booking side makes for a member. Before one is saved the member's
//! availability is checked (their calendars and their other bookings); a clash is refused with
//! what is in the way unless the caller overrides it. Bookings block availability like events.
//! Every create and cancel writes a change-history row.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use super::merge::Occurrence;
use super::{availability, booking_copies, health, integrations::Actor, now, slots, teams, users, Error, FieldMessage, Report, Result};
use crate::providers::write::{occurrence_key, parse_occurrence_key};
use crate::db::schema::{bookings as b, change_history as ch, teams as t, users as u};
use crate::db::Conn;
use crate::run;

pub const MSG_OWN_ONLY: &str = "You can only book meetings for yourself.";
pub const MSG_CANCELLED: &str = "This booking is cancelled already.";
pub const TITLE_MAX: usize = 200;
/// How far ahead a recurring booking is checked for clashes.
pub const CHECK_DAYS: i64 = crate::providers::write::CHECK_DAYS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: i64,
    pub user_id: i64,
    pub user: String,
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub attendees: Vec<String>,
    /// UTC.
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub time_zone: String,
    /// `RRULE:…`
    pub recurrence: Option<String>,
    /// `confirmed` or `cancelled`
    pub status: String,
    pub notify_attendees: bool,
    pub version: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
    /// The occurrences of a recurring booking that differ from its series, by original start.
    pub exceptions: BTreeMap<String, Occurrence>,
    /// The team it was booked for (its member picked from it).
    pub team: Option<String>,
}

/// One occurrence of a booking as it happens: its original start (what names it), and its
/// title and times after any change made to it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub original: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub title: String,
}

impl Booking {
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The fields a copy in a calendar holds too (for the three-way merge).
    pub fn fields(&self) -> super::merge::Fields {
        super::merge::Fields {
            title: self.title.clone(),
            start: self.start.and_utc(),
            end: self.end.and_utc(),
            location: self.location.clone(),
            description: self.description.clone(),
            attendees: self.attendees.clone(),
            occurrences: self.exceptions.clone(),
            recurrence: super::merge::rule(self.recurrence.as_deref()),
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        snapshot(&self.title, self.start, self.end, &self.time_zone, &self.recurrence, &self.description, &self.location, &self.attendees.join("\n"), &self.status, &self.exceptions)
    }

    /// Its occurrences overlapping [from, to), at most `limit`, by start: cancelled ones left
    /// out, changed ones as changed (also one moved here from outside the range).
    pub fn slots(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Vec<Slot> {
        let plain = occurrences(self.start.and_utc(), self.end.and_utc(), self.tz(), self.recurrence.as_deref(), from, to, limit);
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<Slot> = Vec::with_capacity(plain.len());
        for (s, e) in plain {
            seen.insert(s);
            match self.exceptions.get(&occurrence_key(s)) {
                Some(o) if o.cancelled => {}
                Some(o) => {
                    let (start, end) = (o.start.unwrap_or(s), o.end.unwrap_or(e));
                    if start < to && end > from {
                        out.push(Slot { original: s, start, end, title: o.title.clone().unwrap_or_else(|| self.title.clone()) });
                    }
                }
                None => out.push(Slot { original: s, start: s, end: e, title: self.title.clone() }),
            }
        }
        let length = self.end - self.start;
        for (key, o) in self.exceptions.iter().filter(|(_, o)| !o.cancelled && o.start.is_some()) {
            let Some(original) = parse_occurrence_key(key).filter(|t| !seen.contains(t)) else { continue };
            let (title, start, end) = o.resolve(original, &self.title, length);
            if start < to && end > from {
                out.push(Slot { original, start, end, title });
            }
        }
        out.sort_by_key(|s| (s.start, s.original));
        out.truncate(limit);
        out
    }
}

impl Booking {
    /// Does `key` name an occurrence of its series as it is now?
    pub fn has_occurrence(&self, key: &str) -> bool {
        parse_occurrence_key(key).is_some_and(|t| is_occurrence(self.start.and_utc(), self.end.and_utc(), self.tz(), self.recurrence.as_deref(), t))
    }

    /// The original starts of its series' occurrences in [from, to), whatever became of them.
    pub fn originals(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        occurrences(self.start.and_utc(), self.end.and_utc(), self.tz(), self.recurrence.as_deref(), from, to, limit).into_iter().map(|(s, _)| s).filter(|s| *s >= from).collect()
    }

    /// Its occurrences in [from, to), cancelled ones too (`true`), by original start: what a
    /// person sees of a series to change one occurrence or bring one back.
    pub fn schedule(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Vec<(Slot, bool)> {
        let mut out: Vec<(Slot, bool)> = self.slots(from, to, limit).into_iter().map(|s| (s, false)).collect();
        for key in self.exceptions.iter().filter(|(_, o)| o.cancelled).map(|(k, _)| k) {
            if let Some(t) = parse_occurrence_key(key).filter(|t| *t >= from && *t < to) {
                out.push((Slot { original: t, start: t, end: t + (self.end - self.start), title: self.title.clone() }, true));
            }
        }
        out.sort_by_key(|(s, _)| s.original);
        out.truncate(limit);
        out
    }
}

/// Is `original` the start of one of the series' occurrences?
fn is_occurrence(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, rule: Option<&str>, original: DateTime<Utc>) -> bool {
    rule.is_some() && occurrences(start, end, tz, rule, original, original + Duration::seconds(1), 4).iter().any(|(s, _)| *s == original)
}

/// The changed occurrences that still name an occurrence of the series as it is now (a series
/// moved or given another rule drops the others; its history keeps them).
fn still_occurring(exceptions: &BTreeMap<String, Occurrence>, start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, rule: Option<&str>) -> BTreeMap<String, Occurrence> {
    exceptions
        .iter()
        .filter(|(k, _)| parse_occurrence_key(k).is_some_and(|t| is_occurrence(start, end, tz, rule, t)))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect()
}

fn exceptions_text(e: &BTreeMap<String, Occurrence>) -> String {
    serde_json::to_string(e).unwrap_or_else(|_| "{}".into())
}

/// The occurrences of a meeting from `start` to `end` in `tz`, recurring by `rule`, that
/// overlap [from, to): through the project's own expander, so DST and RRULE edge cases are
/// read as for any feed.
fn occurrences(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, rule: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(rule) = rule else {
        return if start < to && end > from { vec![(start, end)] } else { Vec::new() };
    };
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y%m%dT%H%M%S").to_string();
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:booking\r\nDTSTART;TZID={z}:{s}\r\nDTEND;TZID={z}:{e}\r\n{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        z = tz.name(),
        s = local(start),
        e = local(end),
    );
    let Ok(mut cal) = crate::ical::parse(text.as_bytes()) else { return Vec::new() };
    let expanded = crate::ical::expand::expand(&mut cal, crate::ical::expand::Options { from, to, floating: tz, max_instances: limit });
    expanded.instances.iter().map(|i| (i.start.instant(tz), i.end.instant(tz))).collect()
}

type Row = (i64, i64, String, String, Option<String>, Option<String>, String, NaiveDateTime, NaiveDateTime, String, Option<String>, String, bool, i64, String, NaiveDateTime, NaiveDateTime, String, Option<String>);

macro_rules! columns {
    () => {
        (b::id, b::user_id, u::email, b::title, b::description, b::location, b::attendees, b::start_at, b::end_at, b::time_zone, b::recurrence, b::status, b::notify_attendees, b::version, b::created_by, b::created_at, b::modified_at, b::exceptions, t::name.nullable())
    };
}

fn of_row(r: Row) -> Booking {
    Booking {
        id: r.0,
        user_id: r.1,
        user: r.2,
        title: r.3,
        description: r.4,
        location: r.5,
        attendees: r.6.lines().filter(|l| !l.is_empty()).map(str::to_string).collect(),
        start: r.7,
        end: r.8,
        time_zone: r.9,
        recurrence: r.10,
        status: r.11,
        notify_attendees: r.12,
        version: r.13,
        created_by: r.14,
        created_at: r.15,
        modified_at: r.16,
        exceptions: serde_json::from_str(&r.17).unwrap_or_default(),
        team: r.18,
    }
}

/// What a new booking asks for, as a caller typed it.
#[derive(Debug, Clone, Default)]
pub struct NewBooking {
    /// The member's email (default: the actor).
    pub user: Option<String>,
    /// Instead of `user`: a team, whose member free for the meeting is picked.
    pub team: Option<String>,
    pub title: String,
    /// RFC 3339, or a wall-clock time (`2026-12-02 10:00`, `2026-12-02T10:00:00`) in `time_zone`.
    pub start: String,
    pub end: String,
    pub time_zone: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub attendees: Vec<String>,
    /// `RRULE:…`
    pub recurrence: Option<String>,
    /// Book even over what is in the way.
    pub allow_conflict: bool,
    /// Let the provider email the attendees when the meeting is written to the calendar.
    pub notify_attendees: bool,
}

/// One thing in the way of a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub integration: String,
    pub integration_name: String,
    pub summary: String,
    /// "ana@example.com is busy 10:00–10:30: 'Dentist' (Personal Outlook)"
    pub message: String,
    /// `event`, `booking`, `out-of-date`; `rule`: a rule of the member's (hours, notice,
    /// limits), in no calendar.
    pub kind: &'static str,
    /// For an event: its kind, which the calendar's rules made block (`crate::busy`).
    pub rule: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Booked(Booking),
    /// Refused: what is in the way (nothing was saved).
    Busy(Vec<Clash>),
}

/// One of the member's calendars a booking could not be checked against: Failed, Stale or
/// Never synced (health's rules), so a clash there would not be seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    pub calendar: health::Item,
    /// "Booked, but 'Work (Google)' has not synced since 09:12 — a clash there would not be seen"
    pub warning: String,
}

/// What booking (or moving) a meeting answers: the outcome, and the member's calendars it could
/// not be checked against (none when a change left the times as they were).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: Outcome,
    pub unchecked: Vec<Unchecked>,
}

/// How out of date a calendar is, in the member's zone `tz`: "has not synced since 09:12" (a
/// last sync on another day: "since 2026-11-29 09:12"), or "has never synced".
pub fn out_of_date(d: &health::Item, tz: Tz, at: DateTime<Utc>) -> String {
    match d.last_sync {
        Some(t) => {
            let last = t.and_utc().with_timezone(&tz);
            let when = if last.date_naive() == at.with_timezone(&tz).date_naive() { last.format("%H:%M").to_string() } else { last.format("%Y-%m-%d %H:%M").to_string() };
            format!("has not synced since {when}")
        }
        None => "has never synced".to_string(),
    }
}

/// Booked over a calendar calsync cannot trust (fail-open, or the conflict overridden).
pub fn msg_unchecked(d: &health::Item, tz: Tz, at: DateTime<Utc>) -> String {
    format!("Booked, but '{}' {} — a clash there would not be seen", d.integration_name, out_of_date(d, tz, at))
}

/// Refused: a fail-closed calendar is out of date, so its time counts as busy.
pub fn msg_fail_closed(d: &health::Item, tz: Tz, at: DateTime<Utc>) -> String {
    format!(
        "'{}' {}, and its policy is fail-closed: a clash there would not be seen, so the time counts as busy and nothing was saved. Sync it again, or override the conflict to book anyway.",
        d.integration_name,
        out_of_date(d, tz, at)
    )
}

/// A wall-clock time in `tz`, or an RFC 3339 instant. A time the clocks skip is refused.
fn instant(field: &str, label: &str, value: &str, tz: Tz, errors: &mut Vec<FieldMessage>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if value.is_empty() {
        errors.push(FieldMessage::new(field, format!("{label} is required.")));
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"].iter().find_map(|f| NaiveDateTime::parse_from_str(value, f).ok());
    let Some(naive) = naive else {
        errors.push(FieldMessage::new(field, format!("{label} '{value}' is not a time such as 2026-12-02 10:00 or 2026-12-02T09:00:00Z.")));
        return None;
    };
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            errors.push(FieldMessage::new(field, format!("{} does not exist in {}: the clocks go forward then. Choose another time.", naive.format("%Y-%m-%d %H:%M"), tz.name())));
            None
        }
    }
}

/// Checks a rule the way it will be read: `RRULE:` and what rrule accepts.
fn check_rule(rule: &str, start: DateTime<Utc>, errors: &mut Vec<FieldMessage>) -> Option<String> {
    let rule = rule.trim();
    let Some(body) = rule.strip_prefix("RRULE:").filter(|b| !b.trim().is_empty() && !b.contains('\n') && !b.contains('\r')) else {
        errors.push(FieldMessage::new("recurrence", format!("'{rule}' is not a recurrence rule: it must start with RRULE: (for example RRULE:FREQ=WEEKLY;COUNT=10).")));
        return None;
    };
    let text = format!("DTSTART:{}\nRRULE:{body}", start.format("%Y%m%dT%H%M%SZ"));
    match text.parse::<rrule::RRuleSet>() {
        Ok(_) => Some(rule.to_string()),
        Err(e) => {
            errors.push(FieldMessage::new("recurrence", format!("'{rule}' is not a valid recurrence rule: {e}.")));
            None
        }
    }
}

fn clash_message(email: &str, tz: Tz, recurring: bool, block: &availability::Block) -> String {
    let (s, e) = (block.start.with_timezone(&tz), block.end.with_timezone(&tz));
    let when = if recurring || e.date_naive() != s.date_naive() {
        format!("{}–{}", s.format("%Y-%m-%d %H:%M"), if e.date_naive() == s.date_naive() { e.format("%H:%M").to_string() } else { e.format("%Y-%m-%d %H:%M").to_string() })
    } else {
        format!("{}–{}", s.format("%H:%M"), e.format("%H:%M"))
    };
    format!("{email} is busy {when}: '{}' ({})", block.summary, block.integration_name)
}

/// The columns a booking's create and change both write.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = b, treat_none_as_null = true)]
struct Columns<'a> {
    title: &'a str,
    description: Option<&'a str>,
    location: Option<&'a str>,
    attendees: &'a str,
    start_at: NaiveDateTime,
    end_at: NaiveDateTime,
    time_zone: &'a str,
    recurrence: Option<&'a str>,
    notify_attendees: bool,
    modified_at: NaiveDateTime,
    exceptions: &'a str,
}

/// A booking's fields as checked.
struct Checked {
    member: users::User,
    title: String,
    tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    description: Option<String>,
    location: Option<String>,
    attendees: Vec<String>,
    recurrence: Option<String>,
}

/// Checks what a caller typed; `was`: the start a booking has now (an unchanged start of a
/// meeting under way is not "in the past").
async fn check(conn: &mut Conn<'_>, actor: Actor, new: &NewBooking, was: Option<DateTime<Utc>>) -> Result<Checked> {
    let member = users::subject(conn, actor, new.user.as_deref(), MSG_OWN_ONLY).await?;
    let mut errors = Vec::new();
    if member.disabled {
        errors.push(FieldMessage::new("user", format!("{} is inactive and cannot be booked.", member.email)));
    }
    let title = new.title.trim().to_string();
    if title.is_empty() {
        errors.push(FieldMessage::new("title", "Title is required."));
    } else if title.chars().count() > TITLE_MAX {
        errors.push(FieldMessage::new("title", format!("Title cannot exceed {TITLE_MAX} characters.")));
    }
    let zone_name = new.time_zone.trim();
    let tz: Option<Tz> = match zone_name.parse() {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(FieldMessage::new("time_zone", format!("'{zone_name}' is not a time zone: use an IANA name such as Europe/Berlin.")));
            None
        }
    };
    let times = tz.map(|tz| (instant("start", "Start", &new.start, tz, &mut errors), instant("end", "End", &new.end, tz, &mut errors)));
    let (start, end) = match times {
        Some((Some(s), Some(e))) => (Some(s), Some(e)),
        _ => (None, None),
    };
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            errors.push(FieldMessage::new("end", "The end must be after the start."));
        }
        if s < Utc::now() - Duration::minutes(1) && was != Some(s) {
            errors.push(FieldMessage::new("start", "A booking cannot start in the past."));
        }
    }
    let recurrence = match (new.recurrence.as_deref().map(str::trim).filter(|r| !r.is_empty()), start) {
        (Some(rule), Some(s)) => check_rule(rule, s, &mut errors),
        _ => None,
    };
    let attendees: Vec<String> = new.attendees.iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect();
    for a in &attendees {
        if users::parse_email(a).is_err() {
            errors.push(FieldMessage::new("attendees", format!("'{a}' is not an email address.")));
        }
    }
    let (Some(tz), Some(start), Some(end)) = (tz, start, end) else {
        return Err(Error::Invalid(Report::errors(errors)));
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    let description = new.description.as_deref().map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    let location = new.location.as_deref().map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
    Ok(Checked { member, title, tz, start, end, description, location, attendees, recurrence })
}

/// What is in the way of a booking, over every occurrence (a year of a recurring one): the
/// member's busy time (widened by their buffers) and their rules (working hours, notice,
/// limits); the booking itself (`except`) does not count. Also the member's calendars that
/// cannot be trusted: a fail-closed one among them is in the way, named with why.
async fn clashes(conn: &mut Conn<'_>, ch: &Checked, except: Option<i64>) -> Result<(Vec<Clash>, Vec<health::Item>)> {
    let mine = own_occurrences(ch);
    let (Some(first), Some(last)) = (<[_]>::first(&mine), <[_]>::last(&mine)) else {
        return Ok((Vec::new(), health::degraded(conn, ch.member.id, now()).await?));
    };
    let member = slots::load(conn, vec![ch.member.clone()], first.0, last.1, except).await?.remove(0);
    let found = clashes_of(&member, &mine, ch.tz, ch.recurrence.is_some(), Utc::now());
    Ok((found, member.degraded))
}

/// The occurrences of a checked booking, a year of a recurring one.
fn own_occurrences(ch: &Checked) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    occurrences(ch.start, ch.end, ch.tz, ch.recurrence.as_deref(), ch.start, ch.start + Duration::days(CHECK_DAYS), 1000)
}

/// How many occurrences a rule that keeps failing is named for before the rest are counted.
const RULE_EXAMPLES: usize = 3;

/// What is in the way of `mine` for a member, one message per thing, times in `tz`.
fn clashes_of(m: &slots::Member, mine: &[(DateTime<Utc>, DateTime<Utc>)], tz: Tz, recurring: bool, at: DateTime<Utc>) -> Vec<Clash> {
    let email = &m.user.email;
    let mut out: Vec<Clash> = Vec::new();
    let mut rules: Vec<(String, Vec<DateTime<Utc>>)> = Vec::new();
    let rule = |kind: &'static str, message: String, start, end| Clash { start, end, integration: String::new(), integration_name: String::new(), summary: String::new(), message, kind, rule: None };
    for (s, e) in mine {
        for r in m.reasons(*s, *e, at) {
            let clash = match &r {
                slots::Reason::Inactive => continue,
                slots::Reason::Busy { block, buffer: false } => Clash::of(block, clash_message(email, tz, recurring, block)),
                slots::Reason::Busy { block, buffer: true } => Clash::of(block, format!("{email}: {}", r.text(m, tz))),
                slots::Reason::Closed { block, item } => Clash::of(block, msg_fail_closed(item, m.user.tz(), at)),
                other => {
                    let text = other.text(m, tz);
                    match rules.iter_mut().find(|(t, _)| *t == text) {
                        Some((_, when)) => when.push(*s),
                        None => rules.push((text, vec![*s])),
                    }
                    continue;
                }
            };
            if !out.iter().any(|c| c.message == clash.message) {
                out.push(clash);
            }
        }
    }
    for (text, when) in rules {
        let message = if recurring {
            let named: Vec<String> = when.iter().take(RULE_EXAMPLES).map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()).collect();
            let more = if when.len() > RULE_EXAMPLES { format!(" and {} more", when.len() - RULE_EXAMPLES) } else { String::new() };
            format!("{email}: {text} ({}{more})", named.join(", "))
        } else {
            format!("{email}: {text}")
        };
        out.push(rule("rule", message, when[0], when[0]));
    }
    out
}

impl Clash {
    fn of(b: &availability::Block, message: String) -> Clash {
        Clash { start: b.start, end: b.end, integration: b.integration.to_string(), integration_name: b.integration_name.to_string(), summary: b.summary.clone(), message, kind: b.kind, rule: b.rule }
    }
}

/// What is in the way of a booking (nothing is looked for when `allow`: it is booked over
/// whatever is there), and the member's calendars it could not be checked against, each with
/// its warning.
async fn look(conn: &mut Conn<'_>, ch: &Checked, except: Option<i64>, allow: bool) -> Result<(Vec<Clash>, Vec<Unchecked>)> {
    let (found, degraded) = if allow { (Vec::new(), health::degraded(conn, ch.member.id, now()).await?) } else { clashes(conn, ch, except).await? };
    let (tz, at) = (ch.member.tz(), Utc::now());
    let unchecked: Vec<Unchecked> = degraded.into_iter().map(|d| Unchecked { warning: msg_unchecked(&d, tz, at), calendar: d }).collect();
    Ok((found, unchecked))
}

/// The fields history shows of a booking.
#[allow(clippy::too_many_arguments)]
fn snapshot(title: &str, start: NaiveDateTime, end: NaiveDateTime, zone: &str, recurrence: &Option<String>, description: &Option<String>, location: &Option<String>, attendees: &str, status: &str, exceptions: &BTreeMap<String, Occurrence>) -> serde_json::Value {
    let mut v = json!({"title": title, "start": start.to_string(), "end": end.to_string(), "time_zone": zone, "recurrence": recurrence, "description": description, "location": location, "attendees": attendees, "status": status});
    if !exceptions.is_empty() {
        v["occurrences"] = json!(exceptions);
    }
    v
}

/// Books a meeting: checks the input, then the member's availability over every occurrence
/// (recurring ones for a year), then saves it with its history row and marks its copy for the
/// member's primary calendar to be written.
pub async fn create(conn: &mut Conn<'_>, actor: Actor, by: &str, new: NewBooking) -> Result<Outcome> {
    Ok(create_with_warnings(conn, actor, by, new).await?.outcome)
}

/// `create`, also answering the member's calendars the booking could not be checked against
/// (Failed, Stale, Never synced). Under fail-open it is booked with a warning for each; an
/// out-of-date fail-closed calendar refuses it (unless the conflict is overridden).
pub async fn create_with_warnings(conn: &mut Conn<'_>, actor: Actor, by: &str, new: NewBooking) -> Result<Answer> {
    if new.team.is_some() {
        return create_for_team(conn, actor, by, new).await;
    }
    let ch = check(conn, actor, &new, None).await?;
    let (found, unchecked) = look(conn, &ch, None, new.allow_conflict).await?;
    if !found.is_empty() {
        return Ok(Answer { outcome: Outcome::Busy(found), unchecked });
    }
    let id = save(conn, by, ch, new.notify_attendees, None).await?;
    Ok(Answer { outcome: Outcome::Booked(get(conn, actor, id).await?), unchecked })
}

pub const MSG_USER_OR_TEAM: &str = "Give either user or team, not both.";
pub const MSG_TEAM_OVERRIDE: &str = "allow_conflict is for a booking of a named user: a team's booking goes to a member who is free.";

/// Books a meeting for a team: the member free for all of it by their rules whose last booking
/// of this team is oldest (never booked first; ties by name). None free: refused, naming why
/// for each member.
async fn create_for_team(conn: &mut Conn<'_>, actor: Actor, by: &str, new: NewBooking) -> Result<Answer> {
    let name = new.team.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if new.user.as_deref().is_some_and(|u| !u.trim().is_empty()) {
        errors.push(FieldMessage::new("team", MSG_USER_OR_TEAM));
    }
    if new.allow_conflict {
        errors.push(FieldMessage::new("allow_conflict", MSG_TEAM_OVERRIDE));
    }
    let team = match teams::get(conn, actor, &name).await {
        Err(Error::NotFound) => {
            errors.push(FieldMessage::new("team", format!("There is no team named '{}'.", name.trim())));
            None
        }
        other => Some(other?),
    };
    if team.as_ref().is_some_and(|t| t.members.is_empty()) {
        errors.push(FieldMessage::new("team", format!("The team '{}' has no members to book.", name.trim())));
    }
    let Some(team) = team.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(Report::errors(errors))) };
    // The fields are checked as for the actor; the member is picked next.
    let mut ch = check(conn, actor, &NewBooking { user: None, ..new.clone() }, None).await?;
    let mine = own_occurrences(&ch);
    let (Some(first), Some(last)) = (<[_]>::first(&mine).copied(), <[_]>::last(&mine).copied()) else {
        return Err(Error::invalid("recurrence", "The rule leaves no occurrence to book."));
    };
    let mut members = slots::load(conn, team.members.clone(), first.0, last.1, None).await?;
    slots::by_turn(&mut members, &last_booked(conn, team.id).await?);
    let at = Utc::now();
    let mut refused = Vec::new();
    let mut picked = None;
    for m in members {
        let why = team_reasons(&m, &mine, ch.tz, at);
        if why.is_empty() {
            picked = Some(m);
            break;
        }
        refused.push(Clash { start: first.0, end: first.1, integration: String::new(), integration_name: String::new(), summary: String::new(), message: format!("{}: {}", m.user.email, why.join("; ")), kind: "rule", rule: None });
    }
    let Some(m) = picked else {
        return Ok(Answer { outcome: Outcome::Busy(refused), unchecked: Vec::new() });
    };
    let (tz, at) = (m.user.tz(), Utc::now());
    let unchecked: Vec<Unchecked> = m.degraded.iter().cloned().map(|d| Unchecked { warning: msg_unchecked(&d, tz, at), calendar: d }).collect();
    ch.member = m.user;
    let id = save(conn, by, ch, new.notify_attendees, Some(team.id)).await?;
    Ok(Answer { outcome: Outcome::Booked(get(conn, Actor::SYSTEM, id).await?), unchecked })
}

/// Why a member cannot take a team's meeting, each reason once over all occurrences: what is
/// busy first, then the rules ("busy 10:00–10:30 'Dentist' (Work Google)", "outside working
/// hours"); times in `tz`.
fn team_reasons(m: &slots::Member, mine: &[(DateTime<Utc>, DateTime<Utc>)], tz: Tz, at: DateTime<Utc>) -> Vec<String> {
    let (mut busy, mut rules) = (Vec::new(), Vec::new());
    for (s, e) in mine {
        for r in m.reasons(*s, *e, at) {
            let list = if matches!(r, slots::Reason::Busy { .. } | slots::Reason::Closed { .. }) { &mut busy } else { &mut rules };
            let text = r.text(m, tz);
            if !list.contains(&text) {
                list.push(text);
            }
        }
    }
    busy.extend(rules);
    busy
}

/// When each member last got a booking of the team (confirmed ones; by when it was made).
async fn last_booked(conn: &mut Conn<'_>, team: i64) -> Result<std::collections::HashMap<i64, NaiveDateTime>> {
    let rows: Vec<(i64, Option<NaiveDateTime>)> = run!(conn, |c| b::table
        .filter(b::team_id.eq(team).and(b::status.eq("confirmed")))
        .group_by(b::user_id)
        .select((b::user_id, diesel::dsl::max(b::created_at)))
        .load(c)
        .await)?;
    Ok(rows.into_iter().filter_map(|(u, t)| Some((u, t?))).collect())
}

/// Saves a checked booking with its history row, and marks its copy for the member's primary
/// calendar to be written.
async fn save(conn: &mut Conn<'_>, by: &str, ch: Checked, notify: bool, team: Option<i64>) -> Result<i64> {
    let at = now();
    let by = by.to_string();
    let member_id = ch.member.id;
    let attendees_text = ch.attendees.join("\n");
    let (s, e) = (ch.start.naive_utc(), ch.end.naive_utc());
    let zone = ch.tz.name().to_string();
    let Checked { title, description, location, recurrence, .. } = ch;
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let columns = Columns { title: &title, description: description.as_deref(), location: location.as_deref(), attendees: &attendees_text, start_at: s, end_at: e, time_zone: &zone, recurrence: recurrence.as_deref(), notify_attendees: notify, modified_at: at, exceptions: "{}" };
            let id: i64 = run!(&mut c, |cc| diesel::insert_into(b::table)
                .values((columns, b::user_id.eq(member_id), b::team_id.eq(team), b::created_by.eq(&by), b::created_at.eq(at)))
                .returning(b::id)
                .get_result(cc)
                .await)?;
            let after = snapshot(&title, s, e, &zone, &recurrence, &description, &location, &attendees_text, "confirmed", &BTreeMap::new());
            record(&mut c, id, "create", &by, None, Some(after.to_string()), at).await?;
            booking_copies::plan(&mut c, id, member_id, false, at).await?;
            Ok::<i64, Error>(id)
        })
    })
    .await
}

/// A change to a booking, as a caller typed it: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// The version the caller read (a stale one is refused).
    pub version: i64,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub time_zone: Option<String>,
    pub description: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub attendees: Option<Vec<String>>,
    pub recurrence: Option<Option<String>>,
    pub notify_attendees: Option<bool>,
    pub allow_conflict: bool,
}

pub fn msg_stale(version: i64) -> String {
    format!("This booking was changed since you read it (it is at version {version} now). Reload it and try again.")
}

/// Changes a booking (moving it is checked for clashes like booking), bumps its version,
/// records the before and after, and marks its copy to be written again.
pub async fn update(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str, changes: Changes) -> Result<Outcome> {
    Ok(update_with_warnings(conn, actor, id, by, changes).await?.outcome)
}

/// `update`, also answering (for a move) the member's calendars it could not be checked
/// against, like `create_with_warnings`.
pub async fn update_with_warnings(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str, changes: Changes) -> Result<Answer> {
    let current = get(conn, actor, id).await?;
    if current.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED.into()));
    }
    if changes.version != current.version {
        return Err(Error::Conflict(msg_stale(current.version)));
    }
    let utc = |t: NaiveDateTime| t.and_utc().to_rfc3339();
    let new = NewBooking {
        user: Some(current.user.clone()),
        team: None,
        title: changes.title.clone().unwrap_or_else(|| current.title.clone()),
        start: changes.start.clone().unwrap_or_else(|| utc(current.start)),
        end: changes.end.clone().unwrap_or_else(|| utc(current.end)),
        time_zone: changes.time_zone.clone().unwrap_or_else(|| current.time_zone.clone()),
        description: changes.description.clone().unwrap_or_else(|| current.description.clone()),
        location: changes.location.clone().unwrap_or_else(|| current.location.clone()),
        attendees: changes.attendees.clone().unwrap_or_else(|| current.attendees.clone()),
        recurrence: changes.recurrence.clone().unwrap_or_else(|| current.recurrence.clone()),
        allow_conflict: changes.allow_conflict,
        notify_attendees: changes.notify_attendees.unwrap_or(current.notify_attendees),
    };
    let ch = check(conn, actor, &new, Some(current.start.and_utc())).await?;
    let moved = ch.start.naive_utc() != current.start || ch.end.naive_utc() != current.end || ch.recurrence != current.recurrence || ch.tz.name() != current.time_zone;
    let (found, unchecked) = if moved { look(conn, &ch, Some(id), changes.allow_conflict).await? } else { (Vec::new(), Vec::new()) };
    if !found.is_empty() {
        return Ok(Answer { outcome: Outcome::Busy(found), unchecked });
    }
    let at = now();
    let by = by.to_string();
    let attendees_text = ch.attendees.join("\n");
    let (s, e) = (ch.start.naive_utc(), ch.end.naive_utc());
    let zone = ch.tz.name().to_string();
    let notify = new.notify_attendees;
    let before = current.snapshot();
    let (user_id, version) = (current.user_id, current.version);
    let exceptions = still_occurring(&current.exceptions, ch.start, ch.end, ch.tz, ch.recurrence.as_deref());
    let Checked { title, description, location, recurrence, .. } = ch;
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let text = exceptions_text(&exceptions);
            let columns = Columns { title: &title, description: description.as_deref(), location: location.as_deref(), attendees: &attendees_text, start_at: s, end_at: e, time_zone: &zone, recurrence: recurrence.as_deref(), notify_attendees: notify, modified_at: at, exceptions: &text };
            let changed = run!(&mut c, |cc| diesel::update(b::table.find(id).filter(b::version.eq(version)).filter(b::status.eq("confirmed")))
                .set((columns, b::version.eq(b::version + 1)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(msg_stale(version + 1)));
            }
            let after = snapshot(&title, s, e, &zone, &recurrence, &description, &location, &attendees_text, "confirmed", &exceptions);
            record(&mut c, id, "update", &by, Some(before.to_string()), Some(after.to_string()), at).await?;
            booking_copies::plan(&mut c, id, user_id, false, at).await
        })
    })
    .await?;
    Ok(Answer { outcome: Outcome::Booked(get(conn, actor, id).await?), unchecked })
}

/// A history row of a booking.
pub(crate) async fn record(c: &mut Conn<'_>, id: i64, action: &'static str, actor: &str, before: Option<String>, after: Option<String>, at: NaiveDateTime) -> Result<()> {
    run!(c, |cc| diesel::insert_into(ch::table)
        .values((
            ch::integration_id.eq(None::<i64>),
            ch::entity.eq("booking"),
            ch::entity_key.eq(id.to_string()),
            ch::action.eq(action),
            ch::actor.eq(actor),
            ch::before.eq(before),
            ch::after.eq(after),
            ch::at.eq(at),
        ))
        .execute(cc)
        .await)?;
    Ok(())
}

/// One booking, when the actor may see it (theirs, or any for an admin).
pub async fn get(conn: &mut Conn<'_>, actor: Actor, id: i64) -> Result<Booking> {
    let row: Option<Row> = run!(conn, |c| b::table.inner_join(u::table).left_join(t::table).filter(b::id.eq(id)).select(columns!()).first(c).await.optional())?;
    let Some(bk) = row.map(of_row) else { return Err(Error::NotFound) };
    if actor.is_admin || bk.user_id == actor.user_id || in_its_team(conn, actor, id).await? { Ok(bk) } else { Err(Error::NotFound) }
}

/// Is the actor a member of the team a booking was made for (who see the team's bookings)?
async fn in_its_team(conn: &mut Conn<'_>, actor: Actor, id: i64) -> Result<bool> {
    use crate::db::schema::team_members as tm;
    let n: i64 = run!(conn, |c| b::table
        .inner_join(tm::table.on(tm::team_id.nullable().eq(b::team_id)))
        .filter(b::id.eq(id).and(tm::user_id.eq(actor.user_id)))
        .count()
        .get_result(c)
        .await)?;
    Ok(n > 0)
}

/// A member's bookings touching [from, to) (recurring ones that began before `to`), by start;
/// only the confirmed ones when `confirmed`.
async fn touching(conn: &mut Conn<'_>, user_id: i64, from: DateTime<Utc>, to: DateTime<Utc>, confirmed: bool) -> Result<Vec<Booking>> {
    touching_of(conn, &[user_id], from, to, confirmed).await
}

/// The same for several members at once (one query). On SQLite in one hop with diesel's own
/// row reader, as availability's events (the async wrapper reads rows a third as fast).
async fn touching_of(conn: &mut Conn<'_>, user_ids: &[i64], from: DateTime<Utc>, to: DateTime<Utc>, confirmed: bool) -> Result<Vec<Booking>> {
    let (from, to) = (from.naive_utc(), to.naive_utc());
    let statuses: &'static [&'static str] = if confirmed { &["confirmed"] } else { &["confirmed", "cancelled"] };
    let ids = user_ids.to_vec();
    macro_rules! query {
        () => {
            b::table
                .inner_join(u::table)
                .left_join(t::table)
                .filter(b::user_id.eq_any(&ids).and(b::start_at.lt(to)).and(b::status.eq_any(statuses)))
                .filter(b::end_at.gt(from).or(b::recurrence.is_not_null()))
                .order((b::start_at, b::id))
                .select(columns!())
        };
    }
    let rows: Vec<Row> = match conn {
        Conn::Pg(c) => query!().load(&mut **c).await?,
        Conn::Sqlite(c) => c.spawn_blocking(move |sc| diesel::RunQueryDsl::load(query!(), sc)).await?,
    };
    Ok(rows.into_iter().map(of_row).collect())
}

/// A member's confirmed bookings touching [from, to), by start (for their owner's feeds).
pub async fn confirmed(conn: &mut Conn<'_>, user_id: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Booking>> {
    touching(conn, user_id, from, to, true).await
}

/// A member's bookings touching [from, to), cancelled ones too, by start.
pub async fn list(conn: &mut Conn<'_>, actor: Actor, user: Option<&str>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Booking>> {
    let member = users::subject(conn, actor, user, MSG_OWN_ONLY).await?;
    touching(conn, member.id, from, to, false).await
}

/// The member's confirmed bookings as busy blocks over [from, to).
pub async fn blocks(conn: &mut Conn<'_>, user_id: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<availability::Block>> {
    Ok(blocks_of(conn, &[user_id], from, to).await?.remove(&user_id).unwrap_or_default())
}

/// The same for several members at once (one query), by member.
pub async fn blocks_of(conn: &mut Conn<'_>, user_ids: &[i64], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<std::collections::HashMap<i64, Vec<availability::Block>>> {
    let name: std::sync::Arc<str> = std::sync::Arc::from("Booking");
    let mut out: std::collections::HashMap<i64, Vec<availability::Block>> = std::collections::HashMap::new();
    for bk in touching_of(conn, user_ids, from, to, true).await? {
        let key: std::sync::Arc<str> = std::sync::Arc::from(format!("booking-{}", bk.id));
        let list = out.entry(bk.user_id).or_default();
        for slot in bk.slots(from, to, 10_000) {
            list.push(availability::Block { start: slot.start, end: slot.end, all_day: false, integration: key.clone(), integration_name: name.clone(), summary: slot.title, kind: "booking", rule: None });
        }
    }
    Ok(out)
}

/// Cancels a booking (it stops blocking time); `Conflict` when it is cancelled already.
pub async fn cancel(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str) -> Result<Booking> {
    let booking = get(conn, actor, id).await?;
    if booking.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED.into()));
    }
    let by = by.to_string();
    let at = now();
    let user_id = booking.user_id;
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let changed = run!(&mut c, |cc| diesel::update(b::table.find(id).filter(b::status.eq("confirmed")))
                .set((b::status.eq("cancelled"), b::version.eq(b::version + 1), b::modified_at.eq(at)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(MSG_CANCELLED.into()));
            }
            record(&mut c, id, "cancel", &by, Some(json!({"status": "confirmed"}).to_string()), Some(json!({"status": "cancelled"}).to_string()), at).await?;
            booking_copies::plan(&mut c, id, user_id, true, at).await
        })
    })
    .await?;
    get(conn, actor, id).await
}

/// A change to one occurrence of a recurring booking, as a caller typed it: `None` leaves a
/// field as the occurrence has it now.
#[derive(Debug, Clone, Default)]
pub struct OccurrenceChanges {
    /// The version of the booking the caller read.
    pub version: i64,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub allow_conflict: bool,
}

pub const MSG_NOT_RECURRING: &str = "This booking does not recur: change the booking itself.";
pub const MSG_OCCURRENCE_CANCELLED: &str = "This occurrence is cancelled already.";
pub const MSG_OCCURRENCE_OVER: &str = "This occurrence is over; it can no longer be changed.";

/// The booking (to change) and the occurrence `key` names, or what is wrong with them.
async fn occurrence_of(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, version: Option<i64>) -> Result<(Booking, DateTime<Utc>, String)> {
    let booking = get(conn, actor, id).await?;
    if booking.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED.into()));
    }
    if booking.recurrence.is_none() {
        return Err(Error::invalid("recurrence_id", MSG_NOT_RECURRING));
    }
    let original = parse_occurrence_key(key).filter(|t| is_occurrence(booking.start.and_utc(), booking.end.and_utc(), booking.tz(), booking.recurrence.as_deref(), *t));
    let Some(original) = original else {
        let first = occurrence_key(booking.start.and_utc());
        return Err(Error::invalid("recurrence_id", format!("'{key}' is not an occurrence of this booking: name one by its original start in UTC, such as {first} (the first).")));
    };
    if version.is_some_and(|v| v != booking.version) {
        return Err(Error::Conflict(msg_stale(booking.version)));
    }
    Ok((booking, original, occurrence_key(original)))
}

/// Saves a booking's changed occurrences (bumping its version, with a history row) and marks
/// its copy to be written.
async fn save_exceptions(conn: &mut Conn<'_>, booking: &Booking, exceptions: BTreeMap<String, Occurrence>, action: &'static str, by: &str) -> Result<()> {
    let (id, version, user_id) = (booking.id, booking.version, booking.user_id);
    let before = booking.snapshot();
    let after = Booking { exceptions: exceptions.clone(), ..booking.clone() }.snapshot();
    let by = by.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let at = now();
            let text = exceptions_text(&exceptions);
            let changed = run!(&mut c, |cc| diesel::update(b::table.find(id).filter(b::version.eq(version)).filter(b::status.eq("confirmed")))
                .set((b::exceptions.eq(&text), b::version.eq(b::version + 1), b::modified_at.eq(at)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(msg_stale(version + 1)));
            }
            record(&mut c, id, action, &by, Some(before.to_string()), Some(after.to_string()), at).await?;
            booking_copies::plan(&mut c, id, user_id, false, at).await
        })
    })
    .await
}

/// Moves or retitles one occurrence of a recurring booking (a cancelled one is brought back).
/// A move is checked for clashes like a booking; an occurrence changed back to what the series
/// says follows the series again.
pub async fn change_occurrence(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, by: &str, changes: OccurrenceChanges) -> Result<Outcome> {
    Ok(change_occurrence_with_warnings(conn, actor, id, key, by, changes).await?.outcome)
}

/// `change_occurrence`, also answering (for a move) the member's calendars it could not be
/// checked against, like `create_with_warnings`.
pub async fn change_occurrence_with_warnings(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, by: &str, changes: OccurrenceChanges) -> Result<Answer> {
    let (booking, original, key) = occurrence_of(conn, actor, id, key, Some(changes.version)).await?;
    let length = booking.end - booking.start;
    let now_ = booking.exceptions.get(&key).filter(|o| !o.cancelled).cloned().unwrap_or_default();
    let (title_was, start_was, end_was) = now_.resolve(original, &booking.title, length);
    let tz = booking.tz();
    let mut errors = Vec::new();
    let title = changes.title.as_deref().map(str::trim).map(str::to_string).unwrap_or(title_was);
    if title.is_empty() {
        errors.push(FieldMessage::new("title", "Title is required."));
    } else if title.chars().count() > TITLE_MAX {
        errors.push(FieldMessage::new("title", format!("Title cannot exceed {TITLE_MAX} characters.")));
    }
    let start = match &changes.start {
        Some(v) => instant("start", "Start", v, tz, &mut errors),
        None => Some(start_was),
    };
    let end = match &changes.end {
        Some(v) => instant("end", "End", v, tz, &mut errors),
        None => Some(end_was),
    };
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            errors.push(FieldMessage::new("end", "The end must be after the start."));
        }
        if s < Utc::now() - Duration::minutes(1) && s != start_was {
            errors.push(FieldMessage::new("start", "An occurrence cannot be moved into the past."));
        }
    }
    if end_was < Utc::now() && (start != Some(start_was) || end != Some(end_was)) {
        errors.push(FieldMessage::new("start", MSG_OCCURRENCE_OVER));
    }
    let (Some(start), Some(end)) = (start, end) else { return Err(Error::Invalid(Report::errors(errors))) };
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    let moved = start != start_was || end != end_was;
    let mut unchecked = Vec::new();
    if moved {
        let member = users::subject(conn, actor, Some(&booking.user), MSG_OWN_ONLY).await?;
        let one = Checked { member, title: title.clone(), tz, start, end, description: None, location: None, attendees: Vec::new(), recurrence: None };
        let (found, degraded) = look(conn, &one, Some(id), changes.allow_conflict).await?;
        if !found.is_empty() {
            return Ok(Answer { outcome: Outcome::Busy(found), unchecked: degraded });
        }
        unchecked = degraded;
    }
    let mut exceptions = booking.exceptions.clone();
    match Occurrence::of(original, &booking.title, length, false, &title, start, end) {
        Some(o) => exceptions.insert(key, o),
        None => exceptions.remove(&key),
    };
    if exceptions != booking.exceptions {
        save_exceptions(conn, &booking, exceptions, "update occurrence", by).await?;
    }
    Ok(Answer { outcome: Outcome::Booked(get(conn, actor, id).await?), unchecked })
}

/// Cancels one occurrence of a recurring booking (the rest of the series stays).
pub async fn cancel_occurrence(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, by: &str, version: Option<i64>) -> Result<Booking> {
    let (booking, original, key) = occurrence_of(conn, actor, id, key, version).await?;
    let now_ = booking.exceptions.get(&key).cloned().unwrap_or_default();
    if now_.cancelled {
        return Err(Error::Conflict(MSG_OCCURRENCE_CANCELLED.into()));
    }
    let (_, _, end) = now_.resolve(original, &booking.title, booking.end - booking.start);
    if end < Utc::now() {
        return Err(Error::Conflict(MSG_OCCURRENCE_OVER.into()));
    }
    let mut exceptions = booking.exceptions.clone();
    exceptions.insert(key, Occurrence { cancelled: true, ..Occurrence::default() });
    save_exceptions(conn, &booking, exceptions, "cancel occurrence", by).await?;
    get(conn, actor, id).await
}

/// A version from elsewhere (the calendar's copy, a conflict's resolution) taken into a booking,
/// inside the caller's transaction: its fields set, its version bumped, the change recorded as
/// `actor`. A booking changed since `b` was read is refused.
pub async fn take_fields(c: &mut Conn<'_>, b: &Booking, f: &super::merge::Fields, actor: &str) -> Result<()> {
    let at = now();
    let (s, e) = (f.start.naive_utc(), f.end.naive_utc());
    // A series keeps being one (its rule may change); a single meeting stays single.
    let rule = if b.recurrence.is_some() { f.recurrence.clone().or_else(|| b.recurrence.clone()) } else { None };
    // The per-occurrence changes that still fall on the (new) rule are kept.
    let exceptions = still_occurring(&f.occurrences, f.start, f.end, b.tz(), rule.as_deref());
    let text = exceptions_text(&exceptions);
    let attendees = f.attendees.join("\n");
    let changed = run!(c, |cc| diesel::update(b::table.find(b.id).filter(b::version.eq(b.version)))
        .set((b::title.eq(&f.title), b::start_at.eq(s), b::end_at.eq(e), b::location.eq(&f.location), b::description.eq(&f.description), b::attendees.eq(&attendees), b::recurrence.eq(&rule), b::exceptions.eq(&text), b::status.eq("confirmed"), b::version.eq(b::version + 1), b::modified_at.eq(at)))
        .execute(cc)
        .await)?;
    if changed == 0 {
        return Err(Error::Conflict(msg_stale(b.version + 1)));
    }
    let after = snapshot(&f.title, s, e, &b.time_zone, &rule, &f.description, &f.location, &attendees, "confirmed", &exceptions);
    record(c, b.id, "update", actor, Some(b.snapshot().to_string()), Some(after.to_string()), at).await
}

/// A booking cancelled because its copy was deleted in the calendar (inside the caller's
/// transaction).
pub async fn cancel_from(c: &mut Conn<'_>, b: &Booking, actor: &str) -> Result<()> {
    let at = now();
    let changed = run!(c, |cc| diesel::update(b::table.find(b.id).filter(b::version.eq(b.version)))
        .set((b::status.eq("cancelled"), b::version.eq(b::version + 1), b::modified_at.eq(at)))
        .execute(cc)
        .await)?;
    if changed == 0 {
        return Err(Error::Conflict(msg_stale(b.version + 1)));
    }
    record(c, b.id, "cancel", actor, Some(json!({"status": b.status}).to_string()), Some(json!({"status": "cancelled"}).to_string()), at).await
}

/// Refuses (`Conflict`) when the booking is no longer at `version`: it changed while a merge
/// looked at it (inside the caller's transaction).
pub async fn still(c: &mut Conn<'_>, id: i64, version: i64) -> Result<()> {
    let now: i64 = run!(c, |cc| b::table.find(id).select(b::version).first(cc).await)?;
    if now != version {
        return Err(Error::Conflict(msg_stale(now)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day).unwrap().and_hms_opt(h, m, 0).unwrap()
    }

    fn calendar(kind: health::Kind, last_sync: Option<NaiveDateTime>) -> health::Item {
        health::Item {
            integration: "MM-CI-00001".into(),
            integration_name: "Work (Google)".into(),
            user: "ana@example.com".into(),
            integration_type: "Google Calendar".into(),
            kind,
            since: last_sync.unwrap_or(at(1, 8, 0)),
            error: None,
            next_run: None,
            running: false,
            last_sync,
            stale_policy: "fail-open".into(),
        }
    }

    #[test]
    fn a_calendar_that_could_not_be_checked_is_named_with_its_last_sync_in_the_members_zone() {
        let berlin = chrono_tz::Europe::Berlin;
        // 08:12 UTC is 09:12 in Berlin in winter; asked the same day, the time alone.
        let failed = calendar(health::Kind::Failed, Some(at(2, 8, 12)));
        assert_eq!(msg_unchecked(&failed, berlin, at(2, 15, 0).and_utc()), "Booked, but 'Work (Google)' has not synced since 09:12 — a clash there would not be seen");
        // Asked on another day: the date too.
        assert_eq!(out_of_date(&failed, berlin, at(4, 15, 0).and_utc()), "has not synced since 2026-12-02 09:12");
        let never = calendar(health::Kind::NeverSynced, None);
        assert_eq!(msg_unchecked(&never, berlin, at(2, 15, 0).and_utc()), "Booked, but 'Work (Google)' has never synced — a clash there would not be seen");
        assert_eq!(
            msg_fail_closed(&failed, berlin, at(2, 15, 0).and_utc()),
            "'Work (Google)' has not synced since 09:12, and its policy is fail-closed: a clash there would not be seen, so the time counts as busy and nothing was saved. Sync it again, or override the conflict to book anyway."
        );
    }
}
