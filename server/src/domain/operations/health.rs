//! Sync health, for admins: every active calendar that needs attention, once, in the first kind
//! that matches — Failed, Expiring, Backing off, Write failing, Conflicts waiting, Stale, Never
//! synced — with how long it has been so. The same rules name a calendar "degraded" for
//! availability (only a calendar's own syncs degrade it: writes and conflicts do not).
use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;

use crate::db::schema::{
    booking_copies as bc, bookings as b, calendar_integrations as ci, conflicts as cf, provider_accounts as pa, sync_states as ss, users as u,
    webhook_channels as wc,
};
use crate::db::Conn;
use crate::domain::integrations::IntegrationType;
use crate::domain::{conflicts, push_queue, Result};
use crate::run;

/// Why a calendar needs attention, in the order the kinds are tried.
pub use vocab::HealthKind as Kind;

/// A transient failure is "backing off" for this many failures in a row, then "Failed".
pub const TRANSIENT_TOLERATED: i32 = 3;
/// A calendar is stale after this many intervals without a success.
pub const STALE_INTERVALS: i32 = 3;
/// A token nothing can refresh is "expiring" this long before it ends.
pub const EXPIRY_NOTICE_DAYS: i64 = 7;
/// Push channels are renewed a day ahead; one this close to its end was not.
pub const CHANNEL_OVERDUE_HOURS: i64 = 12;
/// A booking's copy still pending after this long is not being written (a failed one is listed
/// at once).
pub const WRITE_PENDING_MINUTES: i64 = 60;
/// An open conflict (the `ask` policy) waits for someone after this long.
pub const CONFLICT_WAITING_HOURS: i64 = 24;

/// What the classification reads of one calendar.
#[derive(Debug, Clone, Queryable)]
pub struct Facts {
    pub id: i64,
    pub name: String,
    pub integration_name: String,
    pub integration_type: String,
    pub user: String,
    pub sync_status: String,
    pub error: Option<String>,
    pub last_sync: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub interval_minutes: i32,
    pub auto_sync: bool,
    pub token_expiry: Option<NaiveDateTime>,
    pub has_refresh_token: bool,
    pub account_id: Option<i64>,
    pub stale_policy: String,
    pub due_at: Option<NaiveDateTime>,
    pub failures: i32,
    pub transient: bool,
    pub lease_until: Option<NaiveDateTime>,
    pub queued_at: Option<NaiveDateTime>,
}

/// One calendar that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub integration: String,
    pub integration_name: String,
    pub user: String,
    pub integration_type: String,
    pub kind: Kind,
    /// Broken (or expiring) since: the last success, else when it was added; for an expiring
    /// token or channel, when it ends.
    pub since: NaiveDateTime,
    /// The first line of the last error, or what is expiring.
    pub error: Option<String>,
    /// When the scheduler tries it next (None: not scheduled; `due now` when in the past).
    pub next_run: Option<NaiveDateTime>,
    /// A sync of it runs or is queued now.
    pub running: bool,
    pub last_sync: Option<NaiveDateTime>,
    pub stale_policy: String,
}

/// A booking's copy in a calendar that is not written: failed, or pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritten {
    /// `failed` (else `pending`).
    pub failed: bool,
    /// When the copy last changed: a failed one at its last attempt, a pending one since it
    /// waits.
    pub since: NaiveDateTime,
    /// What the calendar answered to the last attempt.
    pub error: Option<String>,
    /// The booking's title.
    pub title: String,
}

/// An open conflict of a booking in a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub since: NaiveDateTime,
    /// The booking's title.
    pub title: String,
}

/// What else the rules need besides the calendar's own row.
#[derive(Debug, Default)]
pub struct Context {
    /// Revoked accounts: id → the provider's words.
    pub revoked: Vec<(i64, String)>,
    /// Per calendar, when its newest push channel ends.
    pub channels: Vec<(i64, NaiveDateTime)>,
    /// Per calendar, the copies of bookings in it that are not written (and still kept up to
    /// date: a copy left in a calendar that is no longer the target is not).
    pub unwritten: HashMap<i64, Vec<Unwritten>>,
    /// Per calendar, the open conflicts of live bookings in it.
    pub open_conflicts: HashMap<i64, Vec<Open>>,
}

fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string()
}

fn datetime(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The copies of a calendar's bookings that are not being written, as one line: how many, and
/// the oldest's booking and error. `None` when every copy is written or on its way.
fn write_failing(copies: &[Unwritten], now: NaiveDateTime) -> Option<(NaiveDateTime, String)> {
    let failing: Vec<&Unwritten> = copies.iter().filter(|w| w.failed || now - w.since > Duration::minutes(WRITE_PENDING_MINUTES)).collect();
    let oldest = failing.iter().min_by(|x, y| (x.since, &x.title).cmp(&(y.since, &y.title)))?;
    let what = match oldest.error.as_deref().map(first_line).filter(|e| !e.is_empty()) {
        Some(e) => e,
        None if oldest.failed => "the write failed.".to_string(),
        None => format!("waiting to be written since {}.", datetime(oldest.since)),
    };
    let line = match failing.len() {
        1 => format!("The booking '{}' is not written to this calendar: {what}", oldest.title),
        n => format!("{n} bookings are not written to this calendar; the oldest, '{}': {what}", oldest.title),
    };
    Some((oldest.since, line))
}

/// The conflicts of a calendar's bookings that wait for a decision for more than a day.
fn conflicts_waiting(open: &[Open], now: NaiveDateTime) -> Option<(NaiveDateTime, String)> {
    let waiting: Vec<&Open> = open.iter().filter(|o| now - o.since > Duration::hours(CONFLICT_WAITING_HOURS)).collect();
    let oldest = waiting.iter().min_by(|x, y| (x.since, &x.title).cmp(&(y.since, &y.title)))?;
    let line = match waiting.len() {
        1 => format!("1 conflict waiting for a decision since {}: '{}'.", datetime(oldest.since), oldest.title),
        n => format!("{n} conflicts waiting for a decision since {}; the oldest: '{}'.", datetime(oldest.since), oldest.title),
    };
    Some((oldest.since, line))
}

/// Every kind that matches a calendar, in the order they are tried: the rules, in one place.
fn matches(f: &Facts, cx: &Context, now: NaiveDateTime) -> Vec<(Kind, NaiveDateTime, Option<String>)> {
    let interval = Duration::minutes(f.interval_minutes.max(1) as i64);
    let oauth = IntegrationType::parse(&f.integration_type).is_some_and(IntegrationType::is_oauth);
    let added_or_synced = f.last_sync.unwrap_or(f.created_at);
    // Failures in a row: still counted while a retry runs (the status then says "In Progress").
    let failed = f.failures > 0 || f.sync_status == "Failed";
    let transient = failed && f.transient && f.failures < TRANSIENT_TOLERATED;
    let mut out = Vec::new();
    if failed && !transient {
        out.push((Kind::Failed, added_or_synced, f.error.as_deref().map(first_line)));
    }
    if oauth {
        if let Some((_, why)) = f.account_id.and_then(|a| cx.revoked.iter().find(|(id, _)| *id == a)) {
            out.push((Kind::Expiring, added_or_synced, Some(format!("Refreshing the token failed: {}. Reconnect the account.", first_line(why)))));
        } else if let Some(end) = f.token_expiry.filter(|e| f.account_id.is_none() && *e < now + Duration::days(EXPIRY_NOTICE_DAYS)) {
            // Tokens typed in, without an account: nothing refreshes them.
            let refresh = if f.has_refresh_token { "it is not connected through an account that refreshes it" } else { "there is no refresh token" };
            out.push((Kind::Expiring, end, Some(format!("The access token ends {} and {refresh}. Reconnect the calendar.", datetime(end)))));
        } else if let Some(end) = cx.channels.iter().find(|(id, end)| *id == f.id && *end < now + Duration::hours(CHANNEL_OVERDUE_HOURS)).map(|c| c.1) {
            out.push((
                Kind::Expiring,
                end,
                Some(format!("Push notifications end {} and renewing them failed; changes arrive only with scheduled syncs.", datetime(end))),
            ));
        }
    }
    if transient {
        out.push((Kind::BackingOff, added_or_synced, f.error.as_deref().map(first_line)));
    }
    if let Some((since, line)) = cx.unwritten.get(&f.id).and_then(|w| write_failing(w, now)) {
        out.push((Kind::WriteFailing, since, Some(line)));
    }
    if let Some((since, line)) = cx.open_conflicts.get(&f.id).and_then(|o| conflicts_waiting(o, now)) {
        out.push((Kind::ConflictsWaiting, since, Some(line)));
    }
    if let Some(last) = f.last_sync.filter(|t| f.auto_sync && now - *t > interval * STALE_INTERVALS) {
        out.push((Kind::Stale, last, Some(format!("No successful sync since {}.", datetime(last)))));
    }
    if f.last_sync.is_none() && now - f.created_at > interval {
        out.push((Kind::NeverSynced, f.created_at, None));
    }
    out
}

/// The item of a calendar under the first of its kinds that `wanted` accepts.
pub fn classify(f: &Facts, cx: &Context, now: NaiveDateTime, wanted: impl Fn(Kind) -> bool) -> Option<Item> {
    let (kind, since, error) = matches(f, cx, now).into_iter().find(|(k, ..)| wanted(*k))?;
    Some(Item {
        integration: f.name.clone(),
        integration_name: f.integration_name.clone(),
        user: f.user.clone(),
        integration_type: f.integration_type.clone(),
        kind,
        since,
        error,
        next_run: f.auto_sync.then(|| f.due_at.unwrap_or(now)),
        running: f.lease_until.is_some_and(|l| l >= now) || f.queued_at.is_some(),
        last_sync: f.last_sync,
        stale_policy: f.stale_policy.clone(),
    })
}

/// Which calendars to look at.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub kind: Option<Kind>,
    /// The owner's email.
    pub user: Option<String>,
    /// `Google Calendar`, `Outlook Calendar` or `iCal`.
    pub provider: Option<String>,
    /// Words in the error (any case).
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub items: Vec<Item>,
    /// Per kind, after the user, provider and text filters (so each count is a filter).
    pub counts: Vec<(Kind, usize)>,
    /// Active calendars looked at.
    pub checked: usize,
}

