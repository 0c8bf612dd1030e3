//! Google's OAuth server as providers.md describes it: the consent page (a person, or
//! Playwright, approves or denies), the token endpoint (code exchange with the PKCE check,
//! refresh; a refresh answers no new refresh token) and revocation.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Json, Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::state::{random_token, AccessToken, Grant};
use super::{Shared, CLIENT_ID, CLIENT_SECRET};

/// How long an authorization code may be exchanged.
const CODE_TTL: Duration = Duration::from_secs(600);

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/google/o/oauth2/v2/auth", get(consent_page))
        .route("/google/o/oauth2/v2/decide", post(decide))
        .route("/google/token", post(token))
        .route("/google/revoke", post(revoke))
        .route("/microsoft/{tenant}/oauth2/v2.0/authorize", get(ms_consent_page))
        .route("/microsoft/decide", post(ms_decide))
        .route("/microsoft/{tenant}/oauth2/v2.0/token", post(ms_token))
}

async fn ms_consent_page(state: State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    consent_for(state, q, "microsoft").await
}

async fn ms_decide(state: State<Shared>, form: Form<HashMap<String, String>>) -> Response {
    decide_for(state, form, "microsoft").await
}

async fn ms_token(state: State<Shared>, headers: HeaderMap, form: Form<HashMap<String, String>>) -> Response {
    token_for(state, headers, form, "microsoft").await
}

