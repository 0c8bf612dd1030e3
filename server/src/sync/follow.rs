//! Following the calendar (two-way sync): after a sync of a calendar that holds copies of
//! bookings, each copy the calendar changed or deleted since calsync wrote it is merged with
//! its booking under the calendar's conflict policy — last-write-wins, prefer-calsync (the
//! copy is restored), prefer-calendar (the booking follows), or ask (a conflict is opened and
//! nothing changes). Whatever is overwritten is kept: in the booking's history, and in a
//! conflict record whenever a policy had to choose between two versions.
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Engine;
use crate::db::schema::{event_instances as ei, event_series as es};
use crate::db::Conn;
use crate::domain::bookings::{self, Booking};
use crate::domain::conflicts::{
    self,
    ConflictState::{Decided, Open},
};
use crate::domain::merge::{self, Fields, Occurrence, Side, NAMES, OCCURRENCES, RULE};
use crate::domain::push_queue::{self, Tracked};
use crate::domain::{
    integrations::{ConflictPolicy, Integration, IntegrationType},
    Actor,
};
use crate::domain::{Error, Result};
use crate::providers::write::Placed;
use crate::providers::Window;
use crate::run;

/// The calendar's copy as the last sync stored it.
struct Remote {
    fields: Fields,
    etag: Option<String>,
    /// When calsync stored this version (the fallback time of the calendar's change).
    seen_at: NaiveDateTime,
}

/// The stored copy of event `uid`: the series' fields, and the start and end of a single
/// event (or of a series' master, where the provider reports it). The occurrences of a
/// series read against it; one the sync did not see (outside its window) is taken as `seen`
/// last had it.
/// `expected`: for a provider that lists occurrences only (Outlook), the original starts the
/// window should hold; `asked`: where the provider says those missing from it are now.
async fn remote(
    c: &mut Conn<'_>,
    integration_id: i64,
    uid: &str,
    seen: &Fields,
    expected: &[DateTime<Utc>],
    asked: &Asked,
    stored: &[Stored],
) -> Result<Option<Remote>> {
    let uid = uid.to_string();
    type S = (String, Option<String>, Option<String>, Option<String>, Option<i64>, Option<i64>, NaiveDateTime, String, String);
    let series: Option<S> = run!(c, |cc| es::table
        .filter(es::integration_id.eq(integration_id).and(es::uid.eq(&uid)))
        .select((es::summary, es::description, es::location, es::etag, es::start_at, es::end_at, es::modified_at, es::attendees, es::recurrence))
        .first(cc)
        .await
        .optional())?;
    let Some((summary, description, location, etag, s, e, seen_at, attendees, rule)) = series else { return Ok(None) };
    let attendees: Vec<String> = attendees.lines().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect();
    let (start, end) = match (s, e) {
        (Some(s), Some(e)) => (s, e),
        // A series known by its occurrences only: its own times are the ones calsync wrote.
        _ if !expected.is_empty() => (seen.start.timestamp(), seen.end.timestamp()),
        _ => {
            let single: Option<(i64, i64)> = run!(c, |cc| ei::table
                .filter(ei::integration_id.eq(integration_id).and(ei::uid.eq(&uid)).and(ei::recurrence_id.eq("")))
                .select((ei::start_at, ei::end_at))
                .first(cc)
                .await
                .optional())?;
            single.unwrap_or((0, 0))
        }
    };
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
    // A series known by its occurrences only reports no rule: the one calsync wrote stands.
    let recurrence = if expected.is_empty() { merge::rule(Some(&rule)) } else { seen.recurrence.clone() };
    let mut fields = Fields { title: summary, start: at(start), end: at(end), location, description, attendees, occurrences: Default::default(), recurrence };
    if !expected.is_empty() {
        // Known by its occurrences only (an incremental sync updates them, not the series): the
        // series' title is the one most of them hold.
        if let Some(title) = usual_title(c, integration_id, &uid, &seen.title).await? {
            fields.title = title;
        }
    }
    fields.occurrences = occurrences(stored, &fields, seen, expected, asked);
    Ok(Some(Remote { fields, etag, seen_at }))
}

