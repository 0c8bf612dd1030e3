//! Admin → Teams: the teams bookings are assigned within, and their members.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamView {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamsPage {
    pub teams: Vec<TeamView>,
    /// Everyone who can be a member.
    pub users: Vec<String>,
}

#[cfg(feature = "ssr")]
fn emails(text: &str) -> Vec<String> {
    text.split([',', '\n', ';', ' ']).map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect()
}

#[server]
pub async fn list_teams() -> Result<TeamsPage, AppError> {
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let teams = {
        let mut pooled = state.pool.get().await?;
        server::domain::teams::list(&mut pooled.conn(), super::integrations::actor(&admin)).await?
    };
    Ok(TeamsPage {
        teams: teams.iter().map(|t| TeamView { name: t.name.clone(), members: t.emails() }).collect(),
        users: super::integrations::user_emails(&state).await?,
    })
}

/// `members`: emails separated by commas or lines.
#[server]
pub async fn create_team(name: String, members: String) -> Result<String, AppError> {
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let team = server::domain::teams::create(&mut pooled.conn(), super::integrations::actor(&admin), &name, &emails(&members)).await?;
    Ok(format!("Team '{}' created with {} members.", team.name, team.members.len()))
}

#[server]
pub async fn update_team(team: String, name: String, members: String) -> Result<String, AppError> {
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let patch = server::domain::teams::Patch { name: Some(name), members: Some(emails(&members)) };
    let t = server::domain::teams::update(&mut pooled.conn(), super::integrations::actor(&admin), &team, patch).await?;
    Ok(format!("Team '{}' saved.", t.name))
}

#[server]
pub async fn delete_team(team: String) -> Result<String, AppError> {
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    server::domain::teams::delete(&mut pooled.conn(), super::integrations::actor(&admin), &team).await?;
    Ok(format!("Team '{team}' removed. Its bookings stay with their members."))
}
