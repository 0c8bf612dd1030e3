//! A member's working hours, rules and date overrides (the spec's MM User Settings, MM User
//! Availability Rule and MM User Date Overrides): read and set by the member, or by an admin for
//! anyone; someone else's are not found. Checked on the way in: bad input changes nothing.
use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{availability_settings as s, date_overrides as o};
use crate::db::Conn;
use crate::domain::hours::{self, Hours, HoursText};
use crate::domain::{now, users, Actor, Error, FieldMessage, Report, Result};
use crate::run;

/// A member's settings as they are entered and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub time_zone: String,
    /// `None`: available at any time (no hours set).
    pub working_hours: Option<Vec<HoursText>>,
    pub buffer_before_minutes: i64,
    pub buffer_after_minutes: i64,
    pub minimum_notice_minutes: i64,
    pub max_bookings_per_day: Option<i64>,
    pub max_bookings_per_week: Option<i64>,
}

impl Settings {
    /// What a member without settings has: any time, no rules, in their profile's zone.
    pub fn none(user: &users::User) -> Settings {
        Settings {
            time_zone: user.time_zone.clone(),
            working_hours: None,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            minimum_notice_minutes: 0,
            max_bookings_per_day: None,
            max_bookings_per_week: None,
        }
    }
}

/// The rules the slot search and a booking apply for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub hours: Hours,
    pub buffer_before: Duration,
    pub buffer_after: Duration,
    pub notice: Duration,
    pub per_day: Option<i64>,
    pub per_week: Option<i64>,
}

impl Rules {
    pub fn any_time(tz: Tz) -> Rules {
        Rules {
            hours: Hours::any_time(tz),
            buffer_before: Duration::zero(),
            buffer_after: Duration::zero(),
            notice: Duration::zero(),
            per_day: None,
            per_week: None,
        }
    }
}

pub const MAX_BUFFER: i64 = 24 * 60;
pub const MAX_NOTICE: i64 = 365 * 24 * 60;

/// The member an actor may see the settings of: themselves, or anyone for an admin. Anyone
/// else's are not found (not even whether they exist).
async fn member(conn: &mut Conn<'_>, actor: Actor, email: &str) -> Result<users::User> {
    match users::find_by_email(conn, email).await? {
        Some(u) if actor.is_admin || u.id == actor.user_id => Ok(u),
        _ => Err(Error::NotFound),
    }
}

type SettingsRow = (String, Option<String>, i64, i64, i64, Option<i64>, Option<i64>);

fn of_row(r: SettingsRow) -> Settings {
    Settings {
        time_zone: r.0,
        working_hours: r.1.and_then(|t| serde_json::from_str(&t).ok()),
        buffer_before_minutes: r.2,
        buffer_after_minutes: r.3,
        minimum_notice_minutes: r.4,
        max_bookings_per_day: r.5,
        max_bookings_per_week: r.6,
    }
}

macro_rules! settings_columns {
    () => {
        (
            s::time_zone,
            s::working_hours,
            s::buffer_before_minutes,
            s::buffer_after_minutes,
            s::minimum_notice_minutes,
            s::max_bookings_per_day,
            s::max_bookings_per_week,
        )
    };
}

/// A member's settings (what a member without any has, when none are saved).
pub async fn settings(conn: &mut Conn<'_>, actor: Actor, email: &str) -> Result<(users::User, Settings)> {
    let user = member(conn, actor, email).await?;
    let id = user.id;
    let row: Option<SettingsRow> = run!(conn, |c| s::table.find(id).select(settings_columns!()).first(c).await.optional())?;
    let settings = row.map(of_row).unwrap_or_else(|| Settings::none(&user));
    Ok((user, settings))
}

fn zone(value: &str, errors: &mut Vec<FieldMessage>) -> Option<Tz> {
    match value.trim().parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(FieldMessage::new("time_zone", format!("'{}' is not a time zone: use an IANA name such as Europe/Berlin.", value.trim())));
            None
        }
    }
}

fn minutes(field: &str, value: i64, max: i64, errors: &mut Vec<FieldMessage>) {
    if value < 0 {
        errors.push(FieldMessage::new(field, format!("{field} cannot be negative.")));
    } else if value > max {
        errors.push(FieldMessage::new(field, format!("{field} can be at most {max}.")));
    }
}

fn limit(field: &str, value: Option<i64>, errors: &mut Vec<FieldMessage>) {
    match value {
        Some(n) if n < 0 => errors.push(FieldMessage::new(field, format!("{field} cannot be negative."))),
        Some(0) => errors.push(FieldMessage::new(field, format!("{field} must be at least 1 (null: no limit)."))),
        _ => {}
    }
}

/// Checks settings, with a message per field.
pub fn check(new: &Settings) -> Result<()> {
    let mut errors = Vec::new();
    zone(&new.time_zone, &mut errors);
    if let Some(entries) = &new.working_hours {
        hours::weekly(entries, &mut errors);
    }
    minutes("buffer_before_minutes", new.buffer_before_minutes, MAX_BUFFER, &mut errors);
    minutes("buffer_after_minutes", new.buffer_after_minutes, MAX_BUFFER, &mut errors);
    minutes("minimum_notice_minutes", new.minimum_notice_minutes, MAX_NOTICE, &mut errors);
    limit("max_bookings_per_day", new.max_bookings_per_day, &mut errors);
    limit("max_bookings_per_week", new.max_bookings_per_week, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(Report::errors(errors)))
    }
}

