//! "Connect Google Calendar": `GET /oauth/{provider}/start` sends the browser to the
//! provider's consent page with PKCE (S256) and a `state` kept in the session (single use, 10
//! minutes); `GET /oauth/{provider}/callback` checks it, exchanges the code, stores the account
//! and opens the picker (or, for Reconnect, goes back to the calendars with the same record).
use super::{AppState, CurrentUser};
use crate::api::flash::Flash;
use crate::error::AppError;
use axum::{
    extract::{Path, Query},
    response::{IntoResponse, Redirect, Response},
    Extension,
};
use serde::{Deserialize, Serialize};
use server::domain::{
    accounts::{self, Grant},
    integrations::{self as ig, IntegrationType},
    Actor,
};
use server::providers::oauth::OAuthClient;
use std::collections::HashMap;
use tower_sessions::Session;

const PENDING: &str = "oauth_pending";
/// How long a consent may take.
const STATE_TTL_SECONDS: i64 = 600;

/// What the session keeps between start and callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    verifier: String,
    /// Reconnect: the record to keep.
    integration: Option<String>,
    started: i64,
}

fn provider_of(slug: &str) -> Option<IntegrationType> {
    match slug {
        "google" => Some(IntegrationType::Google),
        "microsoft" => Some(IntegrationType::Outlook),
        _ => None,
    }
}

fn client(state: &AppState, provider: IntegrationType) -> Option<OAuthClient> {
    match provider {
        IntegrationType::Google => state.config.sync.google.oauth(),
        IntegrationType::Outlook => state.config.sync.outlook.oauth(),
        IntegrationType::Ical => None,
    }
}

fn redirect_uri(state: &AppState, slug: &str) -> String {
    format!("{}/oauth/{slug}/callback", state.config.public_url.trim_end_matches('/'))
}

/// Back to the calendars page saying `message` (kept in the session as a flash).
async fn back(session: &Session, message: String, failed: bool) -> Response {
    let flash = if failed {
        Flash { error: Some(AppError::Refused { status: 400, message }), ..Flash::default() }
    } else {
        Flash { messages: vec![message], ..Flash::default() }
    };
    match server::sessions::put_flash(session, &flash).await {
        Ok(id) => Redirect::to(&format!("/calendars?flash={id}")).into_response(),
        Err(_) => Redirect::to("/calendars").into_response(),
    }
}

