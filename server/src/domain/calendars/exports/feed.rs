//! Writing an export link's feed with the icalendar crate. Private: each stored series with
//! its fields, recurrence rules and exceptions (moved, retitled or cancelled occurrences) and
//! the VTIMEZONEs of the zones used. Free/busy: each busy occurrence in UTC as "Busy", with a
//! UID derived from the link's secret (nothing of the source shows). With "include bookings",
//! the owner's bookings too, one event per occurrence (one already written into a calendar the
//! link covers is there once, as that calendar's event).
use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, Event, EventLike, EventStatus, Property};
use sha2::{Digest, Sha256};

use super::{Kind, Link};
use crate::db::schema::{calendar_integrations as ci, event_instances as ei, event_series as es};
use crate::db::Conn;
use crate::domain::{users, Result};
use crate::events::When;
use crate::run;

/// A rendered feed and its validators.
#[derive(Debug, Clone)]
pub struct Feed {
    pub body: String,
    /// Quoted, from the body: equal bodies, equal tags.
    pub etag: String,
    pub events: usize,
}

#[derive(Queryable)]
struct SeriesRow {
    integration_id: i64,
    uid: String,
    summary: String,
    description: Option<String>,
    location: Option<String>,
    organizer: Option<String>,
    attendees: String,
    recurrence: String,
    tzid: Option<String>,
    status: String,
    transparent: bool,
    sequence: i64,
    modified_at: NaiveDateTime,
    start_at: Option<i64>,
    end_at: Option<i64>,
    all_day: bool,
}

#[derive(Queryable)]
struct InstanceRow {
    integration_id: i64,
    uid: String,
    recurrence_id: String,
    start_at: i64,
    end_at: i64,
    all_day: bool,
    busy: bool,
    status: String,
    summary: String,
    tzid: Option<String>,
}

/// The calendars a link covers: the owner's active ones, or the chosen among them.
async fn calendars(conn: &mut Conn<'_>, link: &Link) -> Result<Vec<(i64, String)>> {
    let mut rows: Vec<(i64, String, String)> = run!(conn, |c| ci::table
        .filter(ci::user_id.eq(link.user_id).and(ci::is_active.eq(true)))
        .order(ci::id)
        .select((ci::id, ci::name, ci::integration_name))
        .load(c)
        .await)?;
    if let Some(chosen) = &link.integrations {
        rows.retain(|(_, name, _)| chosen.contains(name));
    }
    Ok(rows.into_iter().map(|(id, _, display)| (id, display)).collect())
}

/// A digest of everything a feed is made from, cheap to read (a few index lookups): the owner
/// (zone, name), the link's calendars and their records, the newest change-history row of
/// their events, and the year (the zones' span). Equal signatures, equal feeds: a conditional
/// GET is answered from it without writing the feed.
pub async fn signature(conn: &mut Conn<'_>, link: &Link) -> Result<String> {
    use crate::db::schema::{change_history as ch, users as u};
    let owner: NaiveDateTime = run!(conn, |c| u::table.find(link.user_id).select(u::modified_at).first(c).await)?;
    let mut cals: Vec<(i64, String, NaiveDateTime)> = run!(conn, |c| ci::table
        .filter(ci::user_id.eq(link.user_id).and(ci::is_active.eq(true)))
        .order(ci::id)
        .select((ci::id, ci::name, ci::modified_at))
        .load(c)
        .await)?;
    if let Some(chosen) = &link.integrations {
        cals.retain(|(_, name, _)| chosen.contains(name));
    }
    let ids: Vec<i64> = cals.iter().map(|c| c.0).collect();
    let newest: Option<i64> = run!(conn, |c| ch::table.filter(ch::integration_id.eq_any(&ids)).select(diesel::dsl::max(ch::id)).first(c).await)?;
    let mut h = Sha256::new();
    h.update(format!("{}|{}|{:?}|{}|", link.kind.as_str(), owner, newest, Utc::now().year()));
    for (id, _, modified) in &cals {
        h.update(format!("{id}:{modified};"));
    }
    if link.include_bookings {
        use crate::db::schema::bookings as b;
        let changed: Option<NaiveDateTime> =
            run!(conn, |c| b::table.filter(b::user_id.eq(link.user_id)).select(diesel::dsl::max(b::modified_at)).first(c).await)?;
        h.update(format!("bookings:{changed:?}"));
    }
    Ok(hex::encode(h.finalize()))
}

