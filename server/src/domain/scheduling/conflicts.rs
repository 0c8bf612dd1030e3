//! Conflicts between a booking and its copy in a calendar: both versions and the base they
//! came from, the fields that differ, and what was taken. `open`: nothing changed yet (the
//! ask policy); `decided`: a policy chose, a person may still override; `resolved`: a person
//! chose.
use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{bookings as b, calendar_integrations as ci, conflicts as cf, users as u};
use crate::db::Conn;
use crate::domain::merge::{Fields, Side};
use crate::domain::Actor;
use crate::domain::{now, users, Error, Result};
use crate::run;

pub use vocab::ConflictState;
use ConflictState::{Open, Resolved};

#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub id: i64,
    pub booking_id: i64,
    pub booking_title: String,
    pub user: String,
    pub copy_id: Option<i64>,
    /// The calendar record's name, while it exists.
    pub integration: Option<String>,
    pub calendar: String,
    pub state: ConflictState,
    /// The policy that decided it (or `ask`).
    pub policy: String,
    pub base: Fields,
    pub local: Fields,
    /// `None`: the copy was deleted in the calendar.
    pub remote: Option<Fields>,
    /// The fields that differ between local and remote (all of them when deleted).
    pub fields: Vec<String>,
    /// What the outcome took per field: `local` or `remote`.
    pub outcome: Option<BTreeMap<String, String>>,
    pub remote_etag: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// A person's resolution that can still be undone.
    pub undoable: bool,
}

/// A conflict to record.
pub struct New<'a> {
    pub booking_id: i64,
    pub copy_id: Option<i64>,
    pub integration_id: Option<i64>,
    pub calendar: &'a str,
    pub state: ConflictState,
    pub policy: &'a str,
    pub base: &'a Fields,
    pub local: &'a Fields,
    pub remote: Option<&'a Fields>,
    pub fields: &'a [String],
    pub outcome: Option<BTreeMap<String, String>>,
    pub remote_etag: Option<&'a str>,
    pub decided_by: Option<&'a str>,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub async fn record(c: &mut Conn<'_>, n: New<'_>) -> Result<i64> {
    let at = now();
    let decided_at = n.decided_by.map(|_| at);
    let id = run!(c, |cc| diesel::insert_into(cf::table)
        .values((
            cf::booking_id.eq(n.booking_id),
            cf::copy_id.eq(n.copy_id),
            cf::integration_id.eq(n.integration_id),
            cf::calendar_label.eq(n.calendar),
            cf::state.eq(n.state.as_str()),
            cf::policy.eq(n.policy),
            cf::base.eq(json(n.base)),
            cf::local.eq(json(n.local)),
            cf::remote.eq(n.remote.map(json)),
            cf::fields.eq(json(&n.fields)),
            cf::outcome.eq(n.outcome.as_ref().map(json)),
            cf::remote_etag.eq(n.remote_etag),
            cf::decided_by.eq(n.decided_by),
            cf::decided_at.eq(decided_at),
            cf::created_at.eq(at),
        ))
        .returning(cf::id)
        .get_result::<i64>(cc)
        .await)?;
    Ok(id)
}

/// The open conflict of a copy, if there is one (a second sync does not open another).
pub async fn open_of(c: &mut Conn<'_>, copy_id: i64) -> Result<Option<i64>> {
    let id = run!(c, |cc| cf::table.filter(cf::copy_id.eq(copy_id).and(cf::state.eq(Open.as_str()))).select(cf::id).first::<i64>(cc).await.optional())?;
    Ok(id)
}

type Row = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    NaiveDateTime,
    i64,
    bool,
);

macro_rules! columns {
    () => {
        (
            cf::id,
            cf::booking_id,
            b::title,
            u::email,
            cf::copy_id,
            ci::name.nullable(),
            cf::calendar_label,
            cf::state,
            cf::policy,
            cf::base,
            cf::local,
            cf::remote,
            cf::fields,
            cf::outcome,
            cf::remote_etag,
            cf::decided_by,
            cf::decided_at,
            cf::created_at,
            b::user_id,
            cf::prior.is_not_null(),
        )
    };
}

