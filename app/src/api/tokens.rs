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
    /// "never", a date, or "expired 2026-12-01".
    pub expires: String,
    pub expired: bool,
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
        .map(|t| {
            let expired = t.expired();
            TokenView {
                expired,
                id: t.id,
                label: t.label,
                prefix: format!("{}…", t.prefix),
                created: fmt(t.created_at),
                last_used: t.last_used_at.map(fmt).unwrap_or_else(|| "never".into()),
                expires: match t.expires_at {
                    None => "never".into(),
                    Some(e) if expired => format!("expired {}", fmt(e)),
                    Some(e) => fmt(e),
                },
            }
        })
        .collect())
}

/// `expires_in_days`: empty for a token that lives until revoked.
#[server]
pub async fn create_token(label: String, expires_in_days: Option<String>) -> Result<NewToken, AppError> {
    let me = super::ctx::user().await?;
    let days = match expires_in_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => Some(d.parse::<i64>().map_err(|_| AppError::field("expires_in_days", format!("'{d}' is not a number of days.")))?),
    };
    let state = super::ctx::state();
    let by = super::ctx::by(&me).await;
    let mut pooled = state.pool.get().await?;
    let (t, token) = server::domain::api_tokens::create(&mut pooled.conn(), me.id, &label, days, &by).await?;
    Ok(NewToken { label: t.label, token })
}

#[server]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let by = super::ctx::by(&me).await;
    server::domain::api_tokens::revoke(&mut pooled.conn(), me.id, id, &by).await?;
    Ok(())
}
