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
    use server::domain::sign_in::{self, Attempt};
    let state = super::ctx::state();
    let session = super::ctx::session().await?;
    let client = crate::ssr::client::current().await;
    let cookie_name = device_cookie_name(state.config.secure_cookies());
    let device = leptos_axum::extract::<axum::http::HeaderMap>().await.ok().and_then(|h| cookie(&h, cookie_name));
    let attempt = Attempt { email: &email, password: &password, client: &client, device: device.as_deref() };
    match sign_in::sign_in(&state.pool, state.config.password_cost, attempt).await {
        Ok(signed_in) => {
            let user = signed_in.user;
            server::sessions::sign_in(&session, &user).await.map_err(|e| {
                tracing::error!(error = %e, "session");
                AppError::Internal
            })?;
            if let Some(token) = signed_in.new_device {
                set_device_cookie(cookie_name, &token, state.config.secure_cookies());
            }
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
    if let Some(user) = super::ctx::maybe_user().await {
        let state = super::ctx::state();
        let by = super::ctx::by(&user).await;
        let mut pooled = state.pool.get().await?;
        server::domain::audit::record(&mut pooled.conn(), server::domain::audit::Kind::SignOut, &by, None, "").await?;
    }
    server::sessions::sign_out(&session).await.map_err(|_| AppError::Internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The browser's device cookie: it tells the sign-in throttle that this browser signed in to the
/// account before (see `server::domain::sign_in`).
#[cfg(feature = "ssr")]
fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-calsync_device"
    } else {
        "calsync_device"
    }
}

#[cfg(feature = "ssr")]
fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(feature = "ssr")]
fn set_device_cookie(name: &str, token: &str, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!("{name}={token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}");
    if let (Some(res), Ok(v)) = (use_context::<leptos_axum::ResponseOptions>(), axum::http::HeaderValue::from_str(&value)) {
        res.append_header(axum::http::header::SET_COOKIE, v);
    }
}