/// Renders the feed of `link`.
pub async fn render(conn: &mut Conn<'_>, link: &Link) -> Result<Feed> {
    let owner = users::get(conn, link.user_id).await?;
    let calendars = calendars(conn, link).await?;
    let ids: Vec<i64> = calendars.iter().map(|c| c.0).collect();
    let instances: Vec<InstanceRow> = run!(conn, |c| ei::table
        .filter(ei::integration_id.eq_any(&ids))
        .order((ei::integration_id, ei::uid, ei::start_at))
        .select((ei::integration_id, ei::uid, ei::recurrence_id, ei::start_at, ei::end_at, ei::all_day, ei::busy, ei::status, ei::summary, ei::tzid))
        .load(c)
        .await)?;
    let name = match link.kind {
        Kind::Private => calendars.iter().map(|c| c.1.as_str()).collect::<Vec<_>>().join(", "),
        Kind::FreeBusy => format!("{} (free/busy)", owner.display_name()),
    };
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"));
    cal.append_property(Property::new("PRODID", "-//calsync//export//EN"));
    cal.append_property(Property::new("CALSCALE", "GREGORIAN"));
    cal.append_property(Property::new("X-WR-CALNAME", if name.is_empty() { "calsync" } else { name.as_str() }));
    // DTSTAMP: when the link was made (a constant, so equal content gives equal bytes).
    let stamp = link.created_at.and_utc();
    let (events, timezones) = match link.kind {
        Kind::FreeBusy => (free_busy(&mut cal, link, owner.tz(), &instances, stamp), String::new()),
        Kind::Private => {
            let series: Vec<SeriesRow> = run!(conn, |c| es::table
                .filter(es::integration_id.eq_any(&ids))
                .order((es::integration_id, es::uid))
                .select((
                    es::integration_id,
                    es::uid,
                    es::summary,
                    es::description,
                    es::location,
                    es::organizer,
                    es::attendees,
                    es::recurrence,
                    es::tzid,
                    es::status,
                    es::transparent,
                    es::sequence,
                    es::modified_at,
                    es::start_at,
                    es::end_at,
                    es::all_day,
                ))
                .load(c)
                .await)?;
            private(&mut cal, &series, &instances)
        }
    };
    let events = events + if link.include_bookings { bookings(conn, &mut cal, link, &ids, stamp).await? } else { 0 };
    let mut body = cal.to_string();
    if !timezones.is_empty() {
        // At a line's start: a calendar's name may contain the same words.
        let at = body.find("\r\nBEGIN:VEVENT").or_else(|| body.rfind("\r\nEND:VCALENDAR")).map(|i| i + 2).unwrap_or(body.len());
        body.insert_str(at, &timezones);
    }
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(body.as_bytes()))[..32]);
    Ok(Feed { body, etag, events })
}

/// How far back and ahead a link's bookings go.
const BOOKINGS_BACK_DAYS: i64 = 31;
const BOOKINGS_AHEAD_DAYS: i64 = 366;