fn of_row(r: Row) -> Option<(Conflict, i64)> {
    let parse = |s: &str| serde_json::from_str::<Fields>(s).ok();
    Some((
        Conflict {
            id: r.0,
            booking_id: r.1,
            booking_title: r.2,
            user: r.3,
            copy_id: r.4,
            integration: r.5,
            calendar: r.6,
            state: ConflictState::parse(&r.7)?,
            policy: r.8,
            base: parse(&r.9)?,
            local: parse(&r.10)?,
            remote: match &r.11 {
                Some(s) => Some(parse(s)?),
                None => None,
            },
            fields: serde_json::from_str(&r.12).ok()?,
            outcome: r.13.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            remote_etag: r.14,
            decided_by: r.15,
            decided_at: r.16,
            created_at: r.17,
            undoable: r.19,
        },
        r.18,
    ))
}

/// One conflict, when the actor may see it (theirs, or any for an admin).
pub async fn get(conn: &mut Conn<'_>, actor: Actor, id: i64) -> Result<Conflict> {
    let row: Option<Row> = run!(conn, |c| cf::table
        .inner_join(b::table.inner_join(u::table))
        .left_join(ci::table.on(cf::integration_id.eq(ci::id.nullable())))
        .filter(cf::id.eq(id))
        .select(columns!())
        .first(c)
        .await
        .optional())?;
    match row.and_then(of_row) {
        Some((conflict, owner)) if actor.is_admin || owner == actor.user_id => Ok(conflict),
        _ => Err(Error::NotFound),
    }
}

/// A state a person asked to filter by.
pub fn state_of(s: &str) -> Result<ConflictState> {
    ConflictState::parse(s).ok_or_else(|| Error::invalid("state", format!("State '{s}' is not one of open, decided, resolved.")))
}

/// Conflicts, newest first: a member's (`user`; the actor's own by default, any member's for
/// an admin, everyone's for an admin who names nobody and asks for `all`), of one booking, in
/// one state.
pub async fn list(conn: &mut Conn<'_>, actor: Actor, user: Option<&str>, booking: Option<i64>, state: Option<ConflictState>) -> Result<Vec<Conflict>> {
    let member = match (user, actor.is_admin) {
        (None, true) => None,
        _ => Some(users::subject(conn, actor, user, crate::domain::bookings::MSG_OWN_ONLY).await?.id),
    };
    let rows: Vec<Row> = run!(conn, |c| {
        let mut q = cf::table
            .inner_join(b::table.inner_join(u::table))
            .left_join(ci::table.on(cf::integration_id.eq(ci::id.nullable())))
            .select(columns!())
            .order((cf::created_at.desc(), cf::id.desc()))
            .limit(500)
            .into_boxed();
        if let Some(m) = member {
            q = q.filter(b::user_id.eq(m));
        }
        if let Some(id) = booking {
            q = q.filter(cf::booking_id.eq(id));
        }
        if let Some(s) = state {
            q = q.filter(cf::state.eq(s.as_str()));
        }
        q.load(c).await
    })?;
    Ok(rows.into_iter().filter_map(of_row).map(|(c, _)| c).collect())
}

/// What a person chose: one side for every differing field, or a side per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Take(Side),
    Fields(BTreeMap<String, String>),
}

pub const MSG_CANCELLED_SINCE: &str = "The booking was cancelled after this conflict arose, so there is nothing left to resolve.";

pub fn msg_resolved(by: &str, at: NaiveDateTime) -> String {
    format!("Already resolved by {by} at {} UTC.", at.format("%Y-%m-%d %H:%M"))
}

