//! The calendar record's own timeline: every create, change and delete of its settings, with
//! who made it. Secrets never appear: only whether a token is held and when it expires, and
//! that the iCal address changed (never the address, which may carry a private token).
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

use super::{Actor, Integration};
use crate::db::schema::{change_history as ch, users as u};
use crate::db::Conn;
use crate::domain::Result;
use crate::run;

/// The settings history shows of a record.
pub fn settings(i: &Integration) -> Value {
    json!({
        "integration_name": i.integration_name,
        "is_active": i.is_active,
        "is_primary": i.is_primary,
        "calendar_id": i.calendar_id,
        "sync_direction": i.sync_direction.as_str(),
        "sync_past_days": i.sync_past_days,
        "sync_future_days": i.sync_future_days,
        "auto_sync_enabled": i.auto_sync_enabled,
        "sync_interval_minutes": i.sync_interval_minutes,
        "stale_policy": i.stale_policy.as_str(),
        "conflict_policy": i.conflict_policy.as_str(),
        "busy_rules": i.busy_rules.map(),
        "free_title_patterns": i.busy_rules.patterns(),
        "own_addresses": i.own_addresses,
        "has_access_token": i.has_access_token,
        "has_refresh_token": i.has_refresh_token,
        "token_expiry": i.token_expiry.map(|t| t.to_string()),
        // The sealed form's tail: it changes with the address and shows nothing of it.
        "ical_url": i.sealed_url.as_ref().map(|s| format!("(set; not shown; ends …{})", &s[s.len().saturating_sub(6)..])),
    })
}

/// Who an actor is, for history: their email, or calsync itself.
pub async fn who(c: &mut Conn<'_>, actor: Actor) -> Result<String> {
    if actor == Actor::SYSTEM {
        return Ok("calsync".into());
    }
    let email: Option<String> = run!(c, |cc| u::table.find(actor.user_id).select(u::email).first(cc).await.optional())?;
    Ok(email.unwrap_or_else(|| format!("user {}", actor.user_id)))
}

/// One history row of a record: `before` and `after` (either may be absent), when they differ.
// The columns of a history row, each its own argument at every call.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    c: &mut Conn<'_>,
    id: i64,
    name: &str,
    action: &'static str,
    who: &str,
    before: Option<&Integration>,
    after: Option<&Integration>,
    at: NaiveDateTime,
) -> Result<()> {
    let (before, after) = (before.map(settings), after.map(settings));
    if before.is_some() && before == after {
        return Ok(());
    }
    run!(c, |cc| diesel::insert_into(ch::table)
        .values((
            ch::integration_id.eq(Some(id)),
            ch::entity.eq("integration"),
            ch::entity_key.eq(name),
            ch::action.eq(action),
            ch::actor.eq(who),
            ch::before.eq(before.map(|v| v.to_string())),
            ch::after.eq(after.map(|v| v.to_string())),
            ch::at.eq(at),
        ))
        .execute(cc)
        .await)?;
    Ok(())
}
