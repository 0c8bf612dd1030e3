//! One occurrence of a recurring booking on the Bookings page: the coming ones listed with
//! what was changed about each, and cancelling, changing or bringing back one.
use super::bookings::BookResult;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How many coming occurrences a recurring booking lists.
pub const SHOWN: usize = 6;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OccurrenceLine {
    /// The original start (RFC 3339, UTC): what names it.
    pub key: String,
    /// "Wed 2026-12-09 10:00–10:30"
    pub when: String,
    pub title: String,
    /// as-series, changed or cancelled
    pub state: String,
    /// What its change form starts from (`YYYY-MM-DDTHH:MM` in the booking's zone).
    pub start_input: String,
    pub end_input: String,
}

/// The coming occurrences of a recurring booking, cancelled ones too.
#[cfg(feature = "ssr")]
pub fn lines(b: &server::domain::bookings::Booking, from: chrono::DateTime<chrono::Utc>) -> Vec<OccurrenceLine> {
    if b.recurrence.is_none() || b.status != "confirmed" {
        return Vec::new();
    }
    let tz = b.tz();
    let to = from + chrono::Duration::days(server::domain::bookings::CHECK_DAYS);
    b.schedule(from, to, SHOWN)
        .into_iter()
        .map(|(slot, cancelled)| {
            let key = server::providers::write::occurrence_key(slot.original);
            let (s, e) = (slot.start.with_timezone(&tz), slot.end.with_timezone(&tz));
            let end = if s.date_naive() == e.date_naive() { e.format("%H:%M").to_string() } else { e.format("%a %Y-%m-%d %H:%M").to_string() };
            let state = if cancelled {
                "cancelled"
            } else if b.exceptions.contains_key(&key) {
                "changed"
            } else {
                "as-series"
            };
            OccurrenceLine {
                when: format!("{}–{end}", s.format("%a %Y-%m-%d %H:%M")),
                title: slot.title,
                state: state.into(),
                start_input: s.format("%Y-%m-%dT%H:%M").to_string(),
                end_input: e.format("%Y-%m-%dT%H:%M").to_string(),
                key,
            }
        })
        .collect()
}

/// Cancels one occurrence (the rest of the series stays).
#[server]
pub async fn cancel_occurrence(id: i64, key: String, version: i64) -> Result<String, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let b = {
        let mut pooled = state.pool.get().await?;
        server::domain::bookings::cancel_occurrence(&mut pooled.conn(), super::integrations::actor(&me), id, &key, &me.email, Some(version)).await?
    };
    state.engine.settled(id).await;
    Ok(format!("Cancelled one occurrence of '{}'.", b.title))
}

/// Changes one occurrence (a cancelled one is brought back; without changes it follows the
/// series again).
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn change_occurrence(
    id: i64,
    key: String,
    version: i64,
    title: Option<String>,
    start: Option<String>,
    end: Option<String>,
    allow_conflict: Option<String>,
) -> Result<BookResult, AppError> {
    use server::domain::bookings as bk;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let changes = bk::OccurrenceChanges { version, title, start, end, allow_conflict: super::integrations::checked(&allow_conflict) };
    let answer = {
        let mut pooled = state.pool.get().await?;
        bk::change_occurrence_with_warnings(&mut pooled.conn(), super::integrations::actor(&me), id, &key, &me.email, changes).await?
    };
    Ok(super::bookings::pushed(&state, answer, |b| format!("Saved one occurrence of '{}'.", b.title)).await)
}