/// The series' title as its occurrences tell it: the one calsync wrote (`seen`) while any
/// occurrence still holds it (others may have been retitled one by one), else the one most
/// of them hold (the earliest's on a tie).
async fn usual_title(c: &mut Conn<'_>, integration_id: i64, uid: &str, seen: &str) -> Result<Option<String>> {
    let uid = uid.to_string();
    let titles: Vec<String> = run!(c, |cc| ei::table
        .filter(ei::integration_id.eq(integration_id).and(ei::uid.eq(&uid)).and(ei::status.ne("cancelled")))
        .order(ei::start_at)
        .select(ei::summary)
        .load(cc)
        .await)?;
    if titles.iter().any(|t| t == seen) {
        return Ok(Some(seen.to_string()));
    }
    let mut counts: Vec<(&String, usize)> = Vec::new();
    for t in &titles {
        match counts.iter_mut().find(|(x, _)| *x == t) {
            Some((_, n)) => *n += 1,
            None => counts.push((t, 1)),
        }
    }
    Ok(counts.iter().rev().max_by_key(|(_, n)| *n).map(|(t, _)| (*t).clone()))
}

/// Where the occurrences missing from the window are now, by key (`None`: deleted). One not
/// asked about, or whose answer did not come, is unknown: taken as calsync last saw it.
type Asked = std::collections::BTreeMap<String, Option<Placed>>;

/// How many missing occurrences of one series a sync asks the provider about.
const ASK_AT_MOST: usize = 10;

/// A stored occurrence (or exception) of a series: (recurrence id, start, end, status, title).
type Stored = (String, i64, i64, String, String);

/// The stored occurrences of series `uid`.
async fn stored_occurrences(c: &mut Conn<'_>, integration_id: i64, uid: &str) -> Result<Vec<Stored>> {
    let uid = uid.to_string();
    let rows = run!(c, |cc| ei::table
        .filter(ei::integration_id.eq(integration_id).and(ei::uid.eq(&uid)).and(ei::recurrence_id.ne("")))
        .select((ei::recurrence_id, ei::start_at, ei::end_at, ei::status, ei::summary))
        .load(cc)
        .await)?;
    Ok(rows)
}

/// The key of a stored occurrence's recurrence id.
fn key_of(recurrence_id: &str) -> Option<(DateTime<Utc>, String)> {
    let Some(crate::events::When::At(original)) = crate::events::When::parse(recurrence_id) else { return None };
    Some((original, crate::providers::write::occurrence_key(original)))
}

/// The occurrences of a stored series that differ from it (moved, retitled, cancelled).
fn occurrences(rows: &[Stored], series: &Fields, seen: &Fields, expected: &[DateTime<Utc>], asked: &Asked) -> std::collections::BTreeMap<String, Occurrence> {
    let length = series.end - series.start;
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    let mut listed = std::collections::HashSet::new();
    for (rid, s, e, status, summary) in rows {
        let Some((original, key)) = key_of(rid) else { continue };
        if let Some(o) = Occurrence::of(original, &series.title, length, status == "cancelled", summary, at(*s), at(*e)) {
            out.insert(key.clone(), o);
        }
        listed.insert(key);
    }
    // Outlook cannot bring back an occurrence deleted from a series, and its delta does not
    // reliably report the deletion: one calsync cancelled there stays cancelled.
    if !expected.is_empty() {
        for (key, o) in seen.occurrences.iter().filter(|(_, o)| o.cancelled) {
            out.insert(key.clone(), o.clone());
            listed.insert(key.clone());
        }
    }
    // One the window should hold but does not: moved (out of the window), deleted, or unknown.
    for original in expected {
        let key = crate::providers::write::occurrence_key(*original);
        if listed.contains(&key) {
            continue;
        }
        match asked.get(&key) {
            Some(Some(p)) => {
                if let Some(o) = Occurrence::of(*original, &series.title, length, p.cancelled, &p.title, p.start, p.end) {
                    out.insert(key.clone(), o);
                }
            }
            Some(None) => {
                out.insert(key.clone(), Occurrence { cancelled: true, ..Occurrence::default() });
            }
            None => continue,
        }
        listed.insert(key);
    }
    for (key, o) in seen.occurrences.iter().filter(|(k, _)| !listed.contains(*k)) {
        out.insert(key.clone(), o.clone());
    }
    out
}

/// The fields a provider reports back of a copy: Outlook's reader keeps no notes (Graph
/// answers them as HTML) and no attendees (calsync names them in the body unless asked to
/// notify), and reports occurrences (not the series' own times, nor a series' place) of a
/// recurring event.
fn known(provider: IntegrationType, recurring: bool) -> &'static [&'static str] {
    const GOOGLE_SERIES: [&str; 8] = ["title", "start", "end", RULE, "location", "description", "attendees", OCCURRENCES];
    match (provider, recurring) {
        (IntegrationType::Google, true) => &GOOGLE_SERIES,
        (IntegrationType::Google, false) => &NAMES,
        (_, false) => &["title", "start", "end", "location"],
        (_, true) => &["title", OCCURRENCES],
    }
}

