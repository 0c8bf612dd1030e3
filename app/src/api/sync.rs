//! Server functions of the sync dashboard and "Sync now".
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One bar of the run chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunBar {
    /// `ok`, `failed` or `running`
    pub outcome: String,
    pub duration_ms: i64,
    /// The tooltip: when, outcome, counts, duration.
    pub label: String,
}

/// A calendar's sync health, times in the viewer's zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRow {
    pub name: String,
    pub integration_name: String,
    pub integration_type: String,
    pub user: String,
    pub is_active: bool,
    pub status: vocab::SyncStatus,
    pub running: bool,
    /// The newest run was held by the deletion guard: "Apply" lets it through.
    pub held: bool,
    /// Waiting for a free sync slot ("Sync now" while all were busy).
    pub queued: bool,
    /// "2026-11-22 09:30:00 (3 minutes ago)" or "never"
    pub last_success: String,
    /// "in 12 minutes", "due now", "paused (inactive)", "off (automatic sync disabled)"
    pub next_run: String,
    /// "Failed 3 times in a row: retrying with back-off"
    pub backoff: Option<String>,
    pub event_count: i32,
    /// The newest finished or running attempt.
    pub last_run: Option<LastRun>,
    /// Up to 50 runs, oldest first.
    pub chart: Vec<RunBar>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub started: String,
    pub trigger: String,
    pub status: vocab::SyncStatus,
    pub created: i32,
    pub updated: i32,
    pub deleted: i32,
    pub unchanged: i32,
    /// "1.2 s", "340 ms", or "running"
    pub duration: String,
    pub error: Option<String>,
    pub warnings: Option<String>,
    /// Who let a held removal through.
    pub applied_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncBoard {
    pub rows: Vec<SyncRow>,
    pub is_admin: bool,
    pub users: Vec<String>,
    pub filter_user: Option<String>,
    pub failing: usize,
    /// How long runs are kept (retention).
    pub runs_kept_days: i64,
}

pub fn duration_text(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use crate::api::integrations::convert::relative;
    use server::domain::integrations::{rules::format_datetime, Integration};
    use server::sync::Run;
    use vocab::SyncStatus;

    fn outcome(run: &Run) -> &'static str {
        match SyncStatus::parse(&run.status).unwrap_or(SyncStatus::Pending) {
            SyncStatus::Success => "ok",
            SyncStatus::Failed => "failed",
            SyncStatus::Pending | SyncStatus::InProgress => "running",
        }
    }

    pub fn row(i: &Integration, runs: &[Run], tz: chrono_tz::Tz) -> SyncRow {
        let now = server::domain::now();
        let running = i.sync_status == server::domain::integrations::SyncStatus::InProgress || i.queued_at.is_some();
        let next_run = if !i.is_active {
            "paused (inactive)".to_string()
        } else if !i.auto_sync_enabled {
            "off (automatic sync disabled)".to_string()
        } else if i.queued_at.is_some() {
            "queued: waiting for a free sync slot".to_string()
        } else if running {
            "running now".to_string()
        } else {
            match i.next_sync() {
                Some(t) if t > now => format!("{} ({})", relative((t - now).num_minutes().max(1)), format_datetime(t, tz)),
                _ => "due now".to_string(),
            }
        };
        let last_run = runs.first().map(|r| LastRun {
            started: format_datetime(r.started_at, tz),
            trigger: r.trigger.clone(),
            status: vocab::SyncStatus::parse(&r.status).unwrap_or(vocab::SyncStatus::Pending),
            created: r.created_count,
            updated: r.updated_count,
            deleted: r.deleted_count,
            unchanged: r.unchanged_count,
            duration: r.duration_ms.map(duration_text).unwrap_or_else(|| "running".into()),
            error: r.error.clone(),
            warnings: r.warnings.clone(),
            applied_by: r.applied_by.clone(),
        });
        let chart = runs
            .iter()
            .rev()
            .map(|r| RunBar {
                outcome: outcome(r).into(),
                duration_ms: r.duration_ms.unwrap_or(0),
                label: format!(
                    "{} · {} · +{} ~{} −{} · {}",
                    format_datetime(r.started_at, tz),
                    r.status,
                    r.created_count,
                    r.updated_count,
                    r.deleted_count,
                    r.duration_ms.map(duration_text).unwrap_or_else(|| "running".into())
                ),
            })
            .collect();
        SyncRow {
            name: i.name.clone(),
            integration_name: i.integration_name.clone(),
            integration_type: i.integration_type.as_str().into(),
            user: i.user.clone(),
            is_active: i.is_active,
            status: i.sync_status,
            running,
            held: !running && runs.first().is_some_and(|r| r.held),
            queued: i.queued_at.is_some(),
            last_success: i.last_sync.map(|t| format!("{} ({})", format_datetime(t, tz), relative((t - now).num_minutes()))).unwrap_or_else(|| "never".into()),
            next_run,
            backoff: (i.failures > 1).then(|| format!("Failed {} times in a row: retrying with back-off.", i.failures)),
            event_count: i.event_count,
            last_run,
            chart,
        }
    }
}

#[server]
pub async fn sync_dashboard(user: Option<String>) -> Result<SyncBoard, AppError> {
    use server::domain::integrations::{self as ig, Filter};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let filter_user = user.filter(|u| !u.trim().is_empty() && me.is_admin());
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let filter = Filter { user: filter_user.clone(), limit: 1000, ..Filter::default() };
    let (items, _) = ig::list(&mut conn, super::integrations::actor(&me), &filter).await?;
    let mut rows = Vec::with_capacity(items.len());
    for i in &items {
        let runs = server::sync::runs::latest(&mut conn, i.id, 50, 0).await?;
        rows.push(convert::row(i, &runs, me.tz()));
    }
    drop(pooled);
    // Failing calendars first: what needs attention.
    rows.sort_by_key(|r| r.status != vocab::SyncStatus::Failed);
    let failing = rows.iter().filter(|r| r.status == vocab::SyncStatus::Failed).count();
    Ok(SyncBoard {
        rows,
        is_admin: me.is_admin(),
        users: if me.is_admin() { super::integrations::user_emails(&state).await? } else { Vec::new() },
        filter_user,
        failing,
        runs_kept_days: state.config.sync.runs_kept.num_days(),
    })
}

/// "Sync now": starts the run and returns; the page follows its progress.
#[server]
pub async fn sync_now(name: String) -> Result<super::integrations::ActionResult, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let (integration, started) = state.engine.sync_now(super::integrations::actor(&me), &name).await?;
    let message = match started {
        server::sync::Started::Running(_) => format!("Syncing '{}'…", integration.integration_name),
        server::sync::Started::Queued(_) => format!("'{}' is queued: every sync slot is busy, it starts as soon as one is free.", integration.integration_name),
    };
    Ok(super::integrations::ActionResult { name, integration_name: integration.integration_name.clone(), messages: vec![message], warnings: Vec::new() })
}

/// "Apply" on a sync the deletion guard held: runs it once more with the guard lifted, recorded
/// as applied by the signed-in user.
#[server]
pub async fn apply_held_sync(name: String) -> Result<super::integrations::ActionResult, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let (integration, _) = state.engine.apply_held(super::integrations::actor(&me), &name, &me.email).await?;
    // Running or queued, the page follows it.
    Ok(super::integrations::ActionResult {
        name,
        integration_name: integration.integration_name.clone(),
        messages: vec![format!("Applying the held sync of '{}'…", integration.integration_name)],
        warnings: Vec::new(),
    })
}
