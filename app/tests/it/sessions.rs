//! Sign-in and sessions over the real router, on SQLite and PostgreSQL: the device cookie, a
//! password change that ends the other sessions (and renews the changer's), an admin's reset,
//! the client address behind a trusted proxy, and Admin → Audit.
use crate::common;

use app::api::{admin::ResetPassword, audit::ListAudit, auth::SignIn, profile::ChangePassword};
use axum::{
    extract::ConnectInfo,
    http::{header, StatusCode},
};
use common::*;
use leptos::server_fn::ServerFn;
use server::domain::users::Role;
use std::net::SocketAddr;
use testkit::db_test;

fn cookies(a: &Answer) -> Vec<String> {
    a.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

db_test!(a_browser_that_signed_in_gets_a_device_cookie, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    let app = app(&db);
    let a = send(&app, form(SignIn::PATH, "email=sarah%40example.com&password=right+password", None)).await;
    let set = cookies(&a);
    let device = set.iter().find(|c| c.starts_with("calsync_device=")).unwrap_or_else(|| panic!("{set:?}"));
    assert!(device.contains("HttpOnly") && device.contains("SameSite=Lax") && device.contains("Max-Age=31536000"), "{device}");
    // Presenting it again: no new one.
    let pair = device.split(';').next().unwrap().to_string();
    let a = send(&app, form(SignIn::PATH, "email=sarah%40example.com&password=right+password", Some(&pair))).await;
    assert!(!cookies(&a).iter().any(|c| c.starts_with("calsync_device=")), "{:?}", cookies(&a));
});

db_test!(a_password_change_ends_the_other_sessions_and_renews_this_one, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let app = app(&db);
    let laptop = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let phone = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    let a = send(
        &app,
        form(ChangePassword::PATH, "current_password=right+password&new_password=a+brand+new+secret&confirm_password=a+brand+new+secret", Some(&laptop)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let renewed = cookies(&a).into_iter().find(|c| c.starts_with("calsync_session=")).expect("a fresh session id").split(';').next().unwrap().to_string();
    assert_ne!(renewed, laptop);
    assert_eq!(send(&app, get("/profile", Some(&phone))).await.status, StatusCode::SEE_OTHER, "the phone is signed out");
    assert_eq!(send(&app, get("/profile", Some(&laptop))).await.status, StatusCode::SEE_OTHER, "the old id opens nothing");
    assert_eq!(send(&app, get("/profile", Some(&renewed))).await.status, StatusCode::OK, "the changer stays signed in");

    // An admin's reset ends every session of the user.
    let admin = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let mut c = db.pool.get().await.unwrap();
    let sarah = server::domain::users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap();
    drop(c);
    let a = send(&app, form(ResetPassword::PATH, format!("id={}&password=set+by+the+admin", sarah.id), Some(&admin))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(send(&app, get("/profile", Some(&renewed))).await.status, StatusCode::SEE_OTHER);
    // And a common password is refused with the reason.
    let a = send(&app, form(ResetPassword::PATH, format!("id={}&password=password1234", sarah.id), Some(&admin))).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("most common passwords found in breaches"), "{}", a.body);
});

/// A sign-in from `peer` (as the listener saw it) with an `X-Forwarded-For` header.
fn from(peer: &str, forwarded: &str) -> axum::http::Request<axum::body::Body> {
    let mut req = form(SignIn::PATH, "email=sarah%40example.com&password=right+password", None);
    req.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    req.headers_mut().insert("x-forwarded-for", forwarded.parse().unwrap());
    req
}

db_test!(the_audit_page_shows_sign_ins_with_the_client_behind_a_trusted_proxy, |db| {
    add_user(&db, "sarah@example.com", Role::User).await;
    add_user(&db, "admin@example.com", Role::Admin).await;
    let mut state = state(&db, APP_ORIGIN);
    state.config.trusted_proxies = server::config::parse_networks("10.0.0.0/8").unwrap();
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    let app = app::ssr::http::router(state, options);
    // Through the proxy: the address it saw. Straight in: the peer, whatever the header claims.
    assert_eq!(send(&app, from("10.0.0.2:5000", "198.51.100.23")).await.status, StatusCode::OK);
    assert_eq!(send(&app, from("203.0.113.50:5000", "1.2.3.4")).await.status, StatusCode::OK);

    let admin = sign_in(&app, "admin%40example.com", "right+password").await.ok().unwrap();
    let a = send(&app, form(ListAudit::PATH, "user=sarah%40example.com&kind=sign-in", Some(&admin))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let page = json(&a);
    let clients: Vec<&str> = page["rows"].as_array().unwrap().iter().map(|r| r["client"].as_str().unwrap()).collect();
    assert_eq!(clients, ["203.0.113.50", "198.51.100.23"]);
    assert!(!a.body.contains("1.2.3.4"));

    // The page itself, for an admin; a user finds no such page.
    let page = send(&app, get("/admin/audit?kind=sign-in", Some(&admin))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("198.51.100.23") && page.body.contains("Audit"), "{}", page.body);
    let sarah = sign_in(&app, "sarah%40example.com", "right+password").await.ok().unwrap();
    assert_eq!(send(&app, get("/admin/audit", Some(&sarah))).await.status, StatusCode::NOT_FOUND);
    let a = send(&app, form(ListAudit::PATH, "", Some(&sarah))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // A kind that does not exist is a 400 with the reason.
    let a = send(&app, form(ListAudit::PATH, "kind=coffee", Some(&admin))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
});
