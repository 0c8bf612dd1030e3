//! Where a server function sends a browser that posted a plain form (no JavaScript), and where
//! sign-in may send it. What the page must say is kept in the session as a flash; only its id
//! travels in the address.
use super::{flash::Flash, integrations::ActionResult};
use crate::{api::query_escape, error::AppError};

/// Sends the browser to `path` (which may carry a query) with `flash` to show there.
pub async fn to_flash(path: &str, flash: &Flash) {
    let id = match super::ctx::session().await {
        Ok(session) => server::sessions::put_flash(&session, flash).await.map_err(|e| tracing::error!(error = %e, "saving a flash")).ok(),
        Err(_) => None,
    };
    let to = match id {
        Some(id) => format!("{path}{}flash={id}", if path.contains('?') { '&' } else { '?' }),
        None => path.to_string(),
    };
    leptos_axum::redirect(&to);
}

/// A successful save: the list, with what the save had to say.
pub fn notices(result: &ActionResult) -> Flash {
    Flash { messages: result.messages.clone(), warnings: result.warnings.clone(), ..Flash::default() }
}

/// A refusal: back to the form with the values typed and the messages.
pub fn failure(values: &[(&str, Option<String>)], err: &AppError) -> Flash {
    Flash { error: Some(err.clone()), values: values.iter().filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v))).collect(), ..Flash::default() }
}

/// Where to go after sign-in: a path of this site only. Whatever a browser could read as
/// another host (`//evil.com`, `/\evil.com`, `/<tab>/evil.com` — browsers drop tabs and
/// newlines —, `https:evil.com`), in any percent-encoded form, goes to the home page.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else { return "/".into() };
    let mut form = next.to_string();
    for _ in 0..4 {
        if !is_local_path(&form) {
            return "/".into();
        }
        let decoded = percent_encoding::percent_decode_str(&form).decode_utf8_lossy().into_owned();
        if decoded == form {
            return next.to_string();
        }
        form = decoded;
    }
    "/".into()
}

fn is_local_path(p: &str) -> bool {
    p.starts_with('/') && !p[1..].starts_with(['/', '\\']) && !p.chars().any(|c| c == '\\' || c.is_control())
}

/// `/login` with `next` kept, for a sign-in that failed.
pub fn login_path(next: Option<&str>) -> String {
    match next.filter(|n| !n.is_empty()) {
        Some(n) => format!("/login?next={}", query_escape(&safe_next(Some(n)))),
        None => "/login".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_accepts_only_paths_of_this_site() {
        for ok in ["/", "/calendars", "/calendars?user=ana%40example.com", "/sync#top", "/a/b?c=d&e=f"] {
            assert_eq!(safe_next(Some(ok)), ok, "{ok}");
        }
        for bad in [
            "/\t/evil.com",
            "//evil.com",
            "/\\evil.com",
            "https:evil.com",
            "https://evil.com",
            "evil.com",
            "\\\\evil.com",
            "/%09/evil.com",
            "%2F%2Fevil.com",
            "/%2Fevil.com",
            "/%5Cevil.com",
            "%252F%252Fevil.com",
            "/%252F/evil.com",
            "/\n/evil.com",
            "/\r\n/evil.com",
            " //evil.com",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
