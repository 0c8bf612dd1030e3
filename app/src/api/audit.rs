//! Admin → Audit: who did what to accounts, tokens and keys.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// "2026-11-30 09:15:02" in the viewer's zone.
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub client: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Every kind, for the filter; and the accounts that can be picked.
    pub kinds: Vec<String>,
    pub users: Vec<String>,
    pub user: Option<String>,
    pub kind: Option<String>,
}

pub const PER_PAGE: i64 = 50;

#[server]
pub async fn list_audit(user: Option<String>, kind: Option<String>, page: Option<String>) -> Result<AuditPage, AppError> {
    use server::domain::audit::{self, Filter, Kind};
    let admin = super::ctx::admin().await?;
    let user = user.map(|u| u.trim().to_lowercase()).filter(|u| !u.is_empty());
    let kind = kind.filter(|k| !k.is_empty());
    let parsed_kind = match &kind {
        None => None,
        Some(k) => Some(Kind::parse(k).ok_or_else(|| AppError::bad_request(format!("'{k}' is not a kind of event.")))?),
    };
    let page = page.and_then(|p| p.trim().parse::<i64>().ok()).unwrap_or(1).max(1);
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let filter = Filter { user: user.clone(), kind: parsed_kind, limit: PER_PAGE, offset: (page - 1) * PER_PAGE };
    let (entries, total) = audit::list(&mut conn, &filter).await?;
    let users = server::domain::users::list(&mut conn).await?.into_iter().map(|u| u.email).collect();
    let tz = admin.tz();
    Ok(AuditPage {
        rows: entries
            .into_iter()
            .map(|e| AuditRow {
                at: e.at.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
                kind: e.kind,
                actor: e.actor,
                subject: e.subject.unwrap_or_default(),
                client: e.client.unwrap_or_default(),
                detail: e.detail,
            })
            .collect(),
        total,
        page,
        pages: ((total + PER_PAGE - 1) / PER_PAGE).max(1),
        kinds: Kind::ALL.iter().map(|k| k.as_str().to_string()).collect(),
        users,
        user,
        kind,
    })
}
