//! The web's defences over the real router, on SQLite and PostgreSQL: no cross-site writes, no
//! open redirect after sign-in, security headers and the page's CSP, nothing attacker-written in
//! the address shown as the app's own words, and 4xx (not 500) for what a person got wrong.
use crate::common;

use app::api::{
    admin::SetUserDisabled,
    auth::SignIn,
    availability::WeekView,
    integrations::{GetIntegrationForm, ListIntegrations, SaveIntegration},
};
use axum::http::{header, StatusCode};
use common::*;
use leptos::server_fn::ServerFn;
use server::domain::users::Role;
use testkit::db_test;

const GOOD_FEED: &str = "integration_type=iCal&integration_name=Mine&ical_url=https%3A%2F%2Fexample.com%2Fa.ics&is_active=on&sync_direction=One-way+%28Read+Only%29&sync_past_days=30&sync_future_days=90&sync_interval_minutes=60&auto_sync_enabled=on";

fn with_origin(mut req: axum::http::Request<axum::body::Body>, origin: Option<&str>, referer: Option<&str>) -> axum::http::Request<axum::body::Body> {
    req.headers_mut().remove(header::ORIGIN);
    if let Some(o) = origin {
        req.headers_mut().insert(header::ORIGIN, o.parse().unwrap());
    }
    if let Some(r) = referer {
        req.headers_mut().insert(header::REFERER, r.parse().unwrap());
    }
    req
}

db_test!(writes_from_another_origin_are_refused, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    let sign_in_body = "email=sarah%40example.com&password=right+password";

    // Login CSRF: another site's form signing the visitor in is refused, with no session.
    let req = plain_post(form(SignIn::PATH, sign_in_body, None), "/login");
    let a = send(&app, with_origin(req, Some("https://evil.example"), None)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.headers.get(header::SET_COOKIE).is_none());
    assert!(a.body.contains("This request came from https://evil.example, but this calsync server is used at http://127.0.0.1:3000."), "{}", a.body);
    assert!(a.body.contains("CALSYNC_PUBLIC_URL"), "{}", a.body);
    assert!(a.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));

    // The person who opened localhost instead of 127.0.0.1 is told which address to use.
    let a = send(&app, with_origin(form(SignIn::PATH, sign_in_body, None), Some("http://localhost:3000"), None)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let e = json(&a);
    let message = e["Refused"]["message"].as_str().unwrap();
    assert!(message.contains("came from http://localhost:3000") && message.contains("Open http://127.0.0.1:3000"), "{message}");

    // No Origin and no Referer: refused too; "null" (a sandboxed frame) as well.
    assert_eq!(send(&app, with_origin(form(SignIn::PATH, sign_in_body, None), None, None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, with_origin(form(SignIn::PATH, sign_in_body, None), Some("null"), None)).await.status, StatusCode::FORBIDDEN);
    // A browser that leaves Origin out but sends the page's Referer passes; a foreign Referer does not.
    let ok = with_origin(form(SignIn::PATH, sign_in_body, None), None, Some("http://127.0.0.1:3000/login?next=%2F"));
    assert_eq!(send(&app, ok).await.status, StatusCode::OK);
    let bad = with_origin(form(SignIn::PATH, sign_in_body, None), None, Some("http://127.0.0.1:3001/login"));
    assert_eq!(send(&app, bad).await.status, StatusCode::FORBIDDEN);

    // A signed-in user's cookie does not let another site call a server function.
    let sarah = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, with_origin(form(SaveIntegration::PATH, GOOD_FEED, Some(&sarah)), Some("https://evil.example"), None)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let list = send(&app, form(ListIntegrations::PATH, "", Some(&sarah))).await;
    assert!(list.body.contains("\"items\":[]"), "nothing was created: {}", list.body);
    // From the app's own page it works.
    let a = send(&app, form(SaveIntegration::PATH, GOOD_FEED, Some(&sarah))).await;
    assert!(a.status.is_success() || a.status.is_redirection(), "{}: {}", a.status, a.body);

    // The REST API is bearer-only: no Origin check stands in its way (and no cookie opens it).
    let token = token_for(&db, "sarah@example.com").await;
    let mut req = api(
        "POST",
        "/api/v1/integrations",
        Some(&token),
        Some(serde_json::json!({"integration_type": "iCal", "integration_name": "By API", "ical_url": "https://example.com/b.ics"})),
    );
    req.headers_mut().insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    assert_eq!(send(&app, req).await.status, StatusCode::CREATED);
    let mut req = api("GET", "/api/v1/integrations", None, None);
    req.headers_mut().insert(header::COOKIE, sarah.parse().unwrap());
    assert_eq!(send(&app, req).await.status, StatusCode::UNAUTHORIZED);
});

