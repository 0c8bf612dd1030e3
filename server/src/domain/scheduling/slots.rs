//! When members can meet: a meeting is possible for a member when it lies inside their working
//! hours (or that day's override), starts after now plus their minimum notice, their day's and
//! week's booking limits are not reached, and the meeting widened by their buffers overlaps none
//! of their busy time (external events, bookings, a fail-closed calendar out of date). Used by the
//! slot search, by a team booking to pick its member, and by every booking to check its member.
use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::db::Conn;
use crate::domain::availability::{self, Block, OUT_OF_DATE};
use crate::domain::hours::week_of;
use crate::domain::working_hours::{self, Rules};
use crate::domain::{health, users, Result};

/// One member over a range: their rules, what is busy, and their bookings counted per local day
/// and week.
#[derive(Debug, Clone)]
pub struct Member {
    pub user: users::User,
    pub rules: Rules,
    /// In start order; over the range widened by the buffers and to whole local weeks.
    pub busy: Vec<Block>,
    pub degraded: Vec<health::Item>,
    per_day: HashMap<NaiveDate, i64>,
    per_week: HashMap<NaiveDate, i64>,
}

/// Why a member cannot take a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Inactive,
    OutsideHours,
    /// The member's minimum notice, in minutes.
    Notice(i64),
    DayLimit(i64),
    WeekLimit(i64),
    /// Something busy in the way; `buffer`: only the time kept free around the meeting is.
    Busy {
        block: Block,
        buffer: bool,
    },
    /// A fail-closed calendar out of date makes all the member's time busy.
    Closed {
        block: Block,
        item: health::Item,
    },
}

impl Reason {
    /// What a person reads after the member's email; times in `tz`.
    pub fn text(&self, m: &Member, tz: Tz) -> String {
        match self {
            Reason::Inactive => "inactive".into(),
            Reason::OutsideHours => "outside working hours".into(),
            Reason::Notice(n) => format!("less than {n} minutes' notice"),
            Reason::DayLimit(n) => format!("{n} {} that day, the limit", plural(*n)),
            Reason::WeekLimit(n) => format!("{n} {} that week, the limit", plural(*n)),
            Reason::Busy { block, buffer } => {
                let (s, e) = (block.start.with_timezone(&tz), block.end.with_timezone(&tz));
                let when = if s.date_naive() == e.date_naive() {
                    format!("{}–{}", s.format("%H:%M"), e.format("%H:%M"))
                } else {
                    format!("{}–{}", s.format("%Y-%m-%d %H:%M"), e.format("%Y-%m-%d %H:%M"))
                };
                let near = if *buffer {
                    format!(
                        ", inside the time kept free around a meeting ({} min before, {} min after)",
                        m.rules.buffer_before.num_minutes(),
                        m.rules.buffer_after.num_minutes()
                    )
                } else {
                    String::new()
                };
                format!("busy {when} '{}' ({}){near}", block.summary, block.integration_name)
            }
            Reason::Closed { item, .. } => crate::domain::bookings::msg_fail_closed(item, m.user.tz(), Utc::now()),
        }
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        "booking"
    } else {
        "bookings"
    }
}

/// The range a member's busy time and bookings are read over: widened by the longest buffers,
/// and to whole local weeks (Monday start) for the limits.
fn widened(rules: &[&Rules], from: DateTime<Utc>, to: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let before = rules.iter().map(|r| r.buffer_before).max().unwrap_or_default();
    let after = rules.iter().map(|r| r.buffer_after).max().unwrap_or_default();
    let (mut lo, mut hi) = (from - before, to + after);
    if rules.iter().any(|r| r.per_day.is_some() || r.per_week.is_some()) {
        // Whole weeks in any zone: a week and a day each side.
        lo = lo.min(from - Duration::days(8));
        hi = hi.max(to + Duration::days(8));
    }
    (lo, hi)
}