/// The owner's bookings, one event per occurrence, except those whose copy is in a calendar
/// the link covers. Private: their title and place; free/busy: "Busy" with a salted UID.
async fn bookings(conn: &mut Conn<'_>, cal: &mut Calendar, link: &Link, ids: &[i64], stamp: DateTime<Utc>) -> Result<usize> {
    use crate::db::schema::booking_copies as bc;
    let now = Utc::now();
    let (from, to) = (now - chrono::Duration::days(BOOKINGS_BACK_DAYS), now + chrono::Duration::days(BOOKINGS_AHEAD_DAYS));
    let covered: HashSet<i64> = run!(conn, |c| bc::table
        .filter(bc::integration_id.eq_any(ids).and(bc::external_id.is_not_null()).and(bc::action.eq(crate::domain::push_queue::PUT)))
        .select(bc::booking_id)
        .load::<i64>(c)
        .await)?
    .into_iter()
    .collect();
    let mut n = 0;
    for b in crate::domain::bookings::confirmed(conn, link.user_id, from, to).await?.into_iter().filter(|b| !covered.contains(&b.id)) {
        for slot in b.slots(from, to, 10_000) {
            let key = crate::providers::write::occurrence_key(slot.original);
            let mut e = Event::new();
            match link.kind {
                Kind::Private => {
                    e.uid(&format!("booking-{}-{}@calsync", b.id, key.replace([':', '-'], ""))).summary(&slot.title);
                    if let Some(place) = &b.location {
                        e.location(place);
                    }
                }
                Kind::FreeBusy => {
                    let mut h = Sha256::new();
                    for part in [link.token_hash.as_bytes(), b"booking", &b.id.to_le_bytes(), key.as_bytes()] {
                        h.update((part.len() as u64).to_le_bytes());
                        h.update(part);
                    }
                    e.uid(&format!("{}@calsync", &hex::encode(h.finalize())[..32])).summary("Busy");
                }
            }
            e.timestamp(stamp).starts(slot.start).ends(slot.end).add_property("TRANSP", "OPAQUE");
            cal.push(e.done());
            n += 1;
        }
    }
    Ok(n)
}

