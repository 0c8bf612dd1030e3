//! Availability: a user's busy time over a range, from the instances of their active calendars
//! (cancelled and free events never block; all-day events block whole days in the user's
//! zone). Touching intervals merge; each merged interval names what is in it.
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::busy::Kind;
use crate::db::schema::{booking_copies as bc, calendar_integrations as ci, event_instances as ei};
use crate::db::Conn;
use crate::domain::{health, integrations::StalePolicy, users, Error, Result};
use crate::events::{Fingerprint, When};

pub const MSG_OWN_ONLY: &str = "You can only see your own availability.";

/// One busy event as the week view draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub all_day: bool,
    /// The calendar's record name (MM-CI-…) and its display name.
    pub integration: Arc<str>,
    pub integration_name: Arc<str>,
    pub summary: String,
    /// `event`, or `out-of-date`: a fail-closed calendar that is out of date blocks everything.
    pub kind: &'static str,
    /// An event's kind (`crate::busy::Kind`), which the calendar's rules made block.
    pub rule: Option<&'static str>,
}

/// What makes an interval busy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub kind: &'static str,
    pub rule: Option<&'static str>,
    pub integration: Arc<str>,
    pub integration_name: Arc<str>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub sources: Vec<Source>,
}

type Row = (i64, i64, bool, String, i64, String);

/// The busy events of `user_id` overlapping [from, to), in start order, not clipped.
pub async fn blocks(conn: &mut Conn<'_>, user_id: i64, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Block>> {
    Ok(blocks_of(conn, &[(user_id, tz)], from, to).await?.remove(&user_id).unwrap_or_default())
}

/// The same for several users (each with their zone, for all-day events) in one hop, by user.
pub async fn blocks_of(conn: &mut Conn<'_>, users: &[(i64, Tz)], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<HashMap<i64, Vec<Block>>> {
    // All-day rows are stored at midnight of their date; a day longer on each side finds them
    // whatever the user's zone.
    let (lo, hi) = ((from - Duration::days(1)).timestamp(), (to + Duration::days(1)).timestamp());
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    // The users' active calendars, whose names every block then shares instead of reading and
    // allocating them per row, and their busy rows: the hot query of availability. On SQLite
    // both run in one hop to the connection's thread with diesel's own row reader (through the
    // async wrapper the same 5,000 rows took three times as long).
    macro_rules! calendars {
        ($ids:expr) => {
            ci::table.filter(ci::user_id.eq_any($ids).and(ci::is_active.eq(true)))
        };
    }
    macro_rules! busy_rows {
        ($ids:expr) => {
            ei::table
                .filter(ei::integration_id.eq_any(calendars!($ids).select(ci::id)))
                .filter(ei::busy.eq(true))
                .filter(ei::start_at.lt(hi).and(ei::end_at.gt(lo)))
                // A booking's own copy counts once, as the booking.
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    bc::table.filter(bc::integration_id.eq(ei::integration_id.nullable()).and(bc::external_id.eq(ei::uid.nullable()))),
                )))
                .select((ei::start_at, ei::end_at, ei::all_day, ei::summary, ei::integration_id, ei::kind))
        };
    }
    type Calendar = (i64, i64, String, String);
    let (calendars, rows): (Vec<Calendar>, Vec<Row>) = match conn {
        Conn::Pg(c) => {
            (calendars!(&ids).select((ci::id, ci::user_id, ci::name, ci::integration_name)).load(&mut **c).await?, busy_rows!(&ids).load(&mut **c).await?)
        }
        Conn::Sqlite(c) => {
            c.spawn_blocking(move |sc| {
                let calendars = diesel::RunQueryDsl::load(calendars!(&ids).select((ci::id, ci::user_id, ci::name, ci::integration_name)), sc)?;
                Ok((calendars, diesel::RunQueryDsl::load(busy_rows!(&ids), sc)?))
            })
            .await?
        }
    };
    // A user has a handful of calendars: a short list beats hashing per row.
    let names: Vec<(i64, i64, Tz, Arc<str>, Arc<str>)> = calendars
        .into_iter()
        .map(|(id, user, name, display)| {
            (id, user, users.iter().find(|u| u.0 == user).map(|u| u.1).unwrap_or(chrono_tz::UTC), Arc::from(name), Arc::from(display))
        })
        .collect();
    let mut out: HashMap<i64, Vec<Block>> = users.iter().map(|u| (u.0, Vec::new())).collect();
    for (s, e, all_day, summary, id, kind) in rows {
        let Some((_, user, tz, integration, integration_name)) = names.iter().find(|n| n.0 == id) else { continue };
        let (start, end) = (When::from_timestamp(s, all_day).instant(*tz), When::from_timestamp(e, all_day).instant(*tz));
        if start < to && end > from {
            out.entry(*user).or_default().push(Block {
                start,
                end,
                all_day,
                integration: integration.clone(),
                integration_name: integration_name.clone(),
                summary,
                kind: "event",
                rule: Some(Kind::parse(&kind).unwrap_or(Kind::Busy).as_str()),
            });
        }
    }
    for list in out.values_mut() {
        list.sort_unstable_by_key(|b| (b.start, b.end));
    }
    Ok(out)
}

