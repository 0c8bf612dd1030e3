//! Timelines: who or what changed a booking, a calendar record, or one synced event, when,
//! and what it was before and after — newest first. Each entry says its source: a person,
//! a sync run (or one a webhook started), the merge of a calendar's change, a conflict
//! resolution and its undo, or the push of a copy.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{change_history as ch, sync_runs as sr};
use crate::db::Conn;
use crate::domain::{bookings, Result};
use crate::domain::{
    integrations::{self},
    Actor,
};
use crate::run;

/// What a timeline is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Booking(i64),
    /// A calendar: its record and every event of it.
    Integration(String),
    /// One event of a calendar (its series and its occurrences), by uid.
    Event(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: NaiveDateTime,
    /// Who or what, as recorded: an email, "sync", "push", "sync: Work (last-write-wins)", …
    pub actor: String,
    /// `user`, `sync`, `webhook`, `merge`, `conflict resolution`, `undo` or `push`.
    pub source: &'static str,
    /// `booking`, `integration`, `series` or `instance`
    pub entity: String,
    pub key: String,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

fn source(actor: &str, trigger: Option<&str>) -> &'static str {
    if actor.starts_with("sync: ") {
        "merge"
    } else if actor.starts_with("conflict resolution by ") {
        "conflict resolution"
    } else if actor.starts_with("undo by ") {
        "undo"
    } else if actor == "push" || actor.starts_with("push (") {
        "push"
    } else if actor == "sync" || actor.starts_with("sync (applied by ") {
        if trigger == Some("webhook") {
            "webhook"
        } else {
            "sync"
        }
    } else {
        "user"
    }
}

type Row = (i64, NaiveDateTime, String, String, String, String, Option<String>, Option<String>, Option<String>);

/// A page of a timeline the actor may see (another's is 404), and how many entries it has.
pub async fn list(conn: &mut Conn<'_>, actor: Actor, subject: &Subject, limit: i64, offset: i64) -> Result<(Vec<Entry>, i64)> {
    // Seeing the subject is the permission.
    let scope = match subject {
        Subject::Booking(id) => {
            bookings::get(conn, actor, *id).await?;
            None
        }
        Subject::Integration(name) | Subject::Event(name, _) => Some(integrations::get(conn, actor, name).await?.id),
    };
    macro_rules! filtered {
        () => {{
            let mut q = ch::table.left_join(sr::table.on(ch::run_id.eq(sr::id.nullable()))).into_boxed();
            match subject {
                Subject::Booking(id) => q = q.filter(ch::entity.eq("booking").and(ch::entity_key.eq(id.to_string()))),
                Subject::Integration(_) => q = q.filter(ch::integration_id.eq(scope)),
                Subject::Event(_, uid) => {
                    let prefix = format!("{} %", uid.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
                    q = q
                        .filter(ch::integration_id.eq(scope))
                        .filter(ch::entity.eq_any(["series", "instance"]))
                        .filter(ch::entity_key.eq(uid.clone()).or(ch::entity_key.like(prefix).escape('\\')));
                }
            }
            q
        }};
    }
    let total: i64 = run!(conn, |c| filtered!().count().get_result(c).await)?;
    let rows: Vec<Row> = run!(conn, |c| filtered!()
        .order(ch::id.desc())
        .limit(limit)
        .offset(offset)
        .select((ch::id, ch::at, ch::actor, ch::entity, ch::entity_key, ch::action, ch::before, ch::after, sr::trigger.nullable()))
        .load(c)
        .await)?;
    let parse = |s: Option<String>| s.and_then(|t| serde_json::from_str(&t).ok());
    Ok((
        rows.into_iter()
            .map(|r| Entry {
                id: r.0,
                at: r.1,
                source: source(&r.2, r.8.as_deref()),
                actor: r.2,
                entity: r.3,
                key: r.4,
                action: r.5,
                before: parse(r.6),
                after: parse(r.7),
            })
            .collect(),
        total,
    ))
}