/// Loads members over [from, to): their rules and busy time, in a fixed number of queries
/// whatever their number. `except`: a booking that does not count (the one being moved).
pub async fn load(conn: &mut Conn<'_>, users: Vec<users::User>, from: DateTime<Utc>, to: DateTime<Utc>, except: Option<i64>) -> Result<Vec<Member>> {
    let (first, last) = ((from - Duration::days(9)).date_naive(), (to + Duration::days(9)).date_naive());
    let mut rules = working_hours::rules(conn, &users, first, last).await?;
    let own = except.map(|id| format!("booking-{id}"));
    let rules: Vec<Rules> = users.iter().map(|u| rules.remove(&u.id).unwrap_or_else(|| Rules::any_time(u.tz()))).collect();
    // One read for everyone, over the widest range any member's rules need.
    let (lo, hi) = widened(&rules.iter().collect::<Vec<_>>(), from, to);
    let known = availability::known_of(conn, &users, lo, hi).await?;
    let mut out = Vec::with_capacity(users.len());
    for ((user, rules), (mut busy, degraded)) in users.into_iter().zip(rules).zip(known) {
        if let Some(own) = &own {
            busy.retain(|b| *b.integration != **own);
        }
        let (mut per_day, mut per_week) = (HashMap::new(), HashMap::new());
        if rules.per_day.is_some() || rules.per_week.is_some() {
            for b in busy.iter().filter(|b| b.kind == "booking") {
                let d = b.start.with_timezone(&rules.hours.tz).date_naive();
                *per_day.entry(d).or_insert(0) += 1;
                *per_week.entry(week_of(d)).or_insert(0) += 1;
            }
        }
        out.push(Member { user, rules, busy, degraded, per_day, per_week });
    }
    Ok(out)
}

impl Member {
    fn day_count(&self, start: DateTime<Utc>) -> (i64, i64) {
        let d = start.with_timezone(&self.rules.hours.tz).date_naive();
        (self.per_day.get(&d).copied().unwrap_or(0), self.per_week.get(&week_of(d)).copied().unwrap_or(0))
    }