/// A `Hasher` for keys that are hashes already.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Merges blocks into busy intervals inside [from, to); touching intervals merge. A source
/// (calendar and summary) is named once per interval.
pub fn merge(blocks: Vec<Block>, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Busy> {
    let mut out: Vec<Busy> = Vec::new();
    // The keys are fingerprints already: hash them no further.
    let mut seen: HashSet<u64, BuildHasherDefault<Prehashed>> = HashSet::default();
    for b in blocks {
        let (start, end) = (b.start.max(from), b.end.min(to));
        if end < start {
            continue;
        }
        let mut key = Fingerprint::new();
        key.add(b.integration.as_bytes());
        key.add(b.summary.as_bytes());
        let source = Source { kind: b.kind, rule: b.rule, integration: b.integration, integration_name: b.integration_name, summary: b.summary };
        match out.last_mut() {
            Some(last) if start <= last.end => {
                last.end = last.end.max(end);
                if seen.insert(key.value()) {
                    last.sources.push(source);
                }
            }
            _ => {
                seen.clear();
                seen.insert(key.value());
                out.push(Busy { start, end, sources: vec![source] });
            }
        }
    }
    out
}

/// The user an actor asks about: themselves, or anyone for an admin.
pub async fn subject(conn: &mut Conn<'_>, actor: crate::domain::Actor, email: Option<&str>) -> Result<users::User> {
    users::subject(conn, actor, email, MSG_OWN_ONLY).await
}

pub const OUT_OF_DATE: &str = "out-of-date";

/// The busy events of a user over [from, to) as availability counts them, with the calendars
/// whose busy time cannot be trusted (failed, stale, never synced). Each of those that is
/// fail-closed makes the whole range busy.
pub async fn known(conn: &mut Conn<'_>, user: &users::User, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(Vec<Block>, Vec<health::Item>)> {
    Ok(known_of(conn, std::slice::from_ref(user), from, to).await?.remove(0))
}

/// The same for several users, in a fixed number of queries whatever their number; in order.
pub async fn known_of(conn: &mut Conn<'_>, users: &[users::User], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<(Vec<Block>, Vec<health::Item>)>> {
    let zones: Vec<(i64, Tz)> = users.iter().map(|u| (u.id, u.tz())).collect();
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let mut events = blocks_of(conn, &zones, from, to).await?;
    let mut booked = crate::domain::bookings::blocks_of(conn, &ids, from, to).await?;
    let all_degraded = health::degraded_of(conn, &ids, crate::domain::now()).await?;
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        let mut blocks = events.remove(&user.id).unwrap_or_default();
        let degraded: Vec<health::Item> = all_degraded.iter().filter(|d| d.user == user.email).cloned().collect();
        let mut extra = booked.remove(&user.id).unwrap_or_default();
        extra.extend(degraded.iter().filter(|d| d.stale_policy == StalePolicy::FailClosed.as_str()).map(|d| Block {
            start: from,
            end: to,
            all_day: false,
            integration: Arc::from(d.integration.as_str()),
            integration_name: Arc::from(d.integration_name.as_str()),
            summary: format!("{} calendar: treated as busy", d.kind.as_str()),
            kind: OUT_OF_DATE,
            rule: None,
        }));
        if !extra.is_empty() {
            blocks.extend(extra);
            blocks.sort_by_key(|b| (b.start, b.end));
        }
        out.push((blocks, degraded));
    }
    Ok(out)
}

