//! Helpers shared by the router-level tests: a router on a test database, requests, sign-in.
#![allow(dead_code)]
use app::{
    api::auth::SignIn,
    ssr::{http::router, AppState},
};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    Router,
};
use leptos::server_fn::ServerFn;
use server::{
    domain::users::{self, NewUser, Role},
    password::Cost,
};
use testkit::TestDb;
use tower::ServiceExt;

pub fn config(db: &TestDb, public_url: &str) -> server::config::Config {
    let mut c = server::config::Config::from_env().expect("config");
    c.database_url = db.url.clone();
    c.public_url = public_url.into();
    c.password_cost = Cost::Test;
    c.sync.google = closed_provider();
    c.sync.outlook = server::providers::outlook::Endpoints {
        login: "http://127.0.0.1:9/microsoft".into(),
        tenant: "common".into(),
        graph: "http://127.0.0.1:9/graph/v1.0".into(),
        client_id: Some("calsync-test-client".into()),
        client_secret: Some(server::crypto::Secret::new("calsync-test-secret")),
    };
    c
}

/// Provider endpoints on a closed loopback port: no test request leaves 127.0.0.0/8 (a test
/// that syncs a provider points them at its own sandbox).
pub fn closed_provider() -> server::providers::google::Endpoints {
    let at = |path: &str| format!("http://127.0.0.1:9{path}");
    server::providers::google::Endpoints {
        auth: at("/google/auth"),
        token: at("/google/token"),
        revoke: at("/google/revoke"),
        api: at("/google/calendar/v3"),
        client_id: Some("calsync-test-client".into()),
        client_secret: Some(server::crypto::Secret::new("calsync-test-secret")),
    }
}

pub fn app(db: &TestDb) -> Router {
    app_with(db, "http://127.0.0.1:3000")
}

pub fn app_with(db: &TestDb, public_url: &str) -> Router {
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    router(state(db, public_url), options)
}

pub fn router_with(state: AppState) -> Router {
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    router(state, options)
}

/// The app's state for tests: the sync engine may reach the loopback iCal host, and resolves
/// no name at all (tests never send packets beyond loopback).
pub fn state(db: &TestDb, public_url: &str) -> AppState {
    state_with(db, public_url, |_| {})
}

/// The same, with the configuration changed first (a test's own provider sandbox, say).
pub fn state_with(db: &TestDb, public_url: &str, change: impl FnOnce(&mut server::config::Config)) -> AppState {
    let state = quiet_state_with(db, public_url, change);
    // The pusher `calsync serve` runs beside the slots: it writes the copies a change marks
    // pending. It ends with the test's runtime (its stop signal is never sent).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(stop);
    tokio::spawn(state.engine.clone().keep_pushing(stopped));
    state
}

/// A second state on the same database that writes no copies (another configuration to read
/// pages or metrics with; its pusher would race the first one's with other provider addresses).
pub fn quiet_state_with(db: &TestDb, public_url: &str, change: impl FnOnce(&mut server::config::Config)) -> AppState {
    use server::providers::{
        fetch::{FeedClient, FeedLimits},
        guard::StaticResolver,
    };
    let mut config = config(db, public_url);
    change(&mut config);
    config.sync.feeds = FeedLimits { allow_private: true, timeout: std::time::Duration::from_secs(5), ..FeedLimits::default() };
    let client = FeedClient::with_resolver(config.sync.feeds.clone(), std::sync::Arc::new(StaticResolver(vec![])));
    let engine = server::sync::Engine::with_feed_client(db.pool.clone(), db.keys.clone(), std::sync::Arc::new(client), config.sync.clone());
    AppState { engine, ..AppState::new(db.pool.clone(), config, db.keys.clone()) }
}

pub async fn add_user(db: &TestDb, email: &str, role: Role) {
    let mut c = db.pool.get().await.unwrap();
    users::create(
        &mut c.conn(),
        Cost::Test,
        NewUser { email: email.into(), full_name: String::new(), password: "right password".into(), role, time_zone: "UTC".into() },
    )
    .await
    .unwrap();
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Where the test app is used (its CALSYNC_PUBLIC_URL unless a test says otherwise).
pub const APP_ORIGIN: &str = "http://127.0.0.1:3000";

/// A server function call as a page of the app makes it (`Origin` is the app's).
pub fn form(path: &str, body: impl Into<Body>, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, APP_ORIGIN);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(body.into()).unwrap()
}

pub fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

/// The whole `Set-Cookie` of the session cookie, if the answer sets one.
pub fn session_set_cookie(a: &Answer) -> Option<String> {
    a.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("calsync_session=") || c.starts_with("__Host-calsync_session="))
}

/// Signs in and returns the `name=value` of the session cookie.
pub async fn sign_in(app: &Router, email: &str, password: &str) -> Result<String, Answer> {
    let a = send(app, form(SignIn::PATH, format!("email={email}&password={password}&next=/profile"), None)).await;
    match session_set_cookie(&a) {
        Some(c) if a.status.is_success() || a.status.is_redirection() => Ok(c.split(';').next().unwrap().to_string()),
        _ => Err(a),
    }
}

/// A personal API token for an existing user.
pub async fn token_for(db: &TestDb, email: &str) -> String {
    let mut c = db.pool.get().await.unwrap();
    let u = users::find_by_email(&mut c.conn(), email).await.unwrap().unwrap();
    server::domain::api_tokens::create(&mut c.conn(), u.id, "test", None, &server::domain::audit::By::cli()).await.unwrap().1
}

