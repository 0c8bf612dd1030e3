//! The calendar picker after a consent: the account's calendars, and adding the ticked ones.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PickerCalendar {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub primary: bool,
    /// "Owner", "Can edit", "Read only", "Free/busy only"
    pub access: String,
    pub writable: bool,
    /// The record already connected to it, if any.
    pub connected_as: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Picker {
    pub account_id: i64,
    pub provider: String,
    pub email: String,
    pub calendars: Vec<PickerCalendar>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddedCalendars {
    pub names: Vec<String>,
    pub messages: Vec<String>,
}

#[cfg(feature = "ssr")]
fn access_label(role: &str) -> &'static str {
    match role {
        "owner" => "Owner",
        "writer" => "Can edit",
        "freeBusyReader" => "Free/busy only",
        _ => "Read only",
    }
}

/// The account's calendars as the provider lists them now.
#[cfg(feature = "ssr")]
async fn live(
    account_id: i64,
) -> Result<(server::domain::accounts::Account, Vec<server::providers::account::CalendarEntry>, crate::ssr::AppState, server::domain::users::User), AppError> {
    use server::domain::accounts;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let account = accounts::get(&mut pooled.conn(), super::integrations::actor(&me), account_id).await?;
    drop(pooled);
    let engine = state.engine.clone();
    let token = engine.account_token(&account).await?.map_err(|e| AppError::Refused { status: 409, message: e.message })?;
    let timeout = state.config.sync.provider_timeout;
    let list = match account.provider {
        server::domain::integrations::IntegrationType::Outlook => {
            server::providers::outlook::account(&state.config.sync.outlook.graph, &token, timeout).await.map(|(_, l)| l)
        }
        _ => server::providers::google::calendars(&server::providers::http::client(timeout), &state.config.sync.google.api, &token).await,
    }
    .map_err(|e| AppError::Refused { status: 502, message: format!("Reading the account's calendars failed: {}", e.message) })?;
    Ok((account, list, state, me))
}

#[server]
pub async fn get_picker(account_id: i64) -> Result<Picker, AppError> {
    let (account, list, state, _) = live(account_id).await?;
    let mut pooled = state.pool.get().await?;
    let connected = server::domain::accounts::calendars(&mut pooled.conn(), account.id).await?;
    let calendars = list
        .into_iter()
        .map(|c| PickerCalendar {
            connected_as: connected.iter().find(|(_, id)| id.as_deref() == Some(c.id.as_str())).map(|(n, _)| n.clone()),
            access: access_label(&c.access_role).to_string(),
            writable: c.writable(),
            id: c.id,
            name: c.name,
            color: c.color,
            primary: c.primary,
        })
        .collect();
    Ok(Picker { account_id: account.id, provider: account.provider.as_str().to_string(), email: account.email, calendars })
}

/// Adds the ticked calendars (`ids`) and starts their first sync at once.
#[server]
pub async fn add_calendars(account_id: i64, ids: Option<Vec<String>>) -> Result<AddedCalendars, AppError> {
    use server::domain::accounts::{self, Pick};
    let ids = ids.unwrap_or_default();
    if ids.is_empty() {
        return Err(AppError::field("ids", "Tick at least one calendar to add."));
    }
    let (account, list, state, me) = live(account_id).await?;
    let picks: Vec<Pick> = list.into_iter().filter(|c| ids.contains(&c.id)).map(|c| Pick { writable: c.writable(), calendar_id: c.id, name: c.name }).collect();
    if picks.is_empty() {
        return Err(AppError::field("ids", "None of the ticked calendars is in this account any more. Reload the list."));
    }
    let actor = super::integrations::actor(&me);
    let mut pooled = state.pool.get().await?;
    let added = accounts::add_calendars(&mut pooled.conn(), &state.keys, actor, account.id, picks).await?;
    drop(pooled);
    let mut messages = Vec::new();
    let mut names = Vec::new();
    for a in &added {
        messages.push(format!("Added “{}”. Its first sync has started.", a.integration.integration_name));
        messages.extend(a.note.clone());
        names.push(a.integration.name.clone());
        // The owner's engine call: an admin adding for someone acts as that someone here.
        let owner = server::domain::Actor { user_id: a.integration.user_id, is_admin: actor.is_admin };
        if let Err(e) = state.engine.sync_now(owner, &a.integration.name).await {
            tracing::warn!(error = %e, "starting the first sync of a picked calendar");
        }
    }
    if added.is_empty() {
        messages.push("Those calendars are already connected.".into());
    }
    let result = AddedCalendars { names, messages };
    if crate::ssr::is_plain_form_post().await {
        let flash = super::flash::Flash { messages: result.messages.clone(), ..Default::default() };
        super::redirect::to_flash("/calendars", &flash).await;
    }
    Ok(result)
}
