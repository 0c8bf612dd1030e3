//! Server functions of the connection manager (Calendars pages).
use crate::error::{AppError, FieldMessage};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A calendar as the pages show it: times already in the viewer's zone, never a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub name: String,
    pub user: String,
    pub integration_type: vocab::IntegrationType,
    pub integration_name: String,
    pub is_active: bool,
    pub is_primary: bool,
    pub calendar_id: Option<String>,
    /// "Connected · token expires 2026-01-05 14:30:00", "Not connected", …
    pub auth_status: String,
    pub connected: bool,
    pub token_expired: bool,
    pub ical_url: Option<String>,
    pub sync_direction: String,
    pub sync_past_days: i32,
    pub sync_future_days: i32,
    pub auto_sync_enabled: bool,
    pub sync_interval_minutes: i32,
    /// `fail-open` or `fail-closed`
    pub stale_policy: String,
    /// `last-write-wins`, `prefer-calsync`, `prefer-calendar` or `ask`
    pub conflict_policy: String,
    pub sync_status: vocab::SyncStatus,
    /// Waiting for a free sync slot ("Sync now" while all were busy).
    pub queued: bool,
    pub sync_error_log: Option<String>,
    /// "3 minutes ago" / "never"
    pub last_sync_ago: String,
    pub last_sync: Option<String>,
    /// "in 12 minutes" / "due now" / None when it does not sync by itself
    pub next_sync: Option<String>,
    /// Events (instances in the sync window) from the last successful sync.
    pub event_count: i32,
    pub version: i64,
    /// Where "Reconnect" repeats the consent for this record (providers that sign in).
    pub reconnect_href: Option<String>,
    /// The provider account it was connected through ("Disconnect account").
    pub account_email: Option<String>,
    /// "Push notifications until 2026-12-07 10:00": the provider tells calsync of changes.
    pub push_until: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalendarsPage {
    pub items: Vec<IntegrationView>,
    pub is_admin: bool,
    /// Admins: every user's email, for the filter.
    pub users: Vec<String>,
    pub filter_user: Option<String>,
    /// "Connect Google Calendar" works (the server has an OAuth client at Google).
    pub google_ready: bool,
    /// "Connect Outlook Calendar" works.
    pub outlook_ready: bool,
}

/// The result of an action: the record and what to tell the person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    pub name: String,
    pub integration_name: String,
    pub messages: Vec<String>,
    pub warnings: Vec<FieldMessage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormData {
    /// None for a new calendar.
    pub record: Option<IntegrationView>,
    /// The record's feed URL is shown masked (it is someone else's secret).
    pub url_masked: bool,
    pub is_admin: bool,
    pub me: String,
    pub users: Vec<String>,
    /// The spec's defaults for a new calendar, from the domain (the one place they live).
    pub defaults: Defaults,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    pub sync_past_days: i64,
    pub sync_future_days: i64,
    pub sync_interval_minutes: i64,
}

#[cfg(feature = "ssr")]
pub(crate) mod convert {
    use super::IntegrationView;
    use server::domain::accounts::Account;
    use server::domain::integrations::{rules::format_datetime, Integration, IntegrationType};

    /// "3 minutes ago", "in 2 hours": coarse on purpose.
    pub fn relative(minutes: i64) -> String {
        let m = minutes.abs();
        let text = match m {
            0 => return "just now".into(),
            1 => "1 minute".to_string(),
            2..=59 => format!("{m} minutes"),
            60..=119 => "1 hour".to_string(),
            120..=2879 => format!("{} hours", m / 60),
            _ => format!("{} days", m / 1440),
        };
        if minutes < 0 {
            format!("{text} ago")
        } else {
            format!("in {text}")
        }
    }