/// The side each differing field takes, or what is wrong with the choice.
fn sides(conflict: &Conflict, choice: &Choice) -> Result<BTreeMap<String, Side>> {
    let listed = conflict.fields.join(", ");
    let map: BTreeMap<String, Side> = match choice {
        Choice::Take(side) => conflict.fields.iter().map(|f| (f.clone(), *side)).collect(),
        Choice::Fields(given) => {
            let mut out = BTreeMap::new();
            for (f, side) in given {
                if !conflict.fields.contains(f) {
                    return Err(Error::invalid("fields", format!("'{f}' is not a field that differs here (those are: {listed}).")));
                }
                let side = Side::parse(side).ok_or_else(|| Error::invalid("fields", format!("'{side}' for {f} is neither local nor remote.")))?;
                out.insert(f.clone(), side);
            }
            let missing: Vec<&str> = conflict.fields.iter().filter(|f| !out.contains_key(*f)).map(String::as_str).collect();
            if !missing.is_empty() {
                return Err(Error::invalid("fields", format!("Choose a side for every field that differs; missing: {}.", missing.join(", "))));
            }
            out
        }
    };
    if conflict.remote.is_none() {
        let mut chosen: Vec<Side> = map.values().copied().collect();
        chosen.dedup();
        if chosen.len() > 1 {
            return Err(Error::invalid("fields", "The calendar's copy was deleted: keep calsync's booking or the deletion, not single fields."));
        }
    }
    Ok(map)
}

/// Resolves a conflict as a person chose: the booking takes the chosen fields (a deletion
/// chosen cancels it), the copy is marked to be written with the outcome, and the conflict
/// records who chose what. A resolved conflict is refused with who resolved it and when.
/// Answers the resolved conflict; the caller pushes the booking's copy.
pub async fn resolve(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str, choice: Choice) -> Result<Conflict> {
    let conflict = get(conn, actor, id).await?;
    if conflict.state == Resolved {
        return Err(Error::Conflict(msg_resolved(conflict.decided_by.as_deref().unwrap_or("someone"), conflict.decided_at.unwrap_or(conflict.created_at))));
    }
    let sides = sides(&conflict, &choice)?;
    let booking = crate::domain::bookings::get(conn, Actor::SYSTEM, conflict.booking_id).await?;
    let by = by.to_string();
    if conflict.remote.is_some() && booking.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED_SINCE.into()));
    }
    let keep_deletion = conflict.remote.is_none() && sides.values().all(|s| *s == Side::Remote);
    let mut result = booking.fields();
    // calsync's side: while open, the booking as it is now (nothing overwrote it, and it may
    // have changed since); once a policy decided, the version the policy overwrote.
    let local = if conflict.state == Open { booking.fields() } else { conflict.local.clone() };
    if let Some(remote) = &conflict.remote {
        for (f, side) in &sides {
            let from = if *side == Side::Remote { remote } else { &local };
            result.take(f, from);
        }
    } else if !keep_deletion {
        result = conflict.local.clone();
    }
    let outcome: BTreeMap<String, String> = sides.iter().map(|(f, s)| (f.clone(), s.as_str().to_string())).collect();
    let prior = Prior {
        state: conflict.state,
        outcome: conflict.outcome.clone(),
        decided_by: conflict.decided_by.clone(),
        decided_at: conflict.decided_at,
        fields: booking.fields(),
        status: booking.status.clone(),
    };
    let c2 = conflict.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let at = now();
            let changed = run!(&mut c, |cc| diesel::update(cf::table.find(id).filter(cf::state.ne(Resolved.as_str())))
                .set((
                    cf::state.eq(Resolved.as_str()),
                    cf::outcome.eq(Some(json(&outcome))),
                    cf::decided_by.eq(Some(&by)),
                    cf::decided_at.eq(Some(at)),
                    cf::prior.eq(Some(json(&prior)))
                ))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(msg_resolved("someone else", at)));
            }
            let actor = format!("conflict resolution by {by}");
            let note = |state: ConflictState, outcome: Option<&BTreeMap<String, String>>| {
                serde_json::json!({"conflict": id, "state": state, "outcome": outcome}).to_string()
            };
            crate::domain::bookings::record(
                &mut c,
                booking.id,
                "resolve conflict",
                &actor,
                Some(note(c2.state, c2.outcome.as_ref())),
                Some(note(Resolved, Some(&outcome))),
                at,
            )
            .await?;
            if keep_deletion {
                if booking.status == "confirmed" {
                    crate::domain::bookings::cancel_from(&mut c, &booking, &actor).await?;
                }
                // A policy may have made the copy again since (prefer-calsync): it is deleted
                // too (an event gone already answers so, and counts as deleted).
                crate::domain::push_queue::plan(&mut c, booking.id, booking.user_id, true, at).await?;
                return Ok(());
            }
            let version = if result != booking.fields() || booking.status != "confirmed" {
                crate::domain::bookings::take_fields(&mut c, &booking, &result, &actor).await?;
                booking.version + 1
            } else {
                booking.version
            };
            if let Some(copy) = c2.copy_id {
                match &c2.remote {
                    // Open: the calendar still holds its version, the base now; the outcome
                    // is written over it.
                    Some(remote) if c2.state == Open => {
                        crate::domain::push_queue::accept(&mut c, copy, c2.remote_etag.as_deref(), remote, version).await?;
                        crate::domain::push_queue::repush(&mut c, copy, c2.remote_etag.as_deref(), false).await?;
                    }
                    // Decided: the policy's outcome was written since (or waits to be); the
                    // person's choice goes over what the calendar holds now, at once.
                    Some(_) => crate::domain::push_queue::plan(&mut c, booking.id, booking.user_id, false, at).await?,
                    None => crate::domain::push_queue::revive(&mut c, copy).await?,
                }
            }
            Ok(())
        })
    })
    .await?;
    get(conn, actor, id).await
}

