use super::UserView;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub user: UserView,
    pub time_zones: Vec<String>,
}

/// Every IANA zone name, for the time zone pickers.
#[cfg(feature = "ssr")]
pub fn zone_names() -> Vec<String> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name().to_string()).collect()
}

#[server]
pub async fn get_profile() -> Result<Profile, AppError> {
    let user = super::ctx::user().await?;
    Ok(Profile { user: super::ctx::view(&user, user.tz()), time_zones: zone_names() })
}

#[server]
pub async fn update_profile(full_name: String, time_zone: String) -> Result<UserView, AppError> {
    let user = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let updated = server::domain::users::update_profile(&mut pooled.conn(), user.id, &full_name, &time_zone).await?;
    Ok(super::ctx::view(&updated, updated.tz()))
}

#[server]
pub async fn change_password(current_password: String, new_password: String, confirm_password: String) -> Result<(), AppError> {
    let user = super::ctx::user().await?;
    if new_password != confirm_password {
        return Err(AppError::field("confirm_password", "The two new passwords do not match."));
    }
    let state = super::ctx::state();
    let by = super::ctx::by(&user).await;
    let mut pooled = state.pool.get().await?;
    server::domain::users::change_password(&mut pooled.conn(), state.config.password_cost, user.id, &current_password, &new_password, &by).await?;
    // Every session of the user ended with the change; this browser carries on under a new id.
    let session = super::ctx::session().await?;
    server::sessions::sign_in(&session, &user).await.map_err(|e| {
        tracing::error!(error = %e, "session");
        AppError::Internal
    })?;
    Ok(())
}