    /// `account`: the provider account the record uses, if it was connected through one.
    pub fn view(i: &Integration, viewer_tz: chrono_tz::Tz, account: Option<&Account>) -> IntegrationView {
        let now = server::domain::now();
        // An account's token is refreshed by itself: "expired" only when a refresh failed.
        let expired = match account {
            Some(a) => a.revoked_error.is_some(),
            None => i.token_expired(now),
        };
        let auth_status = if !i.integration_type.is_oauth() {
            "Read-only feed: no sign-in needed".to_string()
        } else if let Some(a) = account {
            match &a.revoked_error {
                Some(_) => format!("Connected as {} · access revoked: reconnect", a.email),
                None => format!("Connected as {} · token refreshed automatically", a.email),
            }
        } else if !i.has_access_token {
            "Not connected".to_string()
        } else {
            match i.token_expiry {
                Some(e) if e < now => format!("Token expired on {}", format_datetime(e, viewer_tz)),
                Some(e) => format!("Connected · token expires {}", format_datetime(e, viewer_tz)),
                None => "Connected".to_string(),
            }
        };
        IntegrationView {
            name: i.name.clone(),
            user: i.user.clone(),
            integration_type: i.integration_type,
            integration_name: i.integration_name.clone(),
            is_active: i.is_active,
            is_primary: i.is_primary,
            calendar_id: i.calendar_id.clone(),
            auth_status,
            connected: i.has_access_token,
            token_expired: expired,
            ical_url: i.ical_url.clone(),
            sync_direction: i.sync_direction.as_str().to_string(),
            sync_past_days: i.sync_past_days,
            sync_future_days: i.sync_future_days,
            auto_sync_enabled: i.auto_sync_enabled,
            sync_interval_minutes: i.sync_interval_minutes,
            stale_policy: i.stale_policy.as_str().into(),
            conflict_policy: i.conflict_policy.as_str().into(),
            sync_status: i.sync_status,
            queued: i.queued_at.is_some(),
            sync_error_log: i.sync_error_log.clone(),
            last_sync_ago: i.last_sync.map(|t| relative((t - now).num_minutes())).unwrap_or_else(|| "never".into()),
            last_sync: i.last_sync.map(|t| format_datetime(t, viewer_tz)),
            next_sync: i.next_sync().map(|t| if t <= now { "due now".to_string() } else { relative((t - now).num_minutes().max(1)) }),
            event_count: i.event_count,
            version: i.version,
            account_email: account.map(|a| a.email.clone()),
            push_until: None,
            reconnect_href: match i.integration_type {
                IntegrationType::Google => Some(format!("/oauth/google/start?integration={}", crate::api::query_escape(&i.name))),
                IntegrationType::Outlook => Some(format!("/oauth/microsoft/start?integration={}", crate::api::query_escape(&i.name))),
                _ => None,
            },
        }
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn actor(user: &server::domain::users::User) -> server::domain::Actor {
    server::domain::Actor::of(user)
}

#[cfg(feature = "ssr")]
pub(crate) async fn user_emails(state: &crate::ssr::AppState) -> Result<Vec<String>, AppError> {
    let mut pooled = state.pool.get().await?;
    Ok(server::domain::users::list(&mut pooled.conn()).await?.into_iter().map(|u| u.email).collect())
}

#[server]
pub async fn list_integrations(user: Option<String>) -> Result<CalendarsPage, AppError> {
    use server::domain::integrations::{self as ig, Filter};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let filter_user = user.filter(|u| !u.trim().is_empty() && me.is_admin());
    let mut pooled = state.pool.get().await?;
    let filter = Filter { user: filter_user.clone(), limit: 1000, ..Filter::default() };
    let (items, _) = ig::list(&mut pooled.conn(), actor(&me), &filter).await?;
    let ids: Vec<i64> = items.iter().filter_map(|i| i.account_id).collect();
    let accounts = server::domain::accounts::by_ids(&mut pooled.conn(), &ids).await?;
    let channels = server::domain::webhooks::of_many(&mut pooled.conn(), &items.iter().map(|i| i.id).collect::<Vec<_>>()).await?;
    drop(pooled);
    let account_of = |i: &ig::Integration| i.account_id.and_then(|id| accounts.iter().find(|a| a.id == id));
    let push_of = |i: &ig::Integration| {
        channels
            .iter()
            .filter(|c| c.integration_id == i.id)
            .map(|c| c.expires_at)
            .max()
            .map(|t| format!("Push notifications until {}", server::domain::integrations::rules::format_datetime(t, me.tz())))
    };
    Ok(CalendarsPage {
        google_ready: state.config.sync.google.oauth().is_some(),
        outlook_ready: state.config.sync.outlook.oauth().is_some(),
        items: items.iter().map(|i| IntegrationView { push_until: push_of(i), ..convert::view(i, me.tz(), account_of(i)) }).collect(),
        is_admin: me.is_admin(),
        users: if me.is_admin() { user_emails(&state).await? } else { Vec::new() },
        filter_user,
    })
}

#[server]
pub async fn get_integration_form(name: Option<String>) -> Result<FormData, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut url_masked = false;
    let record = match name.filter(|n| !n.is_empty()) {
        Some(n) => {
            let mut pooled = state.pool.get().await?;
            let i = server::domain::integrations::get(&mut pooled.conn(), actor(&me), &n).await?;
            // The edit form shows the owner the whole address; anyone else sees it masked.
            url_masked = i.ical_url.is_some() && i.user_id != me.id;
            let accounts = server::domain::accounts::by_ids(&mut pooled.conn(), &i.account_id.into_iter().collect::<Vec<_>>()).await?;
            Some(IntegrationView { ical_url: i.ical_url_for(&state.keys, me.id), ..convert::view(&i, me.tz(), accounts.first()) })
        }
        None => None,
    };
    Ok(FormData {
        record,
        url_masked,
        is_admin: me.is_admin(),
        me: me.email.clone(),
        users: if me.is_admin() { user_emails(&state).await? } else { Vec::new() },
        defaults: {
            use server::domain::integrations::limits;
            Defaults {
                sync_past_days: limits::PAST_DAYS_DEFAULT,
                sync_future_days: limits::FUTURE_DAYS_DEFAULT,
                sync_interval_minutes: limits::INTERVAL_DEFAULT,
            }
        },
    })
}

/// A form checkbox's value: present ("on") means ticked.
#[cfg(feature = "ssr")]
pub(crate) fn checked(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("on" | "true" | "1"))
}

