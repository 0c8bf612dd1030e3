//! The admin Users page. Every function answers "not found" to non-admins.
use super::UserView;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsersPage {
    pub me: i64,
    pub users: Vec<UserView>,
    pub time_zones: Vec<String>,
    pub default_tz: String,
}

#[server]
pub async fn list_users() -> Result<UsersPage, AppError> {
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let users = server::domain::users::list(&mut pooled.conn()).await?;
    Ok(UsersPage {
        me: admin.id,
        users: users.iter().map(|u| super::ctx::view(u, admin.tz())).collect(),
        time_zones: super::profile::zone_names(),
        default_tz: state.config.default_tz.name().to_string(),
    })
}

#[server]
pub async fn create_user(email: String, full_name: String, password: String, role: String, time_zone: String) -> Result<UserView, AppError> {
    use server::domain::users::{self, NewUser, Role};
    let admin = super::ctx::admin().await?;
    let state = super::ctx::state();
    let role = Role::parse(&role).ok_or_else(|| AppError::field("role", format!("'{role}' is not a role: choose User or System Manager.")))?;
    let mut pooled = state.pool.get().await?;
    let new = NewUser { email, full_name, password, role, time_zone };
    let by = super::ctx::by(&admin).await;
    let user = users::create_by(&mut pooled.conn(), state.config.password_cost, new, &by).await?;
    Ok(super::ctx::view(&user, admin.tz()))
}

#[server]
pub async fn set_user_disabled(id: i64, disabled: bool) -> Result<UserView, AppError> {
    let admin = super::ctx::admin().await?;
    if admin.id == id && disabled {
        return Err(AppError::Refused { status: 409, message: "You cannot disable your own account.".into() });
    }
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let by = super::ctx::by(&admin).await;
    let user = server::domain::users::set_disabled(&mut pooled.conn(), id, disabled, &by).await?;
    Ok(super::ctx::view(&user, admin.tz()))
}

#[server]
pub async fn set_user_role(id: i64, role: String) -> Result<UserView, AppError> {
    use server::domain::users::Role;
    let admin = super::ctx::admin().await?;
    let role = Role::parse(&role).ok_or_else(|| AppError::bad_request(format!("'{role}' is not a role.")))?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let by = super::ctx::by(&admin).await;
    let user = server::domain::users::set_role(&mut pooled.conn(), id, role, &by).await?;
    Ok(super::ctx::view(&user, admin.tz()))
}

#[server]
pub async fn reset_password(id: i64, password: String) -> Result<(), AppError> {
    let admin = super::ctx::admin().await?;
    let by = super::ctx::by(&admin).await;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    server::domain::users::set_password(&mut pooled.conn(), state.config.password_cost, id, &password, &by).await?;
    Ok(())
}