/// What a resolution replaced: enough to undo it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Prior {
    state: ConflictState,
    outcome: Option<BTreeMap<String, String>>,
    decided_by: Option<String>,
    decided_at: Option<NaiveDateTime>,
    fields: Fields,
    status: String,
}

pub const MSG_NOT_UNDOABLE: &str = "Only a conflict a person resolved can be undone, once.";

/// Undoes a person's resolution: the booking gets back what it held before (its copy is
/// written again), the conflict returns to open or decided as it was, and the history gets a
/// new entry saying who undid it.
pub async fn undo(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str) -> Result<Conflict> {
    let conflict = get(conn, actor, id).await?;
    let prior: Prior = match (conflict.state, run!(conn, |c| cf::table.find(id).select(cf::prior).first::<Option<String>>(c).await)?) {
        (Resolved, Some(p)) => serde_json::from_str(&p).map_err(|_| Error::Conflict(MSG_NOT_UNDOABLE.into()))?,
        _ => return Err(Error::Conflict(MSG_NOT_UNDOABLE.into())),
    };
    let booking = crate::domain::bookings::get(conn, Actor::SYSTEM, conflict.booking_id).await?;
    let by = by.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let changed = run!(&mut c, |cc| diesel::update(cf::table.find(id).filter(cf::state.eq(Resolved.as_str())))
                .set((
                    cf::state.eq(prior.state.as_str()),
                    cf::outcome.eq(prior.outcome.as_ref().map(json)),
                    cf::decided_by.eq(&prior.decided_by),
                    cf::decided_at.eq(prior.decided_at),
                    cf::prior.eq(None::<String>)
                ))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(MSG_NOT_UNDOABLE.into()));
            }
            let actor = format!("undo by {by} of a conflict resolution");
            let at = now();
            let note = |state: ConflictState| serde_json::json!({"conflict": id, "state": state}).to_string();
            crate::domain::bookings::record(&mut c, booking.id, "undo resolution", &actor, Some(note(Resolved)), Some(note(prior.state)), at).await?;
            match (prior.status.as_str(), booking.status.as_str()) {
                ("cancelled", "confirmed") => {
                    crate::domain::bookings::cancel_from(&mut c, &booking, &actor).await?;
                    crate::domain::push_queue::plan(&mut c, booking.id, booking.user_id, true, at).await?;
                }
                ("confirmed", "cancelled") => {
                    crate::domain::bookings::take_fields(&mut c, &booking, &prior.fields, &actor).await?;
                    if let Some(copy) = conflict.copy_id {
                        crate::domain::push_queue::revive(&mut c, copy).await?;
                    }
                }
                _ if prior.fields != booking.fields() => {
                    crate::domain::bookings::take_fields(&mut c, &booking, &prior.fields, &actor).await?;
                    crate::domain::push_queue::plan(&mut c, booking.id, booking.user_id, false, at).await?;
                }
                _ => {}
            }
            Ok(())
        })
    })
    .await?;
    get(conn, actor, id).await
}
