//! Settings → Calendar export: a user's export links (.ics feeds of their calendars).
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportView {
    pub id: i64,
    /// "Free/busy" or "Private"
    pub kind: String,
    /// "All calendars" or the chosen calendars' names.
    pub calendars: String,
    pub include_bookings: bool,
    /// "…/ics/Ab3dE9…"
    pub address: String,
    pub created: String,
    /// A date, or "never".
    pub last_fetched: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalendarChoice {
    /// The record name.
    pub name: String,
    pub integration_name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportsPage {
    pub links: Vec<ExportView>,
    pub calendars: Vec<CalendarChoice>,
}

/// A link just made: the only time its address is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewExport {
    pub kind: String,
    pub url: String,
    pub webcal_url: String,
}

#[cfg(feature = "ssr")]
fn kind_label(kind: &str) -> &'static str {
    if kind == "private" {
        "Private (full details)"
    } else {
        "Free/busy (only “Busy”)"
    }
}

#[server]
pub async fn list_exports() -> Result<ExportsPage, AppError> {
    use server::domain::{exports, integrations as ig};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let actor = super::integrations::actor(&me);
    let (calendars, _) = ig::list(&mut conn, actor, &ig::Filter { user: Some(me.email.clone()), limit: 1000, ..ig::Filter::default() }).await?;
    let links = exports::list(&mut conn, actor, None).await?;
    let tz = me.tz();
    let fmt = |t: chrono::NaiveDateTime| t.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let display = |name: &String| calendars.iter().find(|c| &c.name == name).map(|c| c.integration_name.clone()).unwrap_or_else(|| format!("{name} (deleted)"));
    Ok(ExportsPage {
        links: links
            .iter()
            .map(|l| ExportView {
                id: l.id,
                kind: kind_label(l.kind.as_str()).into(),
                calendars: match &l.integrations {
                    None => "All calendars".into(),
                    Some(names) => names.iter().map(display).collect::<Vec<_>>().join(", "),
                },
                include_bookings: l.include_bookings,
                address: format!("{}/ics/{}…", state.config.public_url.trim_end_matches('/'), l.prefix),
                created: fmt(l.created_at),
                last_fetched: l.last_fetched_at.map(fmt).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        calendars: calendars.into_iter().map(|c| CalendarChoice { name: c.name, integration_name: c.integration_name }).collect(),
    })
}

/// `scope`: `all`, or `chosen` with `integrations` (record names, one per line).
#[server]
pub async fn create_export(kind: String, scope: Option<String>, integrations: Option<String>, include_bookings: Option<String>) -> Result<NewExport, AppError> {
    use server::domain::exports;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let chosen: Vec<String> = integrations.unwrap_or_default().lines().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
    if scope.as_deref() == Some("chosen") && chosen.is_empty() {
        return Err(AppError::field("integrations", "Choose at least one calendar, or export all of them."));
    }
    let new = exports::NewLink {
        user: None,
        kind: Some(kind),
        integrations: (scope.as_deref() == Some("chosen")).then_some(chosen),
        include_bookings: super::integrations::checked(&include_bookings),
    };
    let by = super::ctx::by(&me).await;
    let mut pooled = state.pool.get().await?;
    let (link, token) = exports::create(&mut pooled.conn(), super::integrations::actor(&me), new, &by).await?;
    let (url, webcal_url) = exports::urls(&state.config.public_url, &token);
    Ok(NewExport { kind: kind_label(link.kind.as_str()).into(), url, webcal_url })
}

#[server]
pub async fn revoke_export(id: i64) -> Result<(), AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let by = super::ctx::by(&me).await;
    let mut pooled = state.pool.get().await?;
    server::domain::exports::delete(&mut pooled.conn(), super::integrations::actor(&me), id, &by).await?;
    Ok(())
}