db_test!(sign_in_follows_only_paths_of_this_site, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    for (next, expected) in [
        ("%2Fcalendars%3Fuser%3Dsarah%2540example.com", "/calendars?user=sarah%40example.com"),
        ("%2Fsync", "/sync"),
        ("%2F%09%2Fevil.com", "/"),
        ("%2F%2Fevil.com", "/"),
        ("%2F%5Cevil.com", "/"),
        ("https%3Aevil.com", "/"),
        ("https%3A%2F%2Fevil.com", "/"),
        ("%2F%252F%252Fevil.com", "/"),
        ("%2F%2509%2Fevil.com", "/"),
        ("%252F%252Fevil.com", "/"),
    ] {
        let req = plain_post(form(SignIn::PATH, format!("email=sarah%40example.com&password=right+password&next={next}"), None), "/login");
        let a = send(&app, req).await;
        assert!(a.status.is_redirection(), "{next}: {}", a.status);
        assert_eq!(a.headers[header::LOCATION], expected, "{next}");
    }
});

db_test!(every_answer_carries_the_security_headers, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    let a = send(&app, get("/login", None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(a.headers[header::REFERRER_POLICY], "same-origin");
    assert!(a.headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over plain http");
    let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{csp}");
    let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap();
    assert!(!script_src.contains("unsafe-inline"), "{csp}");
    // The nonce in the policy is the one every inline script of the page carries, and new per request.
    let nonce = script_src.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(nonce.len() >= 16, "{nonce}");
    let scripts = a.body.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(a.body.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "every script has the nonce: {}", a.body);
    let again = send(&app, get("/login", None)).await;
    assert!(!again.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains(nonce), "a nonce is used once");

    // A signed-in page streamed with resources, a 404 page and a static file.
    let cookie = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    for path in ["/calendars", "/sync", "/no/such/page"] {
        let a = send(&app, get(path, Some(&cookie))).await;
        let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
        assert_eq!(a.body.matches(&format!("nonce=\"{nonce}\"")).count(), a.body.matches("<script").count(), "{path}");
    }
    let a = send(&app, get("/favicon.svg", None)).await;
    assert_eq!(a.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    // Over https: HSTS.
    let https = app_with(&db, "https://calsync.example.com");
    let a = send(&https, get("/login", None)).await;
    assert_eq!(a.headers[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
});

db_test!(messages_in_the_address_cannot_be_invented, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    // A failed sign-in without JavaScript: the address holds a flash id, not the message.
    let req = plain_post(form(SignIn::PATH, "email=sarah%40example.com&password=wrong&next=%2Fsync", None), "/login");
    let a = send(&app, req).await;
    let to = a.headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/login?next=%2Fsync&flash="), "{to}");
    assert!(!to.contains("Invalid"), "{to}");
    let cookie = session_set_cookie(&a).unwrap().split(';').next().unwrap().to_string();
    let page = send(&app, get(&to, Some(&cookie))).await;
    assert!(page.body.contains("Invalid email or password."), "{}", page.body);
    // The same address in another browser (an attacker's link) shows nothing.
    let page = send(&app, get(&to, None)).await;
    assert!(!page.body.contains("Invalid email or password."));

    // The old carriers of text say nothing any more.
    let crafted = "/login?error=Your%20account%20is%20locked.%20Call%20%2B1%20555%200100";
    assert!(!send(&app, get(crafted, None)).await.body.contains("locked"));
    let sarah = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let crafted = "/calendars/new?failed=1&err._=Your%20calendar%20was%20hacked&ical_url=https%3A%2F%2Fevil.example%2Fsteal.ics&integration_name=Evil";
    let page = send(&app, get(crafted, Some(&sarah))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("hacked") && !page.body.contains("evil.example") && !page.body.contains("Evil"), "{}", page.body);
    let crafted = "/calendars?notice=Sync%20finished.%20Re-enter%20your%20password%20at%20evil.example";
    assert!(!send(&app, get(crafted, Some(&sarah))).await.body.contains("evil.example"));
    // Nor can an attacker's own flash id be shown in someone else's session.
    let req =
        form(SaveIntegration::PATH, "integration_type=iCal&integration_name=Evil&ical_url=https%3A%2F%2Fevil.example%2Fx.ics&sync_past_days=-1", Some(&sarah));
    let to = send(&app, plain_post(req, "/calendars/new")).await.headers[header::LOCATION].to_str().unwrap().to_string();
    add_user(&db, "john@example.com", Role::User).await;
    let john = sign_in(&app, "john%40example.com", "right+password").await.ok().unwrap();
    let page = send(&app, get(&to, Some(&john))).await;
    assert!(!page.body.contains("evil.example"), "{}", page.body);
});

db_test!(what_a_person_got_wrong_is_4xx_not_500, |db| {
    add_user(&db, "admin@example.com", Role::Admin).await;
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    // Wrong password: 401.
    let a = send(&app, form(SignIn::PATH, "email=sarah%40example.com&password=wrong", None)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let sarah = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    // A rule refusal: 422 with the field's message.
    let a = send(&app, form(SaveIntegration::PATH, "integration_type=iCal&integration_name=X&ical_url=ftp%3A%2F%2Fx", Some(&sarah))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("iCal URL must start"), "{}", a.body);
    // Someone else's record: 404. Another user's week: 403.
    let a = send(&app, form(GetIntegrationForm::PATH, "name=MM-CI-admin%40example.com-0001", Some(&sarah))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = send(&app, form(WeekView::PATH, "user=admin%40example.com", Some(&sarah))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // A garbled value: 400. Signed out: 401.
    let a = send(&app, form(WeekView::PATH, "week=next+tuesday", Some(&sarah))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("is not a date like 2026-11-23"), "{}", a.body);
    assert_eq!(send(&app, form(ListIntegrations::PATH, "", None)).await.status, StatusCode::UNAUTHORIZED);
    // A conflict: 409.
    let admin = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let mut c = db.pool.get().await.unwrap();
    let me = server::domain::users::find_by_email(&mut c.conn(), "admin@example.com").await.unwrap().unwrap();
    drop(c);
    let a = send(&app, form(SetUserDisabled::PATH, format!("id={}&disabled=true", me.id), Some(&admin))).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert!(a.body.contains("You cannot disable your own account."));
});

db_test!(pages_always_finish_rendering_under_concurrent_load, |db| {
    // Every page, 40 times, 8 at a time, while other routers are being built (as tests build
    // theirs): working the route list out again while pages streamed left responses hanging
    // for ever (6–8 of 440 here).
    add_user(&db, "admin@example.com", Role::Admin).await;
    let app = app(&db);
    let cookie = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, form(SaveIntegration::PATH, GOOD_FEED, Some(&cookie))).await;
    assert!(a.status.is_success() || a.status.is_redirection());
    let paths = [
        "/",
        "/calendars",
        "/calendars/new",
        "/calendars/MM-CI-admin@example.com-0001",
        "/sync",
        "/availability",
        "/profile",
        "/settings/tokens",
        "/admin/users",
        "/admin/audit",
        "/login?flash=0123456789abcdef",
    ];
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for round in 0..40 {
        for path in paths {
            let (app, cookie, semaphore) = (app.clone(), cookie.clone(), semaphore.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                let answer = tokio::time::timeout(std::time::Duration::from_secs(20), send(&app, get(path, Some(&cookie)))).await;
                (round, path, answer.map(|a| a.status))
            }));
        }
    }
    let builders: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move {
                for _ in 0..8 {
                    let _ = app::ssr::http::router(state_for(&url).await, leptos::config::get_configuration(None).unwrap().leptos_options);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    for b in builders {
        b.await.unwrap();
    }
    let mut hung = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (_, _, Ok(status)) => assert!(status == StatusCode::OK),
            (round, path, Err(_)) => hung.push(format!("{path} (round {round})")),
        }
    }
    assert!(hung.is_empty(), "{} responses never finished: {hung:?}", hung.len());
});

/// An app state on the database at `url` (for routers built inside spawned tasks).
async fn state_for(url: &str) -> app::ssr::AppState {
    let pool = server::db::Pool::connect_sized(url, 2).await.unwrap();
    let keys = server::crypto::Keyring::new(vec![server::crypto::KeyEntry::generate("k1")]).unwrap();
    let mut config = server::config::Config::from_env().unwrap();
    config.database_url = url.to_string();
    app::ssr::AppState::new(pool, config, keys)
}
