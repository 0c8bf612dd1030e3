use super::UserView;
use crate::error::AppError;
use leptos::prelude::*;

/// Who is signed in (None when nobody is).
#[server]
pub async fn get_me() -> Result<Option<UserView>, AppError> {
    Ok(super::ctx::maybe_user().await.map(|u| super::ctx::view(&u, u.tz())))
}

/// Only same-site paths are followed after sign-in.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_string(),
        _ => "/".to_string(),
    }
}

#[server]
pub async fn sign_in(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use axum::extract::ConnectInfo;
    let state = super::ctx::state();
    let session = super::ctx::session().await?;
    let client = leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mut pooled = state.pool.get().await?;
    let result =
        server::domain::users::authenticate(&mut pooled.conn(), state.config.password_cost, &email, &password, &client).await;
    match result {
        Ok(user) => {
            server::sessions::sign_in(&session, &user).await.map_err(|e| {
                tracing::error!(error = %e, "session");
                AppError::Internal
            })?;
            tracing::info!(user_id = user.id, "signed in");
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        Err(e) => {
            let err = AppError::from(e);
            // Without JavaScript the browser follows a redirect: carry the message along.
            if crate::ssr::is_plain_form_post().await {
                let q = crate::ssr::query_escape(&err.to_string());
                leptos_axum::redirect(&format!("/login?error={q}"));
            }
            Err(err)
        }
    }
}

#[server]
pub async fn sign_out() -> Result<(), AppError> {
    let session = super::ctx::session().await?;
    server::sessions::sign_out(&session).await.map_err(|_| AppError::Internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}
