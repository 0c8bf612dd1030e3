//! The real router, end to end over HTTP semantics (no browser): health, sign-in, sessions,
//! permissions and bad requests, on SQLite and on PostgreSQL.
use crate::common;

use app::{
    api::{admin::ListUsers, auth::SignIn},
    ssr::{http::router, AppState},
};
use axum::http::{header, StatusCode};
use common::*;
use leptos::server_fn::ServerFn;
use server::domain::users::{self, Role};
use testkit::db_test;
use testkit::TestDb;

db_test!(health_answers_200_with_the_database, |db| {
    let a = send(&app(&db), get("/health", None)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, r#"{"database":"ok","status":"ok"}"#);
    assert!(a.headers.contains_key("x-request-id"));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_503_without_the_database() {
    // A PostgreSQL address where nothing listens (port 1 on loopback).
    let pool = server::db::Pool::connect_with("postgres://calsync@127.0.0.1:1/none", 1, std::time::Duration::from_millis(500)).await.unwrap();
    let db = TestDb::new(testkit::Kind::Sqlite).await;
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    let app = router(AppState::new(pool, config(&db, "http://127.0.0.1:3000"), db.keys.clone()), options);
    let a = send(&app, get("/health", None)).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(a.body.contains("unreachable"));
}

db_test!(sign_in_sets_a_safe_session_cookie_and_opens_pages, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    // Signed out: pages send you to sign in, remembering where you were going.
    let a = send(&app, get("/profile", None)).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.headers[header::LOCATION], "/login?next=%2Fprofile");

    let res = send(&app, form(SignIn::PATH, "email=Sarah%40Example.com&password=right+password&next=/profile", None)).await;
    let set_cookie = session_set_cookie(&res).unwrap();
    assert!(set_cookie.starts_with("calsync_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http must not set Secure: {set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap();
    let page = send(&app, get("/profile", Some(cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Your profile"));

    // The session lives in the database: a second router (another process) knows it.
    let other = app_with(&db, "http://127.0.0.1:3000");
    assert_eq!(send(&other, get("/profile", Some(cookie))).await.status, StatusCode::OK);

    // A tampered cookie is just a signed-out visitor.
    let tampered = format!("{}x", cookie);
    assert_eq!(send(&app, get("/profile", Some(&tampered))).await.status, StatusCode::SEE_OTHER);
    let garbage = "calsync_session=%FF%FE not base64";
    assert_eq!(send(&app, get("/profile", Some(garbage))).await.status, StatusCode::SEE_OTHER);
});

db_test!(cookies_are_secure_behind_https, |db| {
    add_user(&db, "s@example.com", Role::User).await;
    let app = app_with(&db, "https://calsync.example.com");
    let mut req = form(SignIn::PATH, "email=s%40example.com&password=right+password", None);
    req.headers_mut().insert(header::ORIGIN, "https://calsync.example.com".parse().unwrap());
    let a = send(&app, req).await;
    let set_cookie = session_set_cookie(&a).unwrap();
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
    // The __Host- prefix: only a Secure, host-only, whole-site cookie of this host is accepted.
    assert!(set_cookie.starts_with("__Host-calsync_session=") && set_cookie.contains("Path=/") && !set_cookie.contains("Domain"), "{set_cookie}");
});

db_test!(every_failed_sign_in_gets_one_message_and_no_session, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    for body in ["email=sarah%40example.com&password=wrong", "email=nobody%40example.com&password=right+password", "email=&password="] {
        let a = send(&app, form(SignIn::PATH, body, None)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(a.body.contains("Invalid email or password."), "{body}: {}", a.body);
        assert!(a.headers.get(header::SET_COOKIE).is_none(), "{body}: a failed sign-in must not set a session");
    }
});

db_test!(sign_in_renews_the_session_id, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    let first = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, form(SignIn::PATH, "email=sarah%40example.com&password=right+password", Some(&first))).await;
    let second = session_set_cookie(&a).unwrap().split(';').next().unwrap().to_string();
    assert_ne!(first, second);
    // The old id no longer opens anything.
    assert_eq!(send(&app, get("/profile", Some(&first))).await.status, StatusCode::SEE_OTHER);
    assert_eq!(send(&app, get("/profile", Some(&second))).await.status, StatusCode::OK);
});

db_test!(admin_functions_do_not_exist_for_users, |db| {
    add_user(&db, "admin@example.com", Role::Admin).await;
    add_user(&db, "user@example.com", Role::User).await;
    let app = app(&db);
    let user = sign_in(&app, "user%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, form(ListUsers::PATH, "", Some(&user))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("NotFound"), "{}", a.body);
    assert!(!a.body.contains("admin@example.com"));
    let admin = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, form(ListUsers::PATH, "", Some(&admin))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("user@example.com"));
    // Signed out: asked to sign in.
    let a = send(&app, form(ListUsers::PATH, "", None)).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.contains("Unauthorized"), "{}", a.body);
});

db_test!(disabling_a_user_ends_their_open_session, |db| {
    add_user(&db, "admin@example.com", Role::Admin).await;
    add_user(&db, "user@example.com", Role::User).await;
    let app = app(&db);
    let cookie = sign_in(&app, "user%40example.com", "right+password").await.ok().unwrap();
    assert_eq!(send(&app, get("/profile", Some(&cookie))).await.status, StatusCode::OK);
    let mut c = db.pool.get().await.unwrap();
    let u = users::find_by_email(&mut c.conn(), "user@example.com").await.unwrap().unwrap();
    users::set_disabled(&mut c.conn(), u.id, true, &server::domain::audit::By::cli()).await.unwrap();
    // Back to the pool before the request: the test's pool is small.
    drop(c);
    assert_eq!(send(&app, get("/profile", Some(&cookie))).await.status, StatusCode::SEE_OTHER);
});

db_test!(bad_requests_get_clear_answers_and_change_nothing, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    // Oversized body.
    let big = format!("email=a%40b.co&password={}", "x".repeat(2 * 1024 * 1024));
    let mut req = form(SignIn::PATH, big.clone(), None);
    req.headers_mut().insert(header::CONTENT_LENGTH, big.len().into());
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Not UTF-8.
    let a = send(
        &app,
        form(SignIn::PATH, vec![b'e', b'm', b'a', b'i', b'l', b'=', 0xff, 0xfe, b'&', b'p', b'a', b's', b's', b'w', b'o', b'r', b'd', b'=', 0xc3], None),
    )
    .await;
    assert!(!a.status.is_success());
    assert!(a.body.contains("Invalid email or password.") || a.body.contains("could not be read"), "{}", a.body);
    // A field missing.
    let a = send(&app, form(SignIn::PATH, "email=x", None)).await;
    assert!(a.body.contains("could not be read"), "{}", a.body);
    let mut c = db.pool.get().await.unwrap();
    assert_eq!(users::count(&mut c.conn()).await.unwrap(), 1);
});

db_test!(unknown_pages_are_404, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    let cookie = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, get("/definitely/not/here", Some(&cookie))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.body.contains("Page not found"));
});