/// Text or a double-quoted attribute value in the consent page.
fn escape(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

async fn consent_page(state: State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    consent_for(state, q, "google").await
}

/// The consent page of `provider` ("google", "microsoft").
async fn consent_for(State(state): State<Shared>, q: HashMap<String, String>, provider: &'static str) -> Response {
    let state = state.lock().unwrap_or_else(|e| e.into_inner());
    let client = q.get("client_id").map(String::as_str).unwrap_or("");
    if client != CLIENT_ID {
        return (StatusCode::BAD_REQUEST, Html("<h1>Error 401: invalid_client</h1><p>The OAuth client was not found.</p>".to_string())).into_response();
    }
    let Some(redirect) = q.get("redirect_uri").filter(|r| !r.is_empty()) else {
        return (StatusCode::BAD_REQUEST, Html("<h1>Error 400: redirect_uri_mismatch</h1>".to_string())).into_response();
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return (StatusCode::BAD_REQUEST, Html("<h1>Error 400: unsupported_response_type</h1>".to_string())).into_response();
    }
    let hidden: String = ["redirect_uri", "state", "scope", "code_challenge", "code_challenge_method", "access_type", "client_id"]
        .iter()
        .filter_map(|k| q.get(*k).map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", escape(v))))
        .collect();
    let accounts: Vec<String> = match provider {
        "microsoft" => {
            let mut v: Vec<String> = state.graph.values().filter(|c| c.is_default).map(|c| c.owner.clone()).collect();
            v.dedup();
            v
        }
        _ => state.accounts.clone(),
    };
    let options: String = accounts.iter().map(|a| format!("<option value=\"{0}\">{0}</option>", escape(a))).collect();
    let (brand, action) = match provider {
        "microsoft" => ("Microsoft", "/microsoft/decide"),
        _ => ("Google", "/google/o/oauth2/v2/decide"),
    };
    let scope = q.get("scope").map(String::as_str).unwrap_or("");
    let page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Provider sandbox — {brand} sign-in</title>
<style>body{{font-family:sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1f1f1f}}
.banner{{background:#fff3cd;border:2px solid #8a6d00;padding:.75rem;border-radius:6px}}
label{{display:block;margin:1rem 0 .25rem;font-weight:bold}} select,button{{font-size:1rem;padding:.5rem}}
button{{margin-right:.5rem}} code{{word-break:break-all}}</style></head><body>
<p class="banner"><strong>calsync provider sandbox</strong> — this is not {brand}. Nothing leaves this machine.</p>
<h1>Sign in with {brand} (sandbox)</h1>
<p><strong>calsync</strong> wants to access your {brand} account: <code>{scope}</code></p>
<form method="post" action="{action}">{hidden}
<label for="account">Account</label><select id="account" name="account">{options}</select>
<p><button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Cancel</button></p></form>
<p>Redirect: <code>{redirect}</code></p></body></html>"#,
        scope = escape(scope),
        redirect = escape(redirect),
    );
    Html(page).into_response()
}

async fn decide(state: State<Shared>, form: Form<HashMap<String, String>>) -> Response {
    decide_for(state, form, "google").await
}

async fn decide_for(State(state): State<Shared>, Form(f): Form<HashMap<String, String>>, provider: &'static str) -> Response {
    let redirect = f.get("redirect_uri").cloned().unwrap_or_default();
    let Ok(mut url) = url::Url::parse(&redirect) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    {
        let mut pairs = url.query_pairs_mut();
        if f.get("decision").map(String::as_str) != Some("allow") {
            pairs.append_pair("error", "access_denied");
        } else {
            let Some(email) = f.get("account").filter(|a| !a.is_empty()) else {
                return (StatusCode::BAD_REQUEST, "no account chosen").into_response();
            };
            let code = random_token("4/sandbox-");
            let scope = f.get("scope").cloned().unwrap_or_default();
            let grant = Grant {
                provider,
                email: email.clone(),
                client_id: f.get("client_id").cloned().unwrap_or_default(),
                redirect_uri: redirect.clone(),
                challenge: f.get("code_challenge").filter(|_| f.get("code_challenge_method").map(String::as_str) == Some("S256")).cloned(),
                scope: f.get("scope").cloned().unwrap_or_default(),
                // Google: access_type=offline; Microsoft: the offline_access scope.
                offline: f.get("access_type").map(String::as_str) == Some("offline") || scope.split(' ').any(|s| s == "offline_access"),
                issued: Instant::now(),
            };
            state.lock().unwrap_or_else(|e| e.into_inner()).codes.insert(code.clone(), grant);
            pairs.append_pair("code", &code);
            pairs.append_pair("scope", f.get("scope").map(String::as_str).unwrap_or(""));
        }
        if let Some(s) = f.get("state") {
            pairs.append_pair("state", s);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1), if sent that way.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let un = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
    Some((un(id), un(secret)))
}

async fn token(state: State<Shared>, headers: HeaderMap, form: Form<HashMap<String, String>>) -> Response {
    token_for(state, headers, form, "google").await
}

/// The token endpoint of `provider`: Microsoft rotates the refresh token on every use (the old
/// one keeps working, as its docs say).
async fn token_for(State(state): State<Shared>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>, provider: &'static str) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("POST token".into());
    // Client credentials in the form body or as HTTP Basic, as Google accepts both.
    let (id, secret) =
        basic(&headers).unwrap_or_else(|| (f.get("client_id").cloned().unwrap_or_default(), f.get("client_secret").cloned().unwrap_or_default()));
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "The OAuth client was not found.");
    }
    let ttl = state.access_ttl;
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            // A code is single use: taken out whatever happens next.
            let Some(grant) = state.codes.remove(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Malformed auth code.");
            };
            if grant.issued.elapsed() > CODE_TTL || grant.client_id != id || grant.provider != provider {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            if f.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "redirect_uri_mismatch", "Bad Request");
            }
            if let Some(challenge) = &grant.challenge {
                let verifier = f.get("code_verifier").map(String::as_str).unwrap_or("");
                if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid code verifier.");
                }
            }
            let access = random_token("ya29.sandbox-");
            state.access.insert(access.clone(), AccessToken { email: grant.email.clone(), expires: Instant::now() + ttl, provider });
            let mut body = json!({"access_token": access, "expires_in": ttl.as_secs(), "token_type": "Bearer", "scope": grant.scope});
            if grant.offline {
                let refresh = random_token("1//sandbox-");
                state.refresh.insert(refresh.clone(), grant.email.clone());
                body["refresh_token"] = json!(refresh);
            }
            no_store(Json(body).into_response())
        }
        Some("refresh_token") => {
            let refresh = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(email) = state.refresh.get(&refresh).cloned() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Token has been expired or revoked.");
            };
            let access = random_token("ya29.sandbox-");
            state.access.insert(access.clone(), AccessToken { email: email.clone(), expires: Instant::now() + ttl, provider });
            if provider == "microsoft" {
                let rotated = random_token("M.R3_sandbox-");
                state.refresh.insert(rotated.clone(), email);
                return no_store(Json(json!({"access_token": access, "refresh_token": rotated, "expires_in": ttl.as_secs(), "token_type": "Bearer", "scope": "offline_access User.Read Calendars.ReadWrite"})).into_response());
            }
            no_store(Json(json!({"access_token": access, "expires_in": ttl.as_secs(), "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.readonly"})).into_response())
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type."),
    }
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().expect("static header"));
    r
}

/// Revoking a refresh token ends the grant: the account's access tokens stop working too.
async fn revoke(State(state): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("POST revoke".into());
    let token = f.get("token").cloned().unwrap_or_default();
    let email = state.refresh.get(&token).cloned().or_else(|| state.access.get(&token).map(|a| a.email.clone()));
    match email {
        Some(email) => {
            state.revoke_account(&email);
            StatusCode::OK.into_response()
        }
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "Token expired or revoked"),
    }
}
