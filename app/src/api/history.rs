//! The History page: the timeline of a booking, a calendar or one of its events, and undoing
//! a conflict resolution from it.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One field an entry changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryLine {
    pub id: i64,
    /// In the viewer's zone.
    pub at: String,
    pub actor: String,
    pub source: String,
    /// "update booking", "create series 3f9…"
    pub what: String,
    pub changes: Vec<Change>,
    /// The conflict whose resolution this entry recorded, while it can be undone.
    pub undo: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    /// "Booking 'Design review'", "Calendar 'Work'"
    pub title: String,
    pub lines: Vec<HistoryLine>,
    pub total: i64,
}

/// The fields that differ between two versions, as text.
#[cfg(feature = "ssr")]
fn changes(before: &Option<serde_json::Value>, after: &Option<serde_json::Value>) -> Vec<Change> {
    let empty = serde_json::Map::new();
    let (b, a) = (before.as_ref().and_then(|v| v.as_object()).unwrap_or(&empty), after.as_ref().and_then(|v| v.as_object()).unwrap_or(&empty));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let text = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "—".to_string(),
        Some(serde_json::Value::String(s)) if s.is_empty() => "—".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    keys.into_iter().filter(|k| b.get(*k) != a.get(*k)).map(|k| Change { field: k.clone(), before: text(b.get(k)), after: text(a.get(k)) }).collect()
}

#[server]
pub async fn load_history(booking: Option<i64>, integration: Option<String>, event: Option<String>, offset: Option<i64>) -> Result<HistoryPage, AppError> {
    use server::domain::{
        bookings, conflicts,
        history::{self as h, Subject},
        integrations,
    };
    let me = super::ctx::user().await?;
    let ctx = super::ctx::state();
    let actor = super::integrations::actor(&me);
    let mut pooled = ctx.pool.get().await?;
    let mut conn = pooled.conn();
    let integration = integration.filter(|i| !i.is_empty());
    let (subject, title, undoable) = match (booking, integration, event.filter(|e| !e.is_empty())) {
        (Some(id), _, _) => {
            let b = bookings::get(&mut conn, actor, id).await?;
            let undoable: Vec<i64> = conflicts::list(&mut conn, actor, None, Some(id), Some(conflicts::ConflictState::Resolved))
                .await?
                .into_iter()
                .filter(|c| c.undoable)
                .map(|c| c.id)
                .collect();
            (Subject::Booking(id), format!("Booking '{}'", b.title), undoable)
        }
        (None, Some(name), Some(uid)) => {
            let i = integrations::get(&mut conn, actor, &name).await?;
            (Subject::Event(name, uid.clone()), format!("Event {uid} in '{}'", i.integration_name), Vec::new())
        }
        (None, Some(name), None) => {
            let i = integrations::get(&mut conn, actor, &name).await?;
            (Subject::Integration(name), format!("Calendar '{}'", i.integration_name), Vec::new())
        }
        _ => return Err(AppError::bad_request("Open a history from a booking or a calendar.")),
    };
    let (entries, total) = h::list(&mut conn, actor, &subject, 100, offset.unwrap_or(0).max(0)).await?;
    let tz = me.tz();
    Ok(HistoryPage {
        title,
        total,
        lines: entries
            .into_iter()
            .map(|e| {
                let conflict = e.after.as_ref().and_then(|a| a.get("conflict")).and_then(|c| c.as_i64());
                let undo = conflict.filter(|c| e.action == "resolve conflict" && undoable.contains(c));
                let what = if e.entity == "booking" || e.entity == "integration" {
                    format!("{} {}", e.action, e.entity)
                } else {
                    format!("{} {} {}", e.action, e.entity, e.key)
                };
                HistoryLine {
                    id: e.id,
                    at: e.at.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
                    changes: changes(&e.before, &e.after),
                    actor: e.actor,
                    source: e.source.to_string(),
                    what,
                    undo,
                }
            })
            .collect(),
    })
}

/// Undoes a conflict resolution (a new entry of its own).
#[server]
pub async fn undo_resolution(conflict: i64) -> Result<String, AppError> {
    let me = super::ctx::user().await?;
    let ctx = super::ctx::state();
    let undone = {
        let mut pooled = ctx.pool.get().await?;
        server::domain::conflicts::undo(&mut pooled.conn(), super::integrations::actor(&me), conflict, &me.email).await?
    };
    ctx.engine.settled(undone.booking_id).await;
    Ok(format!("Undone: '{}' is as it was before, and the conflict is {} again.", undone.booking_title, undone.state.as_str()))
}