/// Does the booking have time inside the window (so a copy missing from it was deleted, not
/// just out of sight)?
fn in_window(b: &Booking, w: Window) -> bool {
    let start = b.start.and_utc();
    start < w.to && (b.recurrence.is_some() || b.end.and_utc() > w.from)
}

/// What the follow step decided for one copy.
enum Step {
    Nothing,
    /// Write the copy again afterwards.
    Push,
}

impl Engine {
    /// Merges every copy in `integration` that the calendar changed since calsync wrote it.
    /// Answers how many copies it looked at.
    pub(super) async fn follow(&self, integration: &Integration, window: Window) -> Result<usize> {
        if integration.integration_type == IntegrationType::Ical {
            return Ok(0);
        }
        let tracked = {
            let mut pooled = self.conn().await?;
            push_queue::in_calendar(&mut pooled.conn(), integration.id).await?
        };
        let mut push = Vec::new();
        for t in tracked.iter().filter(|t| !t.unchanged()) {
            match self.follow_one(integration, window, t).await {
                Ok(Step::Push) => push.push(t.copy_id),
                Ok(Step::Nothing) => {}
                // The booking changed while merging: the next sync looks again.
                Err(Error::Conflict(_)) => {}
                Err(e) => tracing::warn!(copy = t.copy_id, error = %e, "merging a changed copy failed"),
            }
        }
        for id in push {
            if let Err(e) = self.push_copy(id).await {
                tracing::warn!(copy = id, error = %e, "writing a merged copy failed");
            }
        }
        Ok(tracked.len())
    }