fn free_busy(cal: &mut Calendar, link: &Link, tz: Tz, instances: &[InstanceRow], stamp: DateTime<Utc>) -> usize {
    let mut n = 0;
    for i in instances.iter().filter(|i| i.busy) {
        let (start, end) = (When::from_timestamp(i.start_at, i.all_day).instant(tz), When::from_timestamp(i.end_at, i.all_day).instant(tz));
        // Stable for this link, meaningless elsewhere: the link's secret hash salts the key.
        let mut h = Sha256::new();
        for part in [link.token_hash.as_bytes(), &i.integration_id.to_le_bytes(), i.uid.as_bytes(), i.recurrence_id.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let uid = format!("{}@calsync", &hex::encode(h.finalize())[..32]);
        let mut e = Event::new();
        e.uid(&uid).timestamp(stamp).summary("Busy").starts(start).ends(end).add_property("TRANSP", "OPAQUE");
        cal.push(e.done());
        n += 1;
    }
    n
}

/// The zone a series is written in: its own when chrono-tz knows it (or one of its instances'
/// resolved zone), else UTC.
fn zone_of(s: &SeriesRow, instances: &[&InstanceRow]) -> Option<Tz> {
    let known = |z: &str| z.parse::<Tz>().ok();
    s.tzid.as_deref().and_then(known).or_else(|| instances.iter().find_map(|i| i.tzid.as_deref().and_then(known)))
}

/// A time as DTSTART, DTEND or RECURRENCE-ID write it: a date, local time in `tz`, or UTC.
fn time(w: When, tz: Option<Tz>) -> DatePerhapsTime {
    match (w, tz) {
        (When::Date(d), _) => DatePerhapsTime::Date(d),
        (When::At(t), Some(z)) => {
            DatePerhapsTime::DateTime(CalendarDateTime::WithTimezone { date_time: t.with_timezone(&z).naive_local(), tzid: z.name().to_string() })
        }
        (When::At(t), None) => DatePerhapsTime::DateTime(CalendarDateTime::Utc(t)),
    }
}

fn time_property(name: &str, w: When, tz: Option<Tz>) -> Property {
    // The same text the builder writes for DTSTART, under another name.
    let mut e = Event::new();
    e.starts(time(w, tz));
    let start = e.properties().get("DTSTART").cloned().unwrap_or_else(|| Property::new("DTSTART", ""));
    let mut p = Property::new(name, start.value());
    for (k, v) in start.params() {
        p.add_parameter(k, v.value());
    }
    p
}

/// A stored recurrence line (`RRULE:…`, `EXDATE;TZID=…:…`) as a property; a TZID the source
/// spelled otherwise becomes the zone the series is written in.
fn recurrence_property(line: &str, zone: Option<Tz>) -> Option<Property> {
    let (head, value) = line.split_once(':')?;
    let mut parts = head.split(';');
    let name = parts.next()?.trim().to_ascii_uppercase();
    if !matches!(name.as_str(), "RRULE" | "RDATE" | "EXDATE" | "EXRULE") {
        return None;
    }
    let mut p = Property::new(&name, value.trim());
    for param in parts {
        if let Some((k, v)) = param.split_once('=') {
            let v = match (k.eq_ignore_ascii_case("TZID"), zone) {
                (true, Some(z)) => z.name().to_string(),
                _ => v.to_string(),
            };
            p.add_parameter(&k.to_ascii_uppercase(), &v);
        }
    }
    Some(p)
}

/// Do these recurrence lines hold a floating time (no `Z`, no TZID)? Then the rule was written
/// for wall-clock time, which a UTC DTSTART would not keep across a DST change.
fn floating_values(recurrence: &str) -> bool {
    recurrence.lines().any(|line| {
        let Some((head, value)) = line.split_once(':') else { return false };
        if head.to_ascii_uppercase().contains("TZID=") {
            return false;
        }
        let floating = |v: &str| v.contains('T') && !v.trim().ends_with('Z');
        match head.split(';').next().unwrap_or("").trim().to_ascii_uppercase().as_str() {
            "RRULE" | "EXRULE" => value.split(';').filter_map(|p| p.split_once('=')).any(|(k, v)| k.eq_ignore_ascii_case("UNTIL") && floating(v)),
            _ => value.split(',').any(floating),
        }
    })
}

/// Can this series be written as its rule? Not when its zone is one chrono-tz does not know (a
/// feed's own VTIMEZONE) or its times float: then its occurrences are written instead.
fn rule_is_faithful(s: &SeriesRow, zone: Option<Tz>) -> bool {
    if s.recurrence.trim().is_empty() || s.all_day {
        return true;
    }
    match (&s.tzid, zone) {
        (Some(_), None) => false,
        (None, _) => !floating_values(&s.recurrence),
        _ => true,
    }
}

fn status_of(s: &str) -> Option<EventStatus> {
    match s {
        "cancelled" => Some(EventStatus::Cancelled),
        "tentative" => Some(EventStatus::Tentative),
        _ => None,
    }
}

fn private(cal: &mut Calendar, series: &[SeriesRow], instances: &[InstanceRow]) -> (usize, String) {
    let mut by_series: HashMap<(i64, &str), Vec<&InstanceRow>> = HashMap::new();
    for i in instances {
        by_series.entry((i.integration_id, i.uid.as_str())).or_default().push(i);
    }
    // A UID twice (the same event in two calendars) is written once per calendar, the later
    // ones under a UID of their own.
    let mut uids: HashSet<String> = HashSet::new();
    let mut zones: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut events: Vec<Event> = Vec::new();
    let stamp_of = |s: &SeriesRow| s.modified_at.and_utc();
    for s in series {
        let own = by_series.get(&(s.integration_id, s.uid.as_str())).cloned().unwrap_or_default();
        let uid = if uids.insert(s.uid.clone()) { s.uid.clone() } else { format!("{}-{}", s.uid, s.integration_id) };
        uids.insert(uid.clone());
        let zone = zone_of(s, &own);
        let fields = |e: &mut Event| {
            e.uid(&uid).timestamp(stamp_of(s)).summary(&s.summary).sequence(s.sequence.clamp(0, u32::MAX as i64) as u32);
            if let Some(d) = &s.description {
                e.description(d);
            }
            if let Some(l) = &s.location {
                e.location(l);
            }
            if let Some(o) = &s.organizer {
                e.add_property("ORGANIZER", format!("mailto:{o}"));
            }
            for a in s.attendees.lines().filter(|a| !a.is_empty()) {
                e.append_multi_property(Property::new("ATTENDEE", format!("mailto:{a}")));
            }
            if let Some(st) = status_of(&s.status) {
                e.status(st);
            }
            if s.transparent {
                e.add_property("TRANSP", "TRANSPARENT");
            }
        };
        match (s.start_at, s.end_at) {
            (Some(start), Some(end)) if rule_is_faithful(s, zone) => {
                let (start, end) = (When::from_timestamp(start, s.all_day), When::from_timestamp(end, s.all_day));
                let mut master = Event::new();
                fields(&mut master);
                master.starts(time(start, zone)).ends(time(end, zone));
                for line in s.recurrence.lines() {
                    if let Some(p) = recurrence_property(line, zone) {
                        master.append_multi_property(p);
                    }
                }
                if let (Some(z), When::At(t)) = (zone, start) {
                    zones.insert((z.name().to_string(), t.year()));
                }
                events.push(master.done());
                if s.recurrence.trim().is_empty() {
                    continue;
                }
                // Exceptions: stored occurrences that differ from what the rule makes.
                let length = end.naive() - start.naive();
                let series_busy = s.status != "cancelled" && !s.transparent;
                for i in &own {
                    let Some(rid) = When::parse(&i.recurrence_id) else { continue };
                    let (is, ie) = (When::from_timestamp(i.start_at, i.all_day), When::from_timestamp(i.end_at, i.all_day));
                    let default_end = When::from_naive(rid.naive() + length, rid.is_date());
                    if is == rid && ie == default_end && i.summary == s.summary && i.status == s.status && i.busy == series_busy {
                        continue;
                    }
                    events.push(exception(&uid, stamp_of(s), i, rid, (is, ie), zone));
                }
            }
            // No master's times (occurrences only), or a rule that cannot be written faithfully:
            // each stored occurrence as it is.
            _ => {
                for i in &own {
                    let (is, ie) = (When::from_timestamp(i.start_at, i.all_day), When::from_timestamp(i.end_at, i.all_day));
                    let mut e = Event::new();
                    fields(&mut e);
                    e.starts(time(is, zone)).ends(time(ie, zone)).summary(&i.summary);
                    if let Some(rid) = When::parse(&i.recurrence_id) {
                        e.append_property(time_property("RECURRENCE-ID", rid, zone));
                    }
                    if let (Some(z), When::At(t)) = (zone, is) {
                        zones.insert((z.name().to_string(), t.year()));
                    }
                    events.push(e.done());
                }
            }
        }
    }
    let n = events.len();
    for e in events {
        cal.push(e);
    }
    // The zones used, each from its earliest year to ten years ahead (each change is listed;
    // readers that know the IANA name need none of it). The crate has no VTIMEZONE builder (its
    // parser would stamp one with a DTSTAMP and a random UID), so the text is placed in.
    let mut first_year: HashMap<String, i32> = HashMap::new();
    for (z, y) in zones {
        let e = first_year.entry(z).or_insert(y);
        *e = (*e).min(y);
    }
    let ahead = Utc::now().year() + 10;
    let mut names: Vec<_> = first_year.into_iter().collect();
    names.sort();
    let timezones: String =
        names.into_iter().filter_map(|(name, year)| Some(super::zones::vtimezone(name.parse::<Tz>().ok()?, year.max(1970), ahead.max(year)))).collect();
    (n, timezones)
}

/// An occurrence that is not what the rule makes: moved, retitled, cancelled or freed.
fn exception(uid: &str, stamp: DateTime<Utc>, i: &InstanceRow, rid: When, (start, end): (When, When), zone: Option<Tz>) -> Event {
    let mut e = Event::new();
    e.uid(uid).timestamp(stamp).summary(&i.summary).starts(time(start, zone)).ends(time(end, zone));
    e.append_property(time_property("RECURRENCE-ID", rid, zone));
    if let Some(st) = status_of(&i.status) {
        e.status(st);
    }
    if !i.busy && i.status != "cancelled" {
        e.add_property("TRANSP", "TRANSPARENT");
    }
    e.done()
}