/// A JSON request to the REST API.
pub fn api(method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path).header(header::ACCEPT, "application/json");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    match body {
        Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

/// The same request as a browser's plain form post (JavaScript off) from `page` of the app.
pub fn plain_post(mut req: Request<Body>, page: &str) -> Request<Body> {
    req.headers_mut().insert(header::ACCEPT, "text/html,application/xhtml+xml".parse().unwrap());
    req.headers_mut().insert(header::REFERER, format!("{APP_ORIGIN}{page}").parse().unwrap());
    req
}

pub fn json(a: &Answer) -> serde_json::Value {
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.body))
}

/// The Python with the independent readers (iCalendar, OpenAPI): CALSYNC_PYTHON (the test
/// command's virtual environment), else one made in target/pyenv now.
pub fn python() -> String {
    use std::process::Command;
    if let Ok(p) = std::env::var("CALSYNC_PYTHON") {
        return p;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv");
    let bin = root.join("bin/python");
    if !bin.exists() {
        let requirements = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/requirements-test.txt");
        let ok = Command::new("python3").args(["-m", "venv"]).arg(&root).status().is_ok_and(|s| s.success())
            && Command::new(root.join("bin/pip")).arg("install").arg("-q").arg("-r").arg(requirements).status().is_ok_and(|s| s.success());
        assert!(ok, "could not make the Python environment for the independent readers (scripts/setup.sh --test makes it)");
    }
    bin.display().to_string()
}

/// Runs `script` with the test Python, `input` on stdin; answers stdout, or panics with stderr.
pub fn run_python(args: &[&str], input: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python()).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Presses "Sync now" on a calendar over REST and waits for that run to end; answers the run.
pub async fn sync_and_wait(app: &Router, token: &str, name: &str) -> serde_json::Value {
    let runs_of = format!("/api/v1/integrations/{name}/runs");
    send(app, api("POST", &format!("/api/v1/integrations/{name}/sync"), Some(token), None)).await;
    for _ in 0..200 {
        let runs = json(&send(app, api("GET", &runs_of, Some(token), None)).await);
        if runs["items"][0]["status"] != "In Progress" && runs["total"].as_i64() > Some(0) {
            return runs["items"][0].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the sync of {name} did not finish");
}

/// A member's primary Two-way Google calendar at `sandbox` (tokens typed in, good for weeks:
/// not "Expiring"), with its conflict policy; answers its record name.
pub async fn google_at(db: &TestDb, sandbox: &sandbox::Sandbox, owner: &str, label: &str, policy: &str) -> String {
    use server::domain::{
        integrations::{self as ig, Patch},
        Actor,
    };
    let mut c = db.pool.get().await.unwrap();
    let me = users::find_by_email(&mut c.conn(), owner).await.unwrap().unwrap();
    let (access, refresh) = sandbox.with(|s| s.issue_tokens(owner));
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some(label.into()),
        calendar_id: Some(owner.into()),
        access_token: Some(Some(server::crypto::Secret::new(access))),
        refresh_token: Some(Some(server::crypto::Secret::new(refresh))),
        token_expiry: Some((chrono::Utc::now() + chrono::Duration::days(60)).to_rfc3339()),
        is_primary: Some(true),
        conflict_policy: Some(policy.into()),
        ..Patch::default()
    };
    ig::create(&mut c.conn(), &db.keys, Actor::of(&me), patch).await.unwrap().integration.name
}

/// Two-way sync in trouble, over REST with Google at `sandbox` (the app's Google endpoints):
/// ana@example.com's booking "Roadmap" is written to her calendar "Work" (`ask`) and changed
/// in Google, so a conflict is open; ben@example.com's booking "Budget" is refused by Google
/// (400), so its copy in his calendar "Desk" failed. Both calendars synced. Answers the
/// record names of (Work, Desk).
pub async fn two_way_trouble(db: &TestDb, app: &Router, sandbox: &sandbox::Sandbox) -> (String, String) {
    const ANA: &str = "ana@example.com";
    const BEN: &str = "ben@example.com";
    sandbox.with(|s| {
        s.add_account(ANA);
        s.add_account(BEN);
    });
    add_user(db, ANA, Role::User).await;
    add_user(db, BEN, Role::User).await;
    let (ana, ben) = (token_for(db, ANA).await, token_for(db, BEN).await);
    let work = google_at(db, sandbox, ANA, "Work", "ask").await;
    let desk = google_at(db, sandbox, BEN, "Desk", "last-write-wins").await;
    sync_and_wait(app, &ana, &work).await;
    sync_and_wait(app, &ben, &desk).await;
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(3)).to_string();
    let booking = |title: &str| serde_json::json!({"title": title, "start": format!("{day} 10:00"), "end": format!("{day} 11:00"), "time_zone": "UTC"});

    let a = send(app, api("POST", "/api/v1/bookings", Some(&ana), Some(booking("Roadmap")))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let made = json(&a);
    assert_eq!(made["copies"][0]["state"], "written", "{made}");
    let event_id = made["copies"][0]["external_id"].as_str().unwrap().to_string();
    sync_and_wait(app, &ana, &work).await;
    sandbox.with(|s| {
        let mut e = s.calendars[ANA].events[&event_id].0.clone();
        e["summary"] = serde_json::json!("Roadmap (Google)");
        s.put_event(ANA, &event_id, e).unwrap();
    });
    sync_and_wait(app, &ana, &work).await;
    let open = json(&send(app, api("GET", "/api/v1/conflicts?state=open", Some(&ana), None)).await);
    assert_eq!(open["total"], 1, "{open}");

    sandbox
        .with(|s| s.faults.push(sandbox::Fault { path: "/events".into(), status: 400, body: None, retry_after: None, delay_ms: None, times: 5, after: false }));
    let a = send(app, api("POST", "/api/v1/bookings", Some(&ben), Some(booking("Budget")))).await;
    sandbox.with(|s| s.faults.clear());
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(json(&a)["copies"][0]["state"], "failed", "{}", a.body);
    (work, desk)
}
