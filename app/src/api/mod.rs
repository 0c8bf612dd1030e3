//! Server functions, one file per area. Each is thin: check the session, call one `server::`
//! function, map the result to a view type.
// A server function's arguments are its form's fields, one each.
#![allow(clippy::too_many_arguments)]
pub mod admin;
pub mod audit;
pub mod auth;
pub mod availability;
pub mod bookings;
pub mod busy_rules;
pub mod conflicts;
pub mod connect;
pub mod exports;
pub mod find_time;
pub mod flash;
pub mod health;
pub mod history;
pub mod integrations;
pub mod occurrences;
pub mod profile;
pub mod sync;
pub mod teams;
pub mod tokens;
pub mod working_hours;

use serde::{Deserialize, Serialize};

/// Percent-encodes a text for a query string.
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A user as pages show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub display_name: String,
    pub is_admin: bool,
    pub role_label: String,
    pub time_zone: String,
    pub disabled: bool,
    /// "2026-11-22 09:30" in the viewer's time zone.
    pub created: String,
}

#[cfg(feature = "ssr")]
pub(crate) mod redirect;

#[cfg(feature = "ssr")]
pub(crate) mod ctx {
    //! What every server function needs: the app state, the session and the signed-in user.
    use super::UserView;
    use crate::{
        error::AppError,
        ssr::{AppState, CurrentUser},
    };
    use leptos::prelude::*;
    use server::domain::users::User;

    pub fn state() -> AppState {
        expect_context::<AppState>()
    }

    pub async fn session() -> Result<tower_sessions::Session, AppError> {
        leptos_axum::extract::<tower_sessions::Session>().await.map_err(|e| {
            tracing::error!(error = %e, "no session layer");
            AppError::Internal
        })
    }

    /// The signed-in user, if any (resolved once per request by the auth middleware).
    pub async fn maybe_user() -> Option<User> {
        leptos_axum::extract::<axum::Extension<CurrentUser>>().await.ok().and_then(|e| e.0 .0)
    }

    pub async fn user() -> Result<User, AppError> {
        maybe_user().await.ok_or(AppError::Unauthorized)
    }

    /// The signed-in user acting from this request's client, for the audit trail.
    pub async fn by(u: &User) -> server::domain::audit::By {
        server::domain::audit::By::user(&u.email, Some(&crate::ssr::client::current().await))
    }

    /// Admin-only functions do not exist for other users.
    pub async fn admin() -> Result<User, AppError> {
        let user = user().await?;
        if user.is_admin() {
            Ok(user)
        } else {
            Err(AppError::NotFound)
        }
    }

    pub fn view(u: &User, viewer_tz: chrono_tz::Tz) -> UserView {
        UserView {
            id: u.id,
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            display_name: u.display_name().to_string(),
            is_admin: u.is_admin(),
            role_label: u.role.label().to_string(),
            time_zone: u.time_zone.clone(),
            disabled: u.disabled,
            created: u.created_at.and_utc().with_timezone(&viewer_tz).format("%Y-%m-%d %H:%M").to_string(),
        }
    }
}