async fn facts(conn: &mut Conn<'_>, user_ids: Option<&[i64]>) -> Result<Vec<Facts>> {
    macro_rules! query {
        () => {
            ci::table.inner_join(u::table).inner_join(ss::table).filter(ci::is_active.eq(true)).select((
                ci::id,
                ci::name,
                ci::integration_name,
                ci::integration_type,
                u::email,
                ci::sync_status,
                ci::sync_error_log,
                ci::last_sync,
                ci::created_at,
                ci::sync_interval_minutes,
                ci::auto_sync_enabled,
                ci::token_expiry,
                ci::refresh_token.is_not_null(),
                ci::account_id,
                ci::stale_policy,
                ss::due_at,
                ss::failures,
                ss::transient,
                ss::lease_until,
                ss::queued_at,
            ))
        };
    }
    Ok(match user_ids {
        Some(ids) => run!(conn, |c| query!().filter(ci::user_id.eq_any(ids)).load::<Facts>(c).await)?,
        None => run!(conn, |c| query!().load::<Facts>(c).await)?,
    })
}

/// `push`: push channels are in use (`CALSYNC_WEBHOOKS`); when they are not, channels left
/// from before are not expected to be renewed.
/// Rows by the calendar they belong to (those of a removed calendar dropped).
fn per_calendar<T>(rows: impl Iterator<Item = (Option<i64>, T)>) -> HashMap<i64, Vec<T>> {
    let mut by: HashMap<i64, Vec<T>> = HashMap::new();
    for (id, row) in rows {
        if let Some(id) = id {
            by.entry(id).or_default().push(row);
        }
    }
    by
}

