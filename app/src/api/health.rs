//! Admin → Sync health: every calendar that needs attention, and what an admin does about it.
//! Every function answers "not found" to non-admins.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One calendar that needs attention, times in the admin's zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthRow {
    pub integration: String,
    pub integration_name: String,
    pub user: String,
    pub integration_type: String,
    pub kind: vocab::HealthKind,
    /// "2026-11-29 10:00:00 (3 hours ago)"
    pub since: String,
    pub error: Option<String>,
    /// "in 12 minutes", "due now", "off (automatic sync disabled)"
    pub next_run: String,
    pub running: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthPage {
    /// One page of them.
    pub rows: Vec<HealthRow>,
    /// How many match the filters in all, and which page of how many this is.
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// Per kind, in the order of the kinds.
    pub counts: Vec<(vocab::HealthKind, usize)>,
    /// Active calendars looked at.
    pub checked: usize,
    pub users: Vec<String>,
    pub providers: Vec<String>,
    pub kind: Option<vocab::HealthKind>,
    pub user: Option<String>,
    pub provider: Option<String>,
    pub text: Option<String>,
}

#[cfg(feature = "ssr")]
fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Rows per page.
pub const PER_PAGE: usize = 100;

#[server]
pub async fn sync_health(
    kind: Option<String>,
    user: Option<String>,
    provider: Option<String>,
    text: Option<String>,
    page: Option<String>,
) -> Result<HealthPage, AppError> {
    use crate::api::integrations::convert::relative;
    use server::domain::{
        health,
        integrations::{rules::format_datetime, IntegrationType},
    };
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let (kind, user, provider, text) = (given(kind), given(user), given(provider), given(text));
    let filter = health::Filter {
        kind: match &kind {
            None => None,
            Some(k) => Some(health::Kind::parse(k).ok_or_else(|| AppError::bad_request(format!("'{k}' is not a kind of problem.")))?),
        },
        user: user.clone(),
        provider: provider.clone(),
        text: text.clone(),
    };
    let now = server::domain::now();
    let report = {
        let mut pooled = state.pool.get().await?;
        health::report(&mut pooled.conn(), &filter, now, state.config.sync.webhook_base.is_some()).await?
    };
    let tz = admin.tz();
    let total = report.items.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = page.and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1).clamp(1, pages);
    let rows = report
        .items
        .into_iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|i| HealthRow {
            since: format!("{} ({})", format_datetime(i.since, tz), relative((i.since - now).num_minutes())),
            next_run: match i.next_run {
                _ if i.running => "running now".into(),
                None => "off (automatic sync disabled)".into(),
                Some(t) if t > now => format!("{} ({})", relative((t - now).num_minutes().max(1)), format_datetime(t, tz)),
                Some(_) => "due now".into(),
            },
            integration: i.integration,
            integration_name: i.integration_name,
            user: i.user,
            integration_type: i.integration_type,
            kind: i.kind,
            error: i.error,
            running: i.running,
        })
        .collect();
    Ok(HealthPage {
        rows,
        total,
        page,
        pages,
        counts: report.counts,
        checked: report.checked,
        users: super::integrations::user_emails(&state).await?,
        providers: IntegrationType::ALL.iter().map(|t| t.as_str().to_string()).collect(),
        kind: filter.kind,
        user,
        provider,
        text,
    })
}

/// What a bulk action did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub messages: Vec<String>,
    /// Calendars it could not act on, and why.
    pub problems: Vec<String>,
}

/// "Retry now" on one or several calendars (record names, one per line): each starts at once
/// while a sync slot is free, and waits in the queue otherwise.
#[server]
pub async fn retry_calendars(names: String) -> Result<Done, AppError> {
    use server::sync::Started;
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let names: Vec<&str> = names.lines().map(str::trim).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Err(AppError::bad_request("Select at least one calendar to retry."));
    }
    let (mut started, mut queued, mut problems) = (0, 0, Vec::new());
    for name in names {
        match state.engine.sync_now(super::integrations::actor(&admin), name).await {
            Ok((_, Started::Running(_))) => started += 1,
            Ok((_, Started::Queued(_))) => queued += 1,
            Err(e) => {
                let e = AppError::from(e);
                problems.push(format!("{name}: {}", e.general().unwrap_or_else(|| e.to_string())));
            }
        }
    }
    let mut messages = Vec::new();
    if started > 0 {
        messages.push(format!("Retrying {started} calendar(s) now."));
    }
    if queued > 0 {
        messages.push(format!("{queued} calendar(s) queued: every sync slot is busy, they start as soon as one is free."));
    }
    Ok(Done { messages, problems })
}

/// "Deactivate": the calendar stops syncing and blocking availability until it is turned on
/// again on its page.
#[server]
pub async fn deactivate_calendar(name: String) -> Result<Done, AppError> {
    use server::domain::integrations::{self as ig, Patch};
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let patch = Patch { is_active: Some(false), ..Patch::default() };
    let saved = ig::update(&mut pooled.conn(), &state.keys, super::integrations::actor(&admin), &name, patch).await?;
    Ok(Done { messages: vec![format!("Deactivated '{}' ({}).", saved.integration.integration_name, saved.integration.user)], problems: Vec::new() })
}
