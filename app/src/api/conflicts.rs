//! The Conflicts pages: a booking and its calendar copy that changed apart, side by side,
//! and resolving them as a whole or field by field.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictRow {
    pub id: i64,
    pub title: String,
    pub calendar: String,
    /// open, decided or resolved
    pub state: String,
    /// "Title and Start differ", "Deleted in the calendar"
    pub summary: String,
    /// When it arose, in the viewer's zone.
    pub when: String,
    /// "Decided by last-write-wins", "Resolved by ana@example.com"
    pub decided: Option<String>,
}

/// One field of a conflict, in each version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldRow {
    pub name: String,
    pub label: String,
    pub base: String,
    pub local: String,
    pub remote: String,
    pub differs: bool,
    /// The side the outcome took (decided and resolved ones).
    pub taken: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictDetail {
    pub id: i64,
    pub booking_id: i64,
    pub title: String,
    pub calendar: String,
    pub state: String,
    pub policy: String,
    /// The copy was deleted in the calendar.
    pub deleted: bool,
    pub rows: Vec<FieldRow>,
    /// "Decided by last-write-wins at 2026-12-01 10:00", "Resolved by … at …"
    pub decided: Option<String>,
}

#[cfg(feature = "ssr")]
const LABELS: [(&str, &str); 5] = [("title", "Title"), ("start", "Start"), ("end", "End"), ("location", "Location"), ("description", "Description")];

#[cfg(feature = "ssr")]
fn label(name: &str) -> &'static str {
    LABELS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l).unwrap_or("Field")
}

#[cfg(feature = "ssr")]
fn decided(c: &server::domain::conflicts::Conflict, tz: chrono_tz::Tz) -> Option<String> {
    let verb = if c.state == "resolved" { "Resolved" } else { "Decided" };
    let at = c.decided_at.map(|t| format!(" at {}", t.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M"))).unwrap_or_default();
    c.decided_by.as_ref().map(|by| format!("{verb} by {by}{at}"))
}

/// The conflicts of the signed-in member (everyone's for an admin): open first, then decided,
/// then resolved; newest first within each.
#[server]
pub async fn list_conflicts(state: Option<String>) -> Result<Vec<ConflictRow>, AppError> {
    let me = super::ctx::user().await?;
    let ctx = super::ctx::state();
    let mut pooled = ctx.pool.get().await?;
    let state = state.filter(|s| !s.is_empty());
    let mut items = server::domain::conflicts::list(&mut pooled.conn(), super::integrations::actor(&me), None, None, state.as_deref()).await?;
    let rank = |s: &str| match s {
        "open" => 0,
        "decided" => 1,
        _ => 2,
    };
    items.sort_by_key(|c| rank(&c.state));
    let tz = me.tz();
    Ok(items
        .into_iter()
        .map(|c| {
            let summary = if c.remote.is_none() {
                "Deleted in the calendar".to_string()
            } else {
                let names: Vec<&str> = c.fields.iter().map(|f| label(f)).collect();
                format!("{} differ{}", names.join(", "), if names.len() == 1 { "s" } else { "" })
            };
            ConflictRow {
                id: c.id,
                title: c.booking_title.clone(),
                calendar: c.calendar.clone(),
                state: c.state.clone(),
                summary,
                when: c.created_at.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
                decided: decided(&c, tz),
            }
        })
        .collect())
}

#[server]
pub async fn get_conflict(id: i64) -> Result<ConflictDetail, AppError> {
    let me = super::ctx::user().await?;
    let ctx = super::ctx::state();
    let mut pooled = ctx.pool.get().await?;
    let c = server::domain::conflicts::get(&mut pooled.conn(), super::integrations::actor(&me), id).await?;
    let tz = me.tz();
    let show = |f: &server::domain::merge::Fields, name: &str| -> String {
        match name {
            "start" => f.start.with_timezone(&tz).format("%a %Y-%m-%d %H:%M").to_string(),
            "end" => f.end.with_timezone(&tz).format("%a %Y-%m-%d %H:%M").to_string(),
            other => f.get(other).as_str().unwrap_or("").to_string(),
        }
    };
    let rows = LABELS
        .iter()
        .map(|(name, label)| FieldRow {
            name: name.to_string(),
            label: label.to_string(),
            base: show(&c.base, name),
            local: show(&c.local, name),
            remote: c.remote.as_ref().map(|r| show(r, name)).unwrap_or_else(|| "(deleted)".into()),
            differs: c.fields.iter().any(|f| f == name),
            taken: c.outcome.as_ref().and_then(|o| o.get(*name).cloned()),
        })
        .collect();
    Ok(ConflictDetail {
        id: c.id,
        booking_id: c.booking_id,
        title: c.booking_title.clone(),
        calendar: c.calendar.clone(),
        state: c.state.clone(),
        policy: c.policy.clone(),
        deleted: c.remote.is_none(),
        rows,
        decided: decided(&c, tz),
    })
}

/// Resolves a conflict: `take` keeps one side whole; otherwise each differing field's radio
/// (`title`, `start`, …) names the side it keeps.
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn resolve_conflict(
    id: i64,
    take: Option<String>,
    title: Option<String>,
    start: Option<String>,
    end: Option<String>,
    location: Option<String>,
    description: Option<String>,
) -> Result<String, AppError> {
    use server::domain::{conflicts as cf, merge::Side};
    let me = super::ctx::user().await?;
    let ctx = super::ctx::state();
    let choice = match take.as_deref() {
        Some(t) => cf::Choice::Take(Side::parse(t).ok_or_else(|| AppError::bad_request("The form could not be read. Please reload the page."))?),
        None => cf::Choice::Fields(
            [("title", title), ("start", start), ("end", end), ("location", location), ("description", description)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
        ),
    };
    let resolved = {
        let mut pooled = ctx.pool.get().await?;
        cf::resolve(&mut pooled.conn(), super::integrations::actor(&me), id, &me.email, choice).await?
    };
    ctx.engine.push_soon(resolved.booking_id).await;
    let kept_deletion = resolved.remote.is_none() && resolved.outcome.as_ref().is_some_and(|o| o.values().all(|s| s == "remote"));
    Ok(if kept_deletion {
        format!("Resolved. The deletion in '{}' is kept: '{}' is cancelled.", resolved.calendar, resolved.booking_title)
    } else {
        format!("Resolved. '{}' and its copy in '{}' are brought in line.", resolved.booking_title, resolved.calendar)
    })
}
