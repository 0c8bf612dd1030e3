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

use crate::db::schema::{bookings as b, change_history as ch, teams as t, users as u};
use crate::db::Conn;
use crate::domain::merge::Occurrence;
use crate::domain::{availability, health, now, push_queue, slots, teams, users, Actor, Error, FieldMessage, Report, Result};
use crate::providers::write::{occurrence_key, parse_occurrence_key};
use crate::run;

type Row = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    Option<String>,
    String,
    bool,
    i64,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    Option<String>,
);

macro_rules! columns {
    () => {
        (
            b::id,
            b::user_id,
            u::email,
            b::title,
            b::description,
            b::location,
            b::attendees,
            b::start_at,
            b::end_at,
            b::time_zone,
            b::recurrence,
            b::status,
            b::notify_attendees,
            b::version,
            b::created_by,
            b::created_at,
            b::modified_at,
            b::exceptions,
            t::name.nullable(),
        )
    };
}

mod check;
mod commands;
mod occurrences;
use check::*;
pub use commands::*;
pub use occurrences::*;

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
    pub fn fields(&self) -> crate::domain::merge::Fields {
        crate::domain::merge::Fields {
            title: self.title.clone(),
            start: self.start.and_utc(),
            end: self.end.and_utc(),
            location: self.location.clone(),
            description: self.description.clone(),
            attendees: self.attendees.clone(),
            occurrences: self.exceptions.clone(),
            recurrence: crate::domain::merge::rule(self.recurrence.as_deref()),
        }
    }

    fn snapshot(&self) -> serde_json::Value {
        snapshot(
            &self.title,
            self.start,
            self.end,
            &self.time_zone,
            &self.recurrence,
            &self.description,
            &self.location,
            &self.attendees.join("\n"),
            &self.status,
            &self.exceptions,
        )
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
        occurrences(self.start.and_utc(), self.end.and_utc(), self.tz(), self.recurrence.as_deref(), from, to, limit)
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| *s >= from)
            .collect()
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

// One per request, answered and dropped.
#[allow(clippy::large_enum_variant)]
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
            let when = if last.date_naive() == at.with_timezone(&tz).date_naive() {
                last.format("%H:%M").to_string()
            } else {
                last.format("%Y-%m-%d %H:%M").to_string()
            };
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

/// One booking, when the actor may see it (theirs, or any for an admin).
pub async fn get(conn: &mut Conn<'_>, actor: Actor, id: i64) -> Result<Booking> {
    let row: Option<Row> = run!(conn, |c| b::table.inner_join(u::table).left_join(t::table).filter(b::id.eq(id)).select(columns!()).first(c).await.optional())?;
    let Some(bk) = row.map(of_row) else { return Err(Error::NotFound) };
    if actor.is_admin || bk.user_id == actor.user_id || in_its_team(conn, actor, id).await? {
        Ok(bk)
    } else {
        Err(Error::NotFound)
    }
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
pub async fn blocks_of(
    conn: &mut Conn<'_>,
    user_ids: &[i64],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<std::collections::HashMap<i64, Vec<availability::Block>>> {
    let name: std::sync::Arc<str> = std::sync::Arc::from("Booking");
    let mut out: std::collections::HashMap<i64, Vec<availability::Block>> = std::collections::HashMap::new();
    for bk in touching_of(conn, user_ids, from, to, true).await? {
        let key: std::sync::Arc<str> = std::sync::Arc::from(format!("booking-{}", bk.id));
        let list = out.entry(bk.user_id).or_default();
        for slot in bk.slots(from, to, 10_000) {
            list.push(availability::Block {
                start: slot.start,
                end: slot.end,
                all_day: false,
                integration: key.clone(),
                integration_name: name.clone(),
                summary: slot.title,
                kind: "booking",
                rule: None,
            });
        }
    }
    Ok(out)
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
        assert_eq!(
            msg_unchecked(&failed, berlin, at(2, 15, 0).and_utc()),
            "Booked, but 'Work (Google)' has not synced since 09:12 — a clash there would not be seen"
        );
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
