//! A calendar's rules for what blocks its owner's time (`crate::busy`), against its stored
//! events: read by every sync, applied at once to what is stored when they change (no sync
//! needed), and previewed before they are saved.
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::busy::{Kind, Rules};
use crate::db::bulk::CHUNK;
use crate::db::schema::{calendar_integrations as ci, event_instances as ei};
use crate::db::Conn;
use crate::domain::integrations::Integration;
use crate::domain::Result;
use crate::events::When;
use crate::run;

/// The stored rules of a calendar (the defaults when it has none).
pub async fn rules_of(conn: &mut Conn<'_>, integration_id: i64) -> Result<Rules> {
    let stored: Option<(String, String)> =
        run!(conn, |c| ci::table.find(integration_id).select((ci::busy_rules, ci::free_title_patterns)).first(c).await.optional())?;
    Ok(stored.map(|(r, p)| Rules::from_stored(&r, &p)).unwrap_or_default())
}

/// Marks every stored instance of the calendar busy or not under `rules`; returns how many
/// changed. Call inside the transaction that saves the rules.
pub async fn apply(conn: &mut Conn<'_>, integration_id: i64, rules: &Rules) -> Result<usize> {
    let rows: Vec<(i64, String, String, String, bool)> =
        run!(conn, |c| ei::table.filter(ei::integration_id.eq(integration_id)).select((ei::id, ei::kind, ei::status, ei::summary, ei::busy)).load(c).await)?;
    let (mut now_busy, mut now_free) = (Vec::new(), Vec::new());
    for (id, kind, status, summary, busy) in rows {
        let blocks = rules.blocks(Kind::parse(&kind).unwrap_or(Kind::Busy), status == "cancelled", &summary);
        if blocks != busy {
            if blocks {
                now_busy.push(id)
            } else {
                now_free.push(id)
            }
        }
    }
    for (ids, value) in [(&now_busy, true), (&now_free, false)] {
        for chunk in ids.chunks(CHUNK) {
            run!(conn, |c| diesel::update(ei::table.filter(ei::id.eq_any(chunk))).set(ei::busy.eq(value)).execute(c).await)?;
        }
    }
    Ok(now_busy.len() + now_free.len())
}

/// One stored event in a preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub summary: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub all_day: bool,
    pub kind: Kind,
    pub blocks: bool,
    /// The title pattern that frees it.
    pub pattern: Option<String>,
}

impl Item {
    /// Why it does not block: its kind, or the pattern in its title.
    pub fn reason(&self) -> String {
        match &self.pattern {
            Some(p) if !self.blocks => format!("title has \"{p}\""),
            _ => self.kind.as_str().replace('_', " "),
        }
    }
}

/// What a calendar's events would do under some rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    pub items: Vec<Item>,
    pub blocking: usize,
    pub not_blocking: usize,
}

/// The most events a preview lists.
pub const MAX_ITEMS: usize = 1000;

impl Preview {
    /// "6 events will block your time, 3 won't: 'Lunch' (free), 'Team offsite' (declined), …"
    pub fn sentence(&self) -> String {
        let events = |n: usize| if n == 1 { "1 event".to_owned() } else { format!("{n} events") };
        if self.items.is_empty() {
            return "No events are stored in this period, so nothing changes there yet.".into();
        }
        let head = format!("{} will block your time, {} won't", events(self.blocking), self.not_blocking);
        let free: Vec<String> = self.items.iter().filter(|i| !i.blocks).take(5).map(|i| format!("'{}' ({})", i.summary, i.reason())).collect();
        match free.is_empty() {
            true => format!("{head}."),
            false => format!("{head}: {}{}.", free.join(", "), if self.not_blocking > free.len() { ", …" } else { "" }),
        }
    }
}

/// How far a preview looks by default.
pub const DEFAULT_DAYS: i64 = 14;

/// A preview's range: `from` (default now) and `to` (default 14 days later), dates read in
/// `tz`; at most a year.
pub fn window(from: Option<&str>, to: Option<&str>, tz: chrono_tz::Tz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    use crate::domain::availability::parse_bound;
    let start = from.map(|f| parse_bound("from", f, tz)).transpose()?.unwrap_or_else(|| crate::domain::now().and_utc());
    let end = to.map(|t| parse_bound("to", t, tz)).transpose()?.unwrap_or(start + chrono::Duration::days(DEFAULT_DAYS));
    if end <= start {
        return Err(crate::domain::Error::invalid("to", "to must be after from."));
    }
    if end - start > chrono::Duration::days(366) {
        return Err(crate::domain::Error::invalid("to", "The range can be at most a year."));
    }
    Ok((start, end))
}

/// The calendar's stored events in [from, to) (cancelled ones left out: they never block)
/// under `rules`, in start order.
pub async fn preview(conn: &mut Conn<'_>, integration: &Integration, rules: &Rules, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Preview> {
    let tz = integration.tz();
    // All-day rows are stored at midnight of their date: a day more on each side finds them.
    let (lo, hi) = ((from - chrono::Duration::days(1)).timestamp(), (to + chrono::Duration::days(1)).timestamp());
    let rows: Vec<(i64, i64, bool, String, String)> = run!(conn, |c| ei::table
        .filter(ei::integration_id.eq(integration.id))
        .filter(ei::status.ne("cancelled"))
        .filter(ei::start_at.lt(hi).and(ei::end_at.gt(lo)))
        .order((ei::start_at, ei::id))
        .select((ei::start_at, ei::end_at, ei::all_day, ei::summary, ei::kind))
        .load(c)
        .await)?;
    let mut out = Preview::default();
    for (s, e, all_day, summary, kind) in rows {
        let (start, end) = (When::from_timestamp(s, all_day).instant(tz), When::from_timestamp(e, all_day).instant(tz));
        if start >= to || end <= from || out.items.len() >= MAX_ITEMS {
            continue;
        }
        let kind = Kind::parse(&kind).unwrap_or(Kind::Busy);
        let blocks = rules.blocks(kind, false, &summary);
        let pattern = rules.kind_blocks(kind).then(|| rules.pattern_in(&summary).map(str::to_owned)).flatten();
        if blocks {
            out.blocking += 1
        } else {
            out.not_blocking += 1
        }
        out.items.push(Item { summary, start, end, all_day, kind, blocks, pattern });
    }
    out.items.sort_by_key(|i| (i.start, i.end));
    Ok(out)
}