/// Saves the add/edit form. On success the browser goes to the list with the notices; without
/// JavaScript, a refusal goes back to the form with the values and messages (kept as a flash).
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn save_integration(
    name: Option<String>,
    version: Option<String>,
    user: Option<String>,
    integration_type: Option<String>,
    integration_name: Option<String>,
    is_active: Option<String>,
    is_primary: Option<String>,
    calendar_id: Option<String>,
    ical_url: Option<String>,
    sync_direction: Option<String>,
    sync_past_days: Option<String>,
    sync_future_days: Option<String>,
    auto_sync_enabled: Option<String>,
    sync_interval_minutes: Option<String>,
    stale_policy: Option<String>,
    conflict_policy: Option<String>,
) -> Result<ActionResult, AppError> {
    use server::domain::integrations::{self as ig, Patch};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let name = name.filter(|n| !n.trim().is_empty());
    let patch = Patch {
        user: user.clone().filter(|u| !u.trim().is_empty() || me.is_admin()),
        integration_type: integration_type.clone(),
        integration_name: integration_name.clone(),
        // A form sends every checkbox: absent means unchecked.
        is_active: Some(checked(&is_active)),
        is_primary: Some(checked(&is_primary)),
        calendar_id: calendar_id.clone(),
        ical_url: ical_url.clone(),
        sync_direction: sync_direction.clone(),
        sync_past_days: sync_past_days.clone(),
        sync_future_days: sync_future_days.clone(),
        auto_sync_enabled: Some(checked(&auto_sync_enabled)),
        sync_interval_minutes: sync_interval_minutes.clone(),
        stale_policy: stale_policy.clone(),
        conflict_policy: conflict_policy.clone(),
        version: match version.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(v.parse().map_err(|_| AppError::bad_request("The form could not be read. Please reload the page."))?),
        },
        ..Patch::default()
    };
    let mut pooled = state.pool.get().await?;
    let result = match &name {
        Some(n) => ig::update(&mut pooled.conn(), &state.keys, actor(&me), n, patch).await,
        None => ig::create(&mut pooled.conn(), &state.keys, actor(&me), patch).await,
    };
    match result {
        Ok(saved) => {
            let verb = if name.is_some() { "Saved" } else { "Added" };
            let result = action_result(format!("{verb} '{}'.", saved.integration.integration_name), saved);
            super::redirect::to_flash("/calendars", &super::redirect::notices(&result)).await;
            Ok(result)
        }
        Err(e) => {
            let err = AppError::from(e);
            if crate::ssr::is_plain_form_post().await {
                let back = match &name {
                    Some(n) => format!("/calendars/{n}"),
                    None => "/calendars/new".to_string(),
                };
                let values = [
                    ("user", user),
                    ("integration_name", integration_name),
                    ("is_active", is_active),
                    ("is_primary", is_primary),
                    ("calendar_id", calendar_id),
                    ("ical_url", ical_url),
                    ("sync_direction", sync_direction),
                    ("sync_past_days", sync_past_days),
                    ("sync_future_days", sync_future_days),
                    ("auto_sync_enabled", auto_sync_enabled),
                    ("sync_interval_minutes", sync_interval_minutes),
                    ("stale_policy", stale_policy),
                    ("conflict_policy", conflict_policy),
                ];
                super::redirect::to_flash(&back, &super::redirect::failure(&values, &err)).await;
            }
            Err(err)
        }
    }
}