async fn context(conn: &mut Conn<'_>, user_id: Option<i64>, push: bool) -> Result<Context> {
    let revoked: Vec<(i64, Option<String>)> = match user_id {
        Some(id) => {
            run!(conn, |c| pa::table.filter(pa::revoked_error.is_not_null().and(pa::user_id.eq(id))).select((pa::id, pa::revoked_error)).load(c).await)?
        }
        None => run!(conn, |c| pa::table.filter(pa::revoked_error.is_not_null()).select((pa::id, pa::revoked_error)).load(c).await)?,
    };
    let channels: Vec<(i64, Option<NaiveDateTime>)> = match push {
        true => run!(conn, |c| wc::table.group_by(wc::integration_id).select((wc::integration_id, diesel::dsl::max(wc::expires_at))).load(c).await)?,
        false => Vec::new(),
    };
    // Copies not written, where calsync still keeps them up to date (no note).
    let copies: Vec<(Option<i64>, String, Option<String>, NaiveDateTime, String)> = run!(conn, |c| {
        let mut q = bc::table
            .inner_join(b::table)
            .filter(bc::state.eq_any([push_queue::FAILED, push_queue::PENDING]))
            .filter(bc::note.is_null())
            .select((bc::integration_id, bc::state, bc::error, bc::modified_at, b::title))
            .into_boxed();
        if let Some(id) = user_id {
            q = q.filter(b::user_id.eq(id));
        }
        q.load(c).await
    })?;
    let unwritten =
        per_calendar(copies.into_iter().map(|(id, state, error, since, title)| (id, Unwritten { failed: state == push_queue::FAILED, since, error, title })));
    // Open conflicts of bookings not cancelled since (those have nothing left to resolve).
    let open: Vec<(Option<i64>, NaiveDateTime, String)> = run!(conn, |c| {
        let mut q = cf::table
            .inner_join(b::table)
            .filter(cf::state.eq(conflicts::ConflictState::Open.as_str()))
            .filter(b::status.ne("cancelled"))
            .select((cf::integration_id, cf::created_at, b::title))
            .into_boxed();
        if let Some(id) = user_id {
            q = q.filter(b::user_id.eq(id));
        }
        q.load(c).await
    })?;
    let open_conflicts = per_calendar(open.into_iter().map(|(id, since, title)| (id, Open { since, title })));
    Ok(Context {
        revoked: revoked.into_iter().map(|(id, why)| (id, why.unwrap_or_default())).collect(),
        channels: channels.into_iter().filter_map(|(id, end)| Some((id, end?))).collect(),
        unwritten,
        open_conflicts,
    })
}

/// Every calendar that needs attention, longest broken first, with counts per kind. `push`:
/// push channels are in use, so one not renewed is a problem.
pub async fn report(conn: &mut Conn<'_>, filter: &Filter, now: NaiveDateTime, push: bool) -> Result<Report> {
    let rows = facts(conn, None).await?;
    let cx = context(conn, None, push).await?;
    let checked = rows.len();
    let text = filter.text.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
    let user = filter.user.as_deref().map(str::trim).filter(|u| !u.is_empty());
    let provider = filter.provider.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let mut items: Vec<Item> = rows
        .iter()
        .filter(|f| user.is_none_or(|u| f.user.eq_ignore_ascii_case(u)))
        .filter(|f| provider.is_none_or(|p| f.integration_type == p))
        .filter_map(|f| classify(f, &cx, now, |_| true))
        .filter(|i| text.as_deref().is_none_or(|t| i.error.as_deref().is_some_and(|e| e.to_lowercase().contains(t))))
        .collect();
    let counts = Kind::ALL.into_iter().map(|k| (k, items.iter().filter(|i| i.kind == k).count())).collect();
    if let Some(kind) = filter.kind {
        items.retain(|i| i.kind == kind);
    }
    items.sort_by(|a, b| (a.since, &a.integration).cmp(&(b.since, &b.integration)));
    Ok(Report { items, counts, checked })
}

/// The user's active calendars whose busy time cannot be trusted (Failed, Stale, Never synced).
pub async fn degraded(conn: &mut Conn<'_>, user_id: i64, now: NaiveDateTime) -> Result<Vec<Item>> {
    degraded_of(conn, &[user_id], now).await
}

/// The same for several users at once (one query), by calendar name; `Item::user` says whose.
pub async fn degraded_of(conn: &mut Conn<'_>, user_ids: &[i64], now: NaiveDateTime) -> Result<Vec<Item>> {
    let rows = facts(conn, Some(user_ids)).await?;
    let cx = Context::default();
    let mut items: Vec<Item> = rows.iter().filter_map(|f| classify(f, &cx, now, Kind::degrades_availability)).collect();
    items.sort_by(|a, b| a.integration_name.cmp(&b.integration_name));
    Ok(items)
}
