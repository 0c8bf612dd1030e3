use super::UserView;
use crate::error::AppError;
use leptos::prelude::*;

/// Who is signed in (None when nobody is).
#[server]
pub async fn get_me() -> Result<Option<UserView>, AppError> {
    Ok(super::ctx::maybe_user().await.map(|u| super::ctx::view(&u, u.tz())))
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
            leptos_axum::redirect(&super::redirect::safe_next(next.as_deref()));
            Ok(())
        }
        Err(e) => {
            let err = AppError::from(e);
            // Without JavaScript the browser follows a redirect: the message waits in the session.
            if crate::ssr::is_plain_form_post().await {
                let flash = super::flash::Flash { error: Some(err.clone()), ..Default::default() };
                super::redirect::to_flash(&super::redirect::login_path(next.as_deref()), &flash).await;
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
