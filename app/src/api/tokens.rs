//! Personal API tokens (Settings → API tokens).
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub label: String,
    pub prefix: String,
    pub created: String,
    pub last_used: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub label: String,
    /// Shown once, never stored in the clear.
    pub token: String,
}

#[server]
pub async fn list_tokens() -> Result<Vec<TokenView>, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let tz = me.tz();
    let fmt = |t: chrono::NaiveDateTime| t.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    Ok(server::domain::api_tokens::list(&mut pooled.conn(), me.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            label: t.label,
            prefix: format!("{}…", t.prefix),
            created: fmt(t.created_at),
            last_used: t.last_used_at.map(fmt).unwrap_or_else(|| "never".into()),
        })
        .collect())
}

#[server]
pub async fn create_token(label: String) -> Result<NewToken, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let (t, token) = server::domain::api_tokens::create(&mut pooled.conn(), me.id, &label).await?;
    tracing::info!(token_id = t.id, "API token created");
    Ok(NewToken { label: t.label, token })
}

#[server]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    server::domain::api_tokens::revoke(&mut pooled.conn(), me.id, id).await?;
    Ok(())
}