    async fn follow_one(&self, integration: &Integration, window: Window, t: &Tracked) -> Result<Step> {
        let mut pooled = self.conn().await?;
        let mut c = pooled.conn();
        let booking = bookings::get(&mut c, Actor::SYSTEM, t.booking_id).await?;
        if booking.status != "confirmed" {
            return Ok(Step::Nothing);
        }
        let Some(mut base) = t.base.clone() else { return Ok(Step::Nothing) };
        // An occurrence of a series since moved or cut short is gone on both sides.
        base.occurrences.retain(|k, _| booking.has_occurrence(k));
        // Outlook lists occurrences only: one the window should hold but does not was deleted.
        let expected = match (integration.integration_type, &booking.recurrence) {
            (IntegrationType::Outlook, Some(_)) => booking.originals(window.from + chrono::Duration::days(1), window.to - chrono::Duration::days(1), 1000),
            _ => Vec::new(),
        };
        let stored = stored_occurrences(&mut c, integration.id, &t.external_id).await?;
        let asked = if expected.is_empty() { Asked::new() } else { self.ask_missing(integration, window, t, &base, &expected, &stored).await };
        let mut remote = remote(&mut c, integration.id, &t.external_id, &base, &expected, &asked, &stored).await?;
        if let Some(r) = remote.as_mut() {
            // A cancelled exception of an occurrence the series no longer has is no change
            // (the series as the calendar has it: its rule may have changed there).
            let there = Booking { recurrence: r.fields.recurrence.clone().or_else(|| booking.recurrence.clone()), ..booking.clone() };
            r.fields.occurrences.retain(|k, _| there.has_occurrence(k));
        }
        let policy = integration.conflict_policy;
        let local = booking.fields();
        let label = &integration.integration_name;
        let Some(remote) = remote else {
            if !in_window(&booking, window) || !self.gone_there(integration, &t.external_id).await {
                return Ok(Step::Nothing);
            }
            return self.deleted(&mut c, integration, t, &booking, &base, &local).await;
        };
        let known = known(integration.integration_type, booking.recurrence.is_some());
        // The calendar holds what calsync last wrote (a local change waiting for its push is
        // written over it as it is). Changed there, a waiting change is merged now: both sides
        // changed, and the merge's outcome replaces the pending write. The series' own version
        // says nothing of its occurrences (each has its own).
        if remote.etag.is_some() && remote.etag == t.etag && (!known.contains(&OCCURRENCES) || remote.fields.occurrences == base.occurrences) {
            return Ok(Step::Nothing);
        }
        let remote_changed = base.differing(&remote.fields, known);
        // A change to the booking not yet in the copy (any field: attendees, zone, rule too).
        let unwritten = booking.version != t.written_version;
        if remote_changed.is_empty() {
            // Nothing the merge compares changed there (an attendee answered, say): the
            // calendar's version is current, and a change of the booking's is written over it.
            let (copy_id, etag, written, version, id) = (t.copy_id, remote.etag.clone(), t.written_version, booking.version, booking.id);
            c.write_tx(move |mut c| {
                Box::pin(async move {
                    bookings::still(&mut c, id, version).await?;
                    push_queue::accept(&mut c, copy_id, etag.as_deref(), &base, written).await?;
                    if unwritten {
                        push_queue::repush(&mut c, copy_id, etag.as_deref(), false).await?;
                    }
                    Ok::<(), Error>(())
                })
            })
            .await?;
            return Ok(if unwritten { Step::Push } else { Step::Nothing });
        }
        let differing = local.differing(&remote.fields, known);
        if policy == ConflictPolicy::Ask {
            if conflicts::open_of(&mut c, t.copy_id).await?.is_none() {
                conflicts::record(
                    &mut c,
                    conflicts::New {
                        booking_id: booking.id,
                        copy_id: Some(t.copy_id),
                        integration_id: Some(integration.id),
                        calendar: label,
                        state: Open,
                        policy: policy.as_str(),
                        base: &base,
                        local: &local,
                        remote: Some(&remote.fields),
                        fields: &differing,
                        outcome: None,
                        remote_etag: remote.etag.as_deref(),
                        decided_by: None,
                    },
                )
                .await?;
            }
            return Ok(Step::Nothing);
        }
        let later = match policy {
            ConflictPolicy::PreferCalendar => Side::Remote,
            ConflictPolicy::PreferCalsync => Side::Local,
            _ => {
                // Only needed when both sides changed one field: when was the calendar's?
                let both = merge::merge(&base, &local, &remote.fields, known, Side::Local).conflicting;
                if both.is_empty() {
                    Side::Remote
                } else {
                    let theirs = self.remote_time(integration, &t.external_id).await.unwrap_or(remote.seen_at.and_utc());
                    if theirs > booking.modified_at.and_utc() {
                        Side::Remote
                    } else {
                        Side::Local
                    }
                }
            }
        };
        let mut m = merge::merge(&base, &local, &remote.fields, known, later);
        if policy == ConflictPolicy::PreferCalsync {
            // calsync's booking stands whole: the copy is restored.
            m.result = local.clone();
            m.from_remote.clear();
        }
        let decided = policy == ConflictPolicy::PreferCalsync || !m.conflicting.is_empty();
        let actor = format!("sync: {label} ({})", policy.as_str());
        let result = m.result.clone();
        let needs_push = result != remote.fields || unwritten;
        let (booking_id, copy_id, integration_id, etag) = (booking.id, t.copy_id, integration.id, remote.etag.clone());
        let (label, policy_name) = (label.clone(), policy.as_str());
        let outcome = merge::outcome(&differing, &m.from_remote);
        let remote_fields = remote.fields.clone();
        c.write_tx(move |mut c| {
            Box::pin(async move {
                if result != local {
                    bookings::take_fields(&mut c, &booking, &result, &actor).await?;
                } else {
                    bookings::still(&mut c, booking.id, booking.version).await?;
                }
                if decided {
                    conflicts::record(
                        &mut c,
                        conflicts::New {
                            booking_id,
                            copy_id: Some(copy_id),
                            integration_id: Some(integration_id),
                            calendar: &label,
                            state: Decided,
                            policy: policy_name,
                            base: &base,
                            local: &local,
                            remote: Some(&remote_fields),
                            fields: &differing,
                            outcome: Some(outcome),
                            remote_etag: etag.as_deref(),
                            decided_by: Some(policy_name),
                        },
                    )
                    .await?;
                }
                let version = booking.version + i64::from(result != local);
                push_queue::accept(&mut c, copy_id, etag.as_deref(), &remote_fields, version).await?;
                if needs_push {
                    push_queue::repush(&mut c, copy_id, etag.as_deref(), false).await?;
                }
                Ok::<(), Error>(())
            })
        })
        .await?;
        Ok(if needs_push { Step::Push } else { Step::Nothing })
    }

