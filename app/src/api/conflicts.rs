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
    pub state: vocab::ConflictState,
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
    pub state: vocab::ConflictState,
    pub policy: String,
    /// The copy was deleted in the calendar.
    pub deleted: bool,
    pub rows: Vec<FieldRow>,
    /// "Decided by last-write-wins at 2026-12-01 10:00", "Resolved by … at …"
    pub decided: Option<String>,
}

#[cfg(feature = "ssr")]
const LABELS: [(&str, &str); 7] = [
    ("title", "Title"),
    ("start", "Start"),
    ("end", "End"),
    ("recurrence", "Repeats"),
    ("location", "Location"),
    ("description", "Description"),
    ("attendees", "Attendees"),
];

/// A field's name as people read it; an occurrence by its original start in the viewer's zone.
#[cfg(feature = "ssr")]
fn label(name: &str, tz: chrono_tz::Tz) -> String {
    if let Some(original) = name.strip_prefix(server::domain::merge::OCCURRENCE).and_then(server::providers::write::parse_occurrence_key) {
        return format!("Occurrence of {}", original.with_timezone(&tz).format("%a %Y-%m-%d %H:%M"));
    }
    LABELS.iter().find(|(n, _)| *n == name).map(|(_, l)| l.to_string()).unwrap_or_else(|| "Field".into())
}

/// One occurrence of a version as people read it: cancelled, or its title and times.
#[cfg(feature = "ssr")]
fn occurrence(f: &server::domain::merge::Fields, name: &str, tz: chrono_tz::Tz) -> String {
    let Some((key, original)) =
        name.strip_prefix(server::domain::merge::OCCURRENCE).and_then(|k| Some((k, server::providers::write::parse_occurrence_key(k)?)))
    else {
        return String::new();
    };
    match f.occurrences.get(key) {
        None => "As the series".into(),
        Some(o) if o.cancelled => "Cancelled".into(),
        Some(o) => {
            let (title, start, end) = o.resolve(original, &f.title, f.end - f.start);
            let (s, e) = (start.with_timezone(&tz), end.with_timezone(&tz));
            format!("'{title}', {}–{}", s.format("%a %Y-%m-%d %H:%M"), e.format(if e.date_naive() == s.date_naive() { "%H:%M" } else { "%a %Y-%m-%d %H:%M" }))
        }
    }
}

#[cfg(feature = "ssr")]
fn decided(c: &server::domain::conflicts::Conflict, tz: chrono_tz::Tz) -> Option<String> {
    let verb = if c.state == vocab::ConflictState::Resolved { "Resolved" } else { "Decided" };
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
    let state = state.filter(|s| !s.is_empty()).as_deref().map(server::domain::conflicts::state_of).transpose()?;
    let mut items = server::domain::conflicts::list(&mut pooled.conn(), super::integrations::actor(&me), None, None, state).await?;
    // Stable: newest first within each state.
    items.sort_by_key(|c| c.state);
    let tz = me.tz();
    Ok(items
        .into_iter()
        .map(|c| {
            let summary = if c.remote.is_none() {
                "Deleted in the calendar".to_string()
            } else {
                let names: Vec<String> = c.fields.iter().map(|f| label(f, tz)).collect();
                format!("{} differ{}", names.join(", "), if names.len() == 1 { "s" } else { "" })
            };
            ConflictRow {
                id: c.id,
                title: c.booking_title.clone(),
                calendar: c.calendar.clone(),
                state: c.state,
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
            "attendees" => f.attendees.join(", "),
            other if other.starts_with(server::domain::merge::OCCURRENCE) => occurrence(f, other, tz),
            other => f.get(other).as_str().unwrap_or("").to_string(),
        }
    };
    // The meeting's fields, then each occurrence that differs.
    // A single meeting has no rule to show.
    let series = [Some(&c.base), Some(&c.local), c.remote.as_ref()].into_iter().flatten().any(|f| f.recurrence.is_some());
    let names = LABELS
        .iter()
        .filter(|(n, _)| series || *n != server::domain::merge::RULE)
        .map(|(n, _)| n.to_string())
        .chain(c.fields.iter().filter(|f| f.starts_with(server::domain::merge::OCCURRENCE)).cloned());
    let rows = names
        .map(|name| FieldRow {
            label: label(&name, tz),
            base: show(&c.base, &name),
            local: show(&c.local, &name),
            remote: c.remote.as_ref().map(|r| show(r, &name)).unwrap_or_else(|| "(deleted)".into()),
            differs: c.fields.contains(&name),
            taken: c.outcome.as_ref().and_then(|o| o.get(&name).cloned()),
            name,
        })
        .collect();
    Ok(ConflictDetail {
        id: c.id,
        booking_id: c.booking_id,
        title: c.booking_title.clone(),
        calendar: c.calendar.clone(),
        state: c.state,
        policy: c.policy.clone(),
        deleted: c.remote.is_none(),
        rows,
        decided: decided(&c, tz),
    })
}

/// Resolves a conflict: `take` keeps one side whole; otherwise each differing field's radio
/// (`fields[title]`, `fields[occurrence:…]`) names the side it keeps.
#[server]
pub async fn resolve_conflict(id: i64, take: Option<String>, fields: Option<std::collections::BTreeMap<String, String>>) -> Result<String, AppError> {
    use server::domain::{conflicts as cf, merge::Side};
    let me = super::ctx::user().await?;
    let ctx = super::ctx::state();
    let choice = match take.as_deref() {
        Some(t) => cf::Choice::Take(Side::parse(t).ok_or_else(|| AppError::bad_request("The form could not be read. Please reload the page."))?),
        None => cf::Choice::Fields(fields.unwrap_or_default()),
    };
    let resolved = {
        let mut pooled = ctx.pool.get().await?;
        cf::resolve(&mut pooled.conn(), super::integrations::actor(&me), id, &me.email, choice).await?
    };
    ctx.engine.settled(resolved.booking_id).await;
    let kept_deletion = resolved.remote.is_none() && resolved.outcome.as_ref().is_some_and(|o| o.values().all(|s| s == "remote"));
    Ok(if kept_deletion {
        format!("Resolved. The deletion in '{}' is kept: '{}' is cancelled.", resolved.calendar, resolved.booking_title)
    } else {
        format!("Resolved. '{}' and its copy in '{}' are brought in line.", resolved.booking_title, resolved.calendar)
    })
}