/// Busy intervals of a user over a range, and the calendars that make them incomplete.
pub async fn busy(conn: &mut Conn<'_>, user: &users::User, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<(Vec<Busy>, Vec<health::Item>)> {
    let (blocks, degraded) = known(conn, user, from, to).await?;
    Ok((merge(blocks, from, to), degraded))
}

/// Is [start, end) free? If not, what is in the way; and which calendars could not be trusted.
pub async fn conflicts(conn: &mut Conn<'_>, user: &users::User, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<(Vec<Block>, Vec<health::Item>)> {
    let (blocks, degraded) = known(conn, user, start, end).await?;
    Ok((blocks.into_iter().filter(|b| b.start < end && b.end > start).collect(), degraded))
}

/// Reads a range bound: an RFC 3339 instant, or a date at midnight in `tz`.
pub fn parse_bound(field: &str, value: &str, tz: Tz) -> Result<DateTime<Utc>> {
    When::parse_bound(value, tz)
        .ok_or_else(|| Error::invalid(field, format!("'{}' is not a date (2026-05-04) or an RFC 3339 time (2026-05-04T09:00:00Z).", value.trim())))
}

/// Checks a range: both ends readable, `to` after `from`, at most a year.
pub fn parse_range(from: Option<&str>, to: Option<&str>, tz: Tz, names: (&str, &str)) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let (from_name, to_name) = names;
    let from = parse_bound(from_name, from.ok_or_else(|| Error::invalid(from_name, format!("{from_name} is required.")))?, tz)?;
    let to = parse_bound(to_name, to.ok_or_else(|| Error::invalid(to_name, format!("{to_name} is required.")))?, tz)?;
    if to <= from {
        return Err(Error::invalid(to_name, format!("{to_name} must be after {from_name}.")));
    }
    if to - from > Duration::days(366) {
        return Err(Error::invalid(to_name, "The range can be at most a year."));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap().and_hms_opt(h, 0, 0).unwrap().and_utc()
    }

    fn block(s: u32, e: u32, cal: &str, summary: &str) -> Block {
        Block {
            start: t(s),
            end: t(e),
            all_day: false,
            integration: cal.into(),
            integration_name: cal.into(),
            summary: summary.into(),
            kind: "event",
            rule: Some("busy"),
        }
    }

    #[test]
    fn touching_and_overlapping_intervals_merge_and_keep_their_sources() {
        let blocks = vec![block(9, 10, "A", "x"), block(10, 11, "B", "y"), block(10, 12, "A", "z"), block(14, 15, "A", "w")];
        let merged = merge(blocks.clone(), t(0), t(23));
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].start, merged[0].end), (t(9), t(12)));
        assert_eq!(merged[0].sources.iter().map(|s| s.summary.as_str()).collect::<Vec<_>>(), vec!["x", "y", "z"]);
        assert_eq!((merged[1].start, merged[1].end), (t(14), t(15)));
        // Clipped to the range.
        assert_eq!(merge(blocks, t(10), t(11))[0].start, t(10));
    }
}