    /// The copy was deleted in the calendar: ask opens a conflict; prefer-calsync makes the
    /// copy again; the others cancel the booking (a decided conflict keeps the booking's
    /// version when it had changed, or when the policy alone chose).
    async fn deleted(&self, c: &mut Conn<'_>, integration: &Integration, t: &Tracked, booking: &Booking, base: &Fields, local: &Fields) -> Result<Step> {
        let policy = integration.conflict_policy;
        if policy == ConflictPolicy::Ask && conflicts::open_of(c, t.copy_id).await?.is_some() {
            return Ok(Step::Nothing);
        }
        let all: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        let (state, outcome_from_remote): (conflicts::ConflictState, Vec<String>) = match policy {
            ConflictPolicy::Ask => (Open, Vec::new()),
            ConflictPolicy::PreferCalsync => (Decided, Vec::new()),
            _ => (Decided, all.clone()),
        };
        let record = match policy {
            ConflictPolicy::LastWriteWins => !base.differing(local, &NAMES).is_empty(),
            _ => true,
        };
        let cancel = matches!(policy, ConflictPolicy::LastWriteWins | ConflictPolicy::PreferCalendar);
        let label = integration.integration_name.clone();
        let (b, copy_id, integration_id, base, local) = (booking.clone(), t.copy_id, integration.id, base.clone(), local.clone());
        c.write_tx(move |mut c| {
            Box::pin(async move {
                let policy_name = policy.as_str();
                if record {
                    let fields = all;
                    let outcome = (state == Decided).then(|| merge::outcome(&fields, &outcome_from_remote));
                    conflicts::record(
                        &mut c,
                        conflicts::New {
                            booking_id: b.id,
                            copy_id: Some(copy_id),
                            integration_id: Some(integration_id),
                            calendar: &label,
                            state,
                            policy: policy_name,
                            base: &base,
                            local: &local,
                            remote: None,
                            fields: &fields,
                            outcome,
                            remote_etag: None,
                            decided_by: (state == Decided).then_some(policy_name),
                        },
                    )
                    .await?;
                }
                if cancel {
                    bookings::cancel_from(&mut c, &b, &format!("sync: {label} ({policy_name})")).await?;
                    push_queue::gone(&mut c, copy_id, &format!("Deleted in '{label}': the booking was cancelled.")).await?;
                } else if policy == ConflictPolicy::PreferCalsync {
                    push_queue::repush(&mut c, copy_id, None, true).await?;
                }
                Ok::<(), Error>(())
            })
        })
        .await?;
        Ok(if policy == ConflictPolicy::PreferCalsync { Step::Push } else { Step::Nothing })
    }

    /// Is a copy the sync no longer lists really deleted there (not moved out of the window)?
    /// Unknown (the provider did not answer) counts as not deleted: the next sync asks again.
    async fn gone_there(&self, integration: &Integration, external_id: &str) -> bool {
        let pacer = std::sync::Arc::new(self.pacer_for(integration));
        match self.provider(integration, None, pacer).await {
            Ok((provider, _)) => matches!(provider.exists(external_id).await, Ok(false)),
            Err(_) => false,
        }
    }

    /// Asks the provider where the occurrences the window should hold but the sync did not
    /// list are now. One calsync last saw outside the window, or saw cancelled, is not asked.
    async fn ask_missing(&self, integration: &Integration, window: Window, t: &Tracked, seen: &Fields, expected: &[DateTime<Utc>], stored: &[Stored]) -> Asked {
        let listed: std::collections::HashSet<String> = stored.iter().filter_map(|r| key_of(&r.0)).map(|(_, k)| k).collect();
        let inside = |o: &Occurrence| o.start.is_none_or(|s| s >= window.from && s < window.to);
        let missing: Vec<DateTime<Utc>> = expected
            .iter()
            .copied()
            .filter(|at| {
                let key = crate::providers::write::occurrence_key(*at);
                !listed.contains(&key) && seen.occurrences.get(&key).is_none_or(|o| !o.cancelled && inside(o))
            })
            .take(ASK_AT_MOST)
            .collect();
        let mut asked = Asked::new();
        if missing.is_empty() {
            return asked;
        }
        let pacer = std::sync::Arc::new(self.pacer_for(integration));
        let Ok((provider, _)) = self.provider(integration, None, pacer).await else { return asked };
        for original in missing {
            match provider.occurrence(&t.external_id, original).await {
                Ok(now) => {
                    asked.insert(crate::providers::write::occurrence_key(original), now);
                }
                Err(e) => tracing::info!(copy = t.copy_id, error = %e, "could not ask where an occurrence went; taken as last seen"),
            }
        }
        asked
    }

    /// When the calendar's copy last changed, asked of the provider.
    async fn remote_time(&self, integration: &Integration, external_id: &str) -> Option<DateTime<Utc>> {
        let pacer = std::sync::Arc::new(self.pacer_for(integration));
        let (provider, _) = self.provider(integration, None, pacer).await.ok()?;
        provider.updated(external_id).await.ok().flatten()
    }
}