pub async fn start(
    Extension(state): Extension<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    session: Session,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = user else { return Redirect::to("/login?next=%2Fcalendars").into_response() };
    let Some(provider) = provider_of(&slug) else { return super::http::error_page(axum::http::StatusCode::NOT_FOUND) };
    let Some(oauth) = client(&state, provider) else {
        let vars = if provider == IntegrationType::Google {
            "CALSYNC_GOOGLE_CLIENT_ID and CALSYNC_GOOGLE_CLIENT_SECRET"
        } else {
            "CALSYNC_MICROSOFT_CLIENT_ID and CALSYNC_MICROSOFT_CLIENT_SECRET"
        };
        return back(&session, format!("{} is not set up on this server yet: an administrator must set its OAuth client ({vars}).", provider.as_str()), true)
            .await;
    };
    // Reconnect: only for a record of this user's (or any, for an admin).
    let integration = match q.get("integration").filter(|n| !n.is_empty()) {
        None => None,
        Some(name) => {
            let Ok(mut pooled) = state.pool.get().await else { return super::http::error_page(axum::http::StatusCode::SERVICE_UNAVAILABLE) };
            match ig::get(&mut pooled.conn(), Actor::of(&user), name).await {
                Ok(i) if i.integration_type == provider => Some(i.name),
                _ => return back(&session, "That calendar was not found.".into(), true).await,
            }
        }
    };
    let started = match oauth.start(&redirect_uri(&state, &slug)) {
        Ok(s) => s,
        Err(e) => return back(&session, e.message, true).await,
    };
    let pending =
        Pending { provider: slug, state: started.state, verifier: started.verifier, integration, started: server::domain::now().and_utc().timestamp() };
    if session.insert(PENDING, pending).await.is_err() {
        return super::http::error_page(axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
    Redirect::to(&started.url).into_response()
}

pub async fn callback(
    Extension(state): Extension<AppState>,
    Extension(CurrentUser(user)): Extension<CurrentUser>,
    session: Session,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(user) = user else { return Redirect::to("/login").into_response() };
    let Some(provider) = provider_of(&slug) else { return super::http::error_page(axum::http::StatusCode::NOT_FOUND) };
    let name = provider.as_str();
    // Single use: taken out of the session whatever happens next.
    let pending: Option<Pending> = session.remove(PENDING).await.ok().flatten();
    let Some(pending) = pending.filter(|p| p.provider == slug) else {
        return back(
            &session,
            format!("The answer from {name} did not match a connection started here (it may have been used already). Nothing was connected; try again."),
            true,
        )
        .await;
    };
    if q.get("state") != Some(&pending.state) {
        return back(&session, format!("The answer from {name} did not match the connection started here. Nothing was connected; try again."), true).await;
    }
    if server::domain::now().and_utc().timestamp() - pending.started > STATE_TTL_SECONDS {
        return back(&session, format!("The connection to {name} took longer than 10 minutes and expired. Nothing was connected; try again."), true).await;
    }
    if let Some(error) = q.get("error") {
        let message = if error == "access_denied" {
            format!("You did not allow calsync to access {name}. Nothing was connected.")
        } else {
            format!("{name} did not connect ({error}). Nothing was connected; try again.")
        };
        return back(&session, message, true).await;
    }
    let Some(code) = q.get("code") else {
        return back(&session, format!("{name} answered without an authorization code. Nothing was connected; try again."), true).await;
    };
    let Some(oauth) = client(&state, provider) else { return back(&session, format!("{name} is not set up on this server."), true).await };
    let http = server::providers::oauth::http_client(state.config.sync.provider_timeout);
    let tokens = match oauth.exchange(&http, &redirect_uri(&state, &slug), code, &pending.verifier).await {
        Ok(t) => t,
        Err(e) => return back(&session, format!("Connecting {name} failed: {} Nothing was connected.", e.message), true).await,
    };
    // The account's email: Google's primary calendar's id, Graph's /me (no extra scope).
    let timeout = state.config.sync.provider_timeout;
    let found = match provider {
        IntegrationType::Outlook => server::providers::outlook::account(&state.config.sync.outlook.graph, &tokens.access_token, timeout).await,
        _ => server::providers::google::account(&state.config.sync.google.api, &tokens.access_token, timeout).await,
    };
    let email = match found {
        Ok((email, _)) => email,
        Err(e) => return back(&session, format!("Reading the account's calendars failed: {} Nothing was connected.", e.message), true).await,
    };
    let grant = Grant {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expiry: tokens.expires_in.and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| server::domain::now() + d),
    };
    let Ok(mut pooled) = state.pool.get().await else { return super::http::error_page(axum::http::StatusCode::SERVICE_UNAVAILABLE) };
    let owner = match &pending.integration {
        // Reconnect keeps the record's owner (an admin may reconnect for someone).
        Some(record) => match ig::get(&mut pooled.conn(), Actor::of(&user), record).await {
            Ok(i) => i.user_id,
            Err(_) => return back(&session, "That calendar was not found.".into(), true).await,
        },
        None => user.id,
    };
    let account = match accounts::connect(&mut pooled.conn(), &state.keys, owner, provider, &email, grant).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "storing a provider account");
            return super::http::error_page(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    match pending.integration {
        Some(record) => {
            if let Err(e) = ig::link_account(&mut pooled.conn(), &record, account.id).await {
                tracing::error!(error = %e, "linking a reconnected calendar");
                return super::http::error_page(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            }
            drop(pooled);
            let _ = state.engine.sync_now(Actor::of(&user), &record).await;
            back(&session, format!("Reconnected {name} as {email}. Syncing resumes now."), false).await
        }
        None => Redirect::to(&format!("/connect/{}", account.id)).into_response(),
    }
}