/// What a saved record has to say: `first`, then the domain's notices, and its warnings.
#[cfg(feature = "ssr")]
fn action_result(first: String, saved: server::domain::integrations::Saved) -> ActionResult {
    let mut messages = vec![first];
    messages.extend(saved.messages);
    ActionResult {
        name: saved.integration.name,
        integration_name: saved.integration.integration_name,
        messages,
        warnings: saved.warnings.into_iter().map(crate::error::warning).collect(),
    }
}

#[server]
pub async fn make_primary(name: String) -> Result<ActionResult, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let saved = server::domain::integrations::make_primary(&mut pooled.conn(), actor(&me), &name).await?;
    Ok(action_result(format!("'{}' is now your primary calendar.", saved.integration.integration_name), saved))
}

#[server]
pub async fn set_integration_active(name: String, active: bool, version: i64) -> Result<ActionResult, AppError> {
    use server::domain::integrations::{self as ig, Patch};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let patch = Patch { is_active: Some(active), version: Some(version), ..Patch::default() };
    let saved = ig::update(&mut pooled.conn(), &state.keys, actor(&me), &name, patch).await?;
    let verb = if active { "Activated" } else { "Deactivated" };
    Ok(action_result(format!("{verb} '{}'.", saved.integration.integration_name), saved))
}

/// "Disconnect account": every calendar of the record's provider account goes, and the
/// account's access is revoked at the provider.
#[server]
pub async fn disconnect_account(name: String) -> Result<ActionResult, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let record = server::domain::integrations::get(&mut pooled.conn(), actor(&me), &name).await?;
    drop(pooled);
    let account = record.account_id.ok_or_else(|| AppError::bad_request("This calendar was not connected through an account."))?;
    let (gone, warning) = state.engine.disconnect_account(actor(&me), account).await?;
    let mut messages =
        vec![format!("Disconnected the account: deleted {}.", gone.iter().map(|g| format!("'{}'", g.integration_name)).collect::<Vec<_>>().join(", "))];
    messages.extend(warning);
    Ok(ActionResult { name: record.name, integration_name: record.integration_name, messages, warnings: Vec::new() })
}

#[server]
pub async fn delete_integration(name: String) -> Result<ActionResult, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let (gone, warning) = state.engine.delete_calendar(actor(&me), &name).await?;
    Ok(ActionResult {
        name: gone.name,
        integration_name: gone.integration_name.clone(),
        messages: std::iter::once(format!("Deleted '{}'.", gone.integration_name)).chain(warning).collect(),
        warnings: Vec::new(),
    })
}