/// Replaces a member's settings (checked first: refused ones change nothing).
pub async fn put_settings(conn: &mut Conn<'_>, actor: Actor, email: &str, new: Settings) -> Result<Settings> {
    let user = member(conn, actor, email).await?;
    check(&new)?;
    let mut new = new;
    new.time_zone = new.time_zone.trim().parse::<Tz>().map(|t| t.name().to_string()).unwrap_or(new.time_zone);
    let hours_text = new.working_hours.as_ref().map(|h| serde_json::to_string(h).unwrap_or_else(|_| "[]".into()));
    let at = now();
    let id = user.id;
    let n = &new;
    let values = (
        s::user_id.eq(id),
        s::time_zone.eq(&n.time_zone),
        s::working_hours.eq(hours_text.as_deref()),
        s::buffer_before_minutes.eq(n.buffer_before_minutes),
        s::buffer_after_minutes.eq(n.buffer_after_minutes),
        s::minimum_notice_minutes.eq(n.minimum_notice_minutes),
        s::max_bookings_per_day.eq(n.max_bookings_per_day),
        s::max_bookings_per_week.eq(n.max_bookings_per_week),
        s::modified_at.eq(at),
    );
    run!(conn, |c| diesel::insert_into(s::table).values(values).on_conflict(s::user_id).do_update().set(values).execute(c).await)?;
    Ok(new)
}

pub fn parse_date(value: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| Error::invalid("date", format!("'{}' is not a date such as 2026-12-24.", value.trim())))
}

/// A member's date overrides, by date.
pub async fn overrides(conn: &mut Conn<'_>, actor: Actor, email: &str) -> Result<(users::User, Vec<(NaiveDate, Vec<HoursText>)>)> {
    let user = member(conn, actor, email).await?;
    let id = user.id;
    let rows: Vec<(String, String)> = run!(conn, |c| o::table.filter(o::user_id.eq(id)).order(o::day).select((o::day, o::hours)).load(c).await)?;
    let list =
        rows.into_iter().filter_map(|(d, h)| Some((NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()?, serde_json::from_str(&h).unwrap_or_default()))).collect();
    Ok((user, list))
}

/// Sets the hours of one date (`[]`: unavailable that day), replacing any set before.
pub async fn put_override(conn: &mut Conn<'_>, actor: Actor, email: &str, date: &str, entries: Vec<HoursText>) -> Result<(NaiveDate, Vec<HoursText>)> {
    let user = member(conn, actor, email).await?;
    let day = parse_date(date)?;
    let mut errors = Vec::new();
    hours::day(&entries, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    let text = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into());
    let (id, key, at) = (user.id, day.to_string(), now());
    let values = (o::user_id.eq(id), o::day.eq(&key), o::hours.eq(&text), o::modified_at.eq(at));
    run!(conn, |c| diesel::insert_into(o::table)
        .values(values)
        .on_conflict((o::user_id, o::day))
        .do_update()
        .set((o::hours.eq(&text), o::modified_at.eq(at)))
        .execute(c)
        .await)?;
    Ok((day, entries))
}

/// Removes a date's override (the weekly hours apply again); not found when there is none.
pub async fn delete_override(conn: &mut Conn<'_>, actor: Actor, email: &str, date: &str) -> Result<()> {
    let user = member(conn, actor, email).await?;
    let key = parse_date(date)?.to_string();
    let id = user.id;
    let n = run!(conn, |c| diesel::delete(o::table.filter(o::user_id.eq(id).and(o::day.eq(&key)))).execute(c).await)?;
    if n == 0 {
        Err(Error::NotFound)
    } else {
        Ok(())
    }
}

/// The rules of each of `users` with the overrides of dates in [first, last]: one query each
/// for settings and overrides, whatever the number of members.
pub async fn rules(conn: &mut Conn<'_>, users: &[users::User], first: NaiveDate, last: NaiveDate) -> Result<HashMap<i64, Rules>> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let ids2 = ids.clone();
    let rows: Vec<(i64, SettingsRow)> = run!(conn, |c| s::table.filter(s::user_id.eq_any(&ids)).select((s::user_id, settings_columns!())).load(c).await)?;
    let (lo, hi) = (first.to_string(), last.to_string());
    let days: Vec<(i64, String, String)> =
        run!(conn, |c| o::table.filter(o::user_id.eq_any(&ids2).and(o::day.ge(&lo)).and(o::day.le(&hi))).select((o::user_id, o::day, o::hours)).load(c).await)?;
    let mut by_user: HashMap<i64, BTreeMap<NaiveDate, Vec<hours::Interval>>> = HashMap::new();
    for (id, d, h) in days {
        if let Ok(d) = NaiveDate::parse_from_str(&d, "%Y-%m-%d") {
            by_user.entry(id).or_default().insert(d, hours::stored_day(&h));
        }
    }
    let mut settings: HashMap<i64, SettingsRow> = rows.into_iter().collect();
    Ok(users
        .iter()
        .map(|u| {
            let overrides = by_user.remove(&u.id).unwrap_or_default();
            let rules = match settings.remove(&u.id) {
                Some((tz, weekly, before, after, notice, per_day, per_week)) => Rules {
                    hours: Hours { tz: tz.parse().unwrap_or(u.tz()), weekly: weekly.as_deref().and_then(hours::stored_weekly), overrides },
                    buffer_before: Duration::minutes(before),
                    buffer_after: Duration::minutes(after),
                    notice: Duration::minutes(notice),
                    per_day,
                    per_week,
                },
                None => Rules { hours: Hours { overrides, ..Hours::any_time(u.tz()) }, ..Rules::any_time(u.tz()) },
            };
            (u.id, rules)
        })
        .collect())
}