    /// Why the member cannot take [start, end) at `now` (nothing: they can).
    pub fn reasons(&self, start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Reason> {
        let r = &self.rules;
        let mut out = Vec::new();
        if self.user.disabled {
            out.push(Reason::Inactive);
        }
        if !r.hours.contains(start, end) {
            out.push(Reason::OutsideHours);
        }
        if r.notice > Duration::zero() && start < now + r.notice {
            out.push(Reason::Notice(r.notice.num_minutes()));
        }
        let (day, week) = self.day_count(start);
        if let Some(n) = r.per_day.filter(|n| day >= *n) {
            out.push(Reason::DayLimit(n));
        }
        if let Some(n) = r.per_week.filter(|n| week >= *n) {
            out.push(Reason::WeekLimit(n));
        }
        let (lo, hi) = (start - r.buffer_before, end + r.buffer_after);
        for b in self.busy.iter().filter(|b| b.start < hi && b.end > lo) {
            if b.kind == OUT_OF_DATE {
                if let Some(d) = self.degraded.iter().find(|d| d.integration == *b.integration) {
                    out.push(Reason::Closed { block: b.clone(), item: d.clone() });
                }
            } else {
                out.push(Reason::Busy { block: b.clone(), buffer: !(b.start < end && b.end > start) });
            }
        }
        out
    }

    /// The starts at which a meeting of `length` is possible inside [from, to), as closed
    /// intervals of Unix seconds. A start not set by working hours or busy time (the range's
    /// start, now plus notice) is put on the `step` grid.
    pub fn starts(&self, from: DateTime<Utc>, to: DateTime<Utc>, length: Duration, step: Duration, now: DateTime<Utc>) -> Vec<(i64, i64)> {
        if self.user.disabled {
            return Vec::new();
        }
        let r = &self.rules;
        let (len, grid) = (length.num_seconds(), step.num_seconds().max(60));
        let lo = ceil(from.timestamp().max((now + r.notice).timestamp()), grid);
        let hi = to.timestamp() - len;
        let mut ok: Vec<(i64, i64)> =
            r.hours.windows(from, to).into_iter().map(|(s, e)| (s.timestamp().max(lo), (e.timestamp() - len).min(hi))).filter(|(a, b)| a <= b).collect();
        // Busy time rules out the starts that would bring the widened meeting onto it (touching
        // is fine): the open interval (start − after − length, end + before).
        let (before, after) = (r.buffer_before.num_seconds(), r.buffer_after.num_seconds());
        let mut forbidden: Vec<(i64, i64)> = self.busy.iter().map(|b| (b.start.timestamp() - after - len + 1, b.end.timestamp() + before - 1)).collect();
        // A full day or week rules out its starts.
        let tz = r.hours.tz;
        let local_day = |d: NaiveDate| {
            (
                crate::domain::hours::resolve(tz, d.and_time(chrono::NaiveTime::MIN)).timestamp(),
                crate::domain::hours::resolve(tz, (d + Duration::days(1)).and_time(chrono::NaiveTime::MIN)).timestamp() - 1,
            )
        };
        if let Some(n) = r.per_day {
            forbidden.extend(self.per_day.iter().filter(|(_, c)| **c >= n).map(|(d, _)| local_day(*d)));
        }
        if let Some(n) = r.per_week {
            forbidden.extend(self.per_week.iter().filter(|(_, c)| **c >= n).map(|(w, _)| (local_day(*w).0, local_day(*w + Duration::days(6)).1)));
        }
        forbidden.sort_unstable();
        ok = subtract(ok, &forbidden);
        ok
    }
}

fn ceil(t: i64, grid: i64) -> i64 {
    t.div_euclid(grid) * grid + if t.rem_euclid(grid) == 0 { 0 } else { grid }
}

/// `ok` less `cut` (both closed intervals; `cut` sorted by start).
fn subtract(ok: Vec<(i64, i64)>, cut: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(ok.len());
    let mut i = 0;
    for (mut a, b) in ok {
        // Cuts ending before this interval matter to no later one either (both are in order).
        while i < cut.len() && cut[i].1 < a {
            i += 1;
        }
        let mut j = i;
        while j < cut.len() && cut[j].0 <= b && a <= b {
            let (x, y) = cut[j];
            if y >= a {
                if x > a {
                    out.push((a, x - 1));
                }
                a = a.max(y + 1);
            }
            j += 1;
        }
        if a <= b {
            out.push((a, b));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Round robin: at least one member free.
    Any,
    /// Collective: every member free.
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Indexes into the members searched (who is free for it).
    pub members: Vec<usize>,
}

/// Free slots of `length` starting every `step` from each free stretch's start.
pub fn slots(members: &[Member], mode: Mode, from: DateTime<Utc>, to: DateTime<Utc>, length: Duration, step: Duration, now: DateTime<Utc>) -> Vec<Slot> {
    let each: Vec<Vec<(i64, i64)>> = members.iter().map(|m| m.starts(from, to, length, step, now)).collect();
    let stretches = match mode {
        Mode::Any => union(&each),
        Mode::All => match each.split_first() {
            Some((first, rest)) => rest.iter().fold(first.clone(), |acc, m| intersect(&acc, m)),
            None => Vec::new(),
        },
    };
    // Who is free at each start: a sweep over every member's intervals in order.
    let mut events: Vec<(i64, bool, usize)> = Vec::new();
    for (k, list) in each.iter().enumerate() {
        for (a, b) in list {
            events.push((*a, true, k));
            events.push((*b + 1, false, k));
        }
    }
    events.sort_unstable();
    let mut active = vec![false; members.len()];
    let mut next = 0;
    let (step, len) = (step.num_seconds().max(60), length.num_seconds());
    let mut out = Vec::new();
    for (a, b) in stretches {
        let mut t = a;
        while t <= b {
            while next < events.len() && events[next].0 <= t {
                let (_, on, k) = events[next];
                active[k] = on;
                next += 1;
            }
            let free: Vec<usize> = (0..members.len()).filter(|k| active[*k]).collect();
            let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).unwrap_or(from);
            out.push(Slot { start: at(t), end: at(t + len), members: free });
            t += step;
        }
    }
    out
}

fn union(lists: &[Vec<(i64, i64)>]) -> Vec<(i64, i64)> {
    let mut all: Vec<(i64, i64)> = lists.iter().flatten().copied().collect();
    all.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in all {
        match out.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn intersect(x: &[(i64, i64)], y: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < x.len() && j < y.len() {
        let (a, b) = (x[i].0.max(y[j].0), x[i].1.min(y[j].1));
        if a <= b {
            out.push((a, b));
        }
        if x[i].1 < y[j].1 {
            i += 1
        } else {
            j += 1
        }
    }
    out
}

/// Members ordered for a team booking: the one whose last booking of the team is oldest first
/// (never booked before anyone), ties by name.
pub fn by_turn(members: &mut [Member], last: &HashMap<i64, NaiveDateTime>) {
    members.sort_by(|a, b| {
        let key = |m: &Member| (last.get(&m.user.id).copied(), m.user.display_name().to_lowercase(), m.user.email.clone());
        key(a).cmp(&key(b))
    });
}

/// What a slot search asks for, as a caller typed it.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub user: Option<String>,
    pub team: Option<String>,
    /// `any` (default) or `all`.
    pub mode: Option<String>,
    /// RFC 3339, or a date read in the viewer's zone.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Minutes (default 30).
    pub duration: Option<String>,
    /// Minutes between slot starts (default 15).
    pub step: Option<String>,
}

/// A search's answer: the members searched (by email), the slots, and the members' calendars
/// that cannot be trusted.
#[derive(Debug, Clone)]
pub struct Found {
    pub members: Vec<users::User>,
    pub slots: Vec<Slot>,
    pub degraded: Vec<health::Item>,
}

pub const MAX_DAYS: i64 = 92;
pub const MSG_WHO: &str = "Give a user or a team.";

fn whole_minutes(field: &str, value: Option<&str>, default: i64, max: i64, errors: &mut Vec<crate::domain::FieldMessage>) -> i64 {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return default };
    match v.parse::<i64>() {
        Ok(n) if (5..=max).contains(&n) => n,
        Ok(_) => {
            errors.push(crate::domain::FieldMessage::new(field, format!("{field} must be between 5 and {max} minutes.")));
            default
        }
        Err(_) => {
            errors.push(crate::domain::FieldMessage::new(field, format!("{field} must be a whole number of minutes.")));
            default
        }
    }
}

/// Free slots of a member (their own, or anyone's for an admin) or of a team (its members and
/// admins), every `step` minutes over [from, to) (at most 92 days).
pub async fn find(conn: &mut Conn<'_>, actor: crate::domain::Actor, q: &Query) -> Result<Found> {
    use crate::domain::{Error, FieldMessage, Report};
    let mut errors = Vec::new();
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let (user, team) = (nonempty(&q.user), nonempty(&q.team));
    let mode = match q.mode.as_deref().map(str::trim).unwrap_or("any") {
        "any" | "" => Mode::Any,
        "all" => Mode::All,
        other => {
            errors.push(FieldMessage::new("mode", format!("'{other}' is not a mode: use any (round robin) or all (everyone free).")));
            Mode::Any
        }
    };
    let duration = whole_minutes("duration", q.duration.as_deref(), 30, 24 * 60, &mut errors);
    let step = whole_minutes("step", q.step.as_deref(), 15, 24 * 60, &mut errors);
    let members = match (&user, &team) {
        (Some(_), Some(_)) => {
            errors.push(FieldMessage::new("team", crate::domain::bookings::MSG_USER_OR_TEAM));
            Vec::new()
        }
        (None, None) => {
            errors.push(FieldMessage::new("user", MSG_WHO));
            Vec::new()
        }
        (Some(u), None) => vec![availability::subject(conn, actor, Some(u)).await?],
        (None, Some(t)) => match crate::domain::teams::get(conn, actor, t).await {
            Ok(team) => team.members,
            Err(Error::NotFound) => {
                errors.push(FieldMessage::new("team", format!("There is no team named '{t}'.")));
                Vec::new()
            }
            Err(e) => return Err(e),
        },
    };
    let viewer = users::get(conn, actor.user_id).await.map(|u| u.tz()).unwrap_or(chrono_tz::UTC);
    let range = availability::parse_range(q.from.as_deref(), q.to.as_deref(), viewer, ("from", "to"));
    let (from, to) = match range {
        Ok(r) if r.1 - r.0 > Duration::days(MAX_DAYS) => {
            errors.push(FieldMessage::new("to", format!("Slots can be searched at most {MAX_DAYS} days at a time.")));
            r
        }
        Ok(r) => r,
        Err(Error::Invalid(report)) => {
            errors.extend(report.errors);
            (Utc::now(), Utc::now())
        }
        Err(e) => return Err(e),
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    let members = load(conn, members, from, to, None).await?;
    let found = slots(&members, mode, from, to, Duration::minutes(duration), Duration::minutes(step), Utc::now());
    let mut degraded: Vec<health::Item> = members.iter().flat_map(|m| m.degraded.iter().cloned()).collect();
    degraded.sort_by(|a, b| (&a.user, &a.integration_name).cmp(&(&b.user, &b.integration_name)));
    Ok(Found { members: members.into_iter().map(|m| m.user).collect(), slots: found, degraded })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtracting_keeps_what_touches_and_drops_what_overlaps() {
        assert_eq!(subtract(vec![(0, 100)], &[(10, 20), (15, 30), (90, 200)]), vec![(0, 9), (31, 89)]);
        assert_eq!(subtract(vec![(0, 10), (20, 30)], &[(5, 25)]), vec![(0, 4), (26, 30)]);
        assert_eq!(union(&[vec![(0, 5)], vec![(6, 9), (20, 30)]]), vec![(0, 9), (20, 30)]);
        assert_eq!(intersect(&[(0, 10), (20, 30)], &[(5, 25)]), vec![(5, 10), (20, 25)]);
        assert_eq!(ceil(61, 60), 120);
        assert_eq!(ceil(120, 60), 120);
    }
}
