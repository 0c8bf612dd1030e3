//! Provider calendars in the app's test harness: no request leaves loopback, even for records
//! created with hand-made tokens.
use crate::common;

use chrono::{Duration as Days, Utc};
use common::*;
use server::{
    crypto::Secret,
    domain::{
        integrations::{self as ig, Patch},
        users::{self, Role},
        Actor,
    },
    sync::Trigger,
};
use testkit::db_test;

db_test!(no_provider_request_leaves_loopback, |db| {
    let state = state(&db, APP_ORIGIN);
    let g = &state.config.sync.google;
    let m = &state.config.sync.outlook;
    for url in [&g.auth, &g.token, &g.revoke, &g.api, &m.login, &m.graph] {
        assert!(url.starts_with("http://127.0.0.1:"), "{url} is not on loopback");
    }
    add_user(&db, "sarah@example.com", Role::User).await;
    let mut c = db.pool.get().await.unwrap();
    let sarah = users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap();
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some("sarah@example.com".into()),
        access_token: Some(Some(Secret::new("ya29.hand-made"))),
        token_expiry: Some((Utc::now() + Days::minutes(30)).to_rfc3339()),
        ..Patch::default()
    };
    let name = ig::create(&mut c.conn(), &db.keys, Actor::of(&sarah), patch).await.unwrap().integration.name;
    // The sync goes to the closed loopback port, so it fails to connect: it went nowhere else.
    let run = state.engine.sync_and_wait(Actor::of(&sarah), &name, Trigger::Manual).await.unwrap();
    assert_eq!(run.status, "Failed");
    assert_eq!(run.error.as_deref(), Some("Could not reach Google Calendar. The next sync will try again."));
});

/// The app with Google at its own sandbox (which knows ana@example.com), and a signed-in admin.
async fn google_app(db: &testkit::TestDb) -> (axum::Router, sandbox::Sandbox, String) {
    let sandbox = sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sandbox.with(|s| s.add_account("ana@example.com"));
    let st = state_with(db, APP_ORIGIN, |c| c.sync.google = sandbox.google_endpoints());
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    let app = app::ssr::http::router(st, options);
    add_user(db, "admin@example.com", Role::Admin).await;
    let cookie = sign_in(&app, "admin@example.com", "right password").await.ok().unwrap();
    (app, sandbox, cookie)
}

fn location(a: &Answer) -> String {
    a.headers.get("location").expect("a redirect").to_str().unwrap().to_string()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Starts a connection and answers the sandbox's consent page; returns the callback path.
async fn consent(app: &axum::Router, sandbox: &sandbox::Sandbox, cookie: &str, decision: &str) -> String {
    let start = send(app, get("/oauth/google/start", Some(cookie))).await;
    assert!(start.status.is_redirection(), "{}", start.status);
    let to = location(&start);
    assert!(to.starts_with(&sandbox.google_auth_url()), "{to}");
    let q = query(&to);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!((q["access_type"].as_str(), q["prompt"].as_str()), ("offline", "consent"));
    assert!(q["scope"].contains("calendar.events"), "{}", q["scope"]);
    let back = decide(sandbox, &q, decision).await;
    back.split_once("/oauth/").map(|(_, rest)| format!("/oauth/{rest}")).expect("back to the callback")
}

/// The consent form's post, answered by the sandbox's router in process.
async fn decide(sandbox: &sandbox::Sandbox, q: &std::collections::HashMap<String, String>, decision: &str) -> String {
    use tower::ServiceExt;
    let body: String = ["client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method", "access_type"]
        .iter()
        .map(|k| format!("{k}={}", server_escape(&q[*k])))
        .chain(["account=ana%40example.com".to_string(), format!("decision={decision}")])
        .collect::<Vec<_>>()
        .join("&");
    let router = sandbox::router(sandbox.state.clone());
    let res = router
        .oneshot(
            axum::http::Request::post("/google/o/oauth2/v2/decide")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    res.headers()["location"].to_str().unwrap().to_string()
}

fn server_escape(s: &str) -> String {
    app::api::query_escape(s)
}

async fn accounts(db: &testkit::TestDb) -> usize {
    let mut c = db.pool.get().await.unwrap();
    let admin = users::find_by_email(&mut c.conn(), "admin@example.com").await.unwrap().unwrap();
    server::domain::accounts::list(&mut c.conn(), admin.id).await.unwrap().len()
}

async fn flash_page(app: &axum::Router, cookie: &str, a: &Answer) -> String {
    let to = location(a);
    assert!(to.starts_with("/calendars?flash="), "{to}");
    send(app, get(&to, Some(cookie))).await.body
}

db_test!(a_callback_with_a_wrong_replayed_or_refused_answer_says_so_and_stores_nothing, |db| {
    let (app, sandbox, cookie) = google_app(&db).await;

    // A state that is not the one started here.
    let back = consent(&app, &sandbox, &cookie, "allow").await;
    let forged = back.replace("state=", "state=x");
    let a = send(&app, get(&forged, Some(&cookie))).await;
    assert!(flash_page(&app, &cookie, &a).await.contains("did not match the connection started here"));
    // The real answer afterwards: the state was single use, and is gone.
    let a = send(&app, get(&back, Some(&cookie))).await;
    assert!(flash_page(&app, &cookie, &a).await.contains("it may have been used already"));
    assert_eq!(accounts(&db).await, 0);

    // Denied at the provider.
    let back = consent(&app, &sandbox, &cookie, "deny").await;
    let a = send(&app, get(&back, Some(&cookie))).await;
    assert!(flash_page(&app, &cookie, &a).await.contains("You did not allow calsync to access Google Calendar. Nothing was connected."));
    assert_eq!(accounts(&db).await, 0);

    // A code the provider refuses to exchange.
    let back = consent(&app, &sandbox, &cookie, "allow").await;
    sandbox.with(|s| s.codes.clear());
    let a = send(&app, get(&back, Some(&cookie))).await;
    assert!(flash_page(&app, &cookie, &a).await.contains("Connecting Google Calendar failed"));
    assert_eq!(accounts(&db).await, 0);

    // And a good one: the account, then the picker; replaying it stores nothing more.
    let back = consent(&app, &sandbox, &cookie, "allow").await;
    let a = send(&app, get(&back, Some(&cookie))).await;
    assert!(location(&a).starts_with("/connect/"), "{}", location(&a));
    assert_eq!(accounts(&db).await, 1);
    let a = send(&app, get(&back, Some(&cookie))).await;
    assert!(flash_page(&app, &cookie, &a).await.contains("it may have been used already"));
    assert_eq!(accounts(&db).await, 1);
    assert_eq!(sandbox.with(|s| s.requests.iter().filter(|r| *r == "POST token").count()), 2, "one refused and one good exchange, no more");
});

/// What blocks sarah's time in the coming week, by summary.
async fn busy_summaries(db: &testkit::TestDb) -> Vec<String> {
    let mut c = db.pool.get().await.unwrap();
    let sarah = users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap();
    let (busy, _) = server::domain::availability::busy(&mut c.conn(), &sarah, Utc::now(), Utc::now() + Days::days(7)).await.unwrap();
    let mut names: Vec<String> = busy.into_iter().flat_map(|b| b.sources.into_iter().map(|s| s.summary)).collect();
    names.sort();
    names
}

db_test!(google_pushes_a_change_and_the_calendar_syncs_without_waiting_for_its_interval, |db| {
    use server::domain::webhooks;
    let sandbox = sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let day = (Utc::now() + Days::days(1)).format("%Y-%m-%d").to_string();
    let event = |s: &str, h: u32| serde_json::json!({"summary": s, "start": {"dateTime": format!("{day}T{h:02}:00:00Z")}, "end": {"dateTime": format!("{day}T{h:02}:30:00Z")}});
    let (access, refresh) = sandbox.with(|s| {
        let tokens = s.issue_tokens("ana@example.com");
        s.put_event("ana@example.com", "a", event("Alpha", 9)).expect("the account's calendar");
        tokens
    });
    // The app on a real port, so the sandbox can POST to it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let st = state_with(&db, &origin, |c| {
        c.sync.google = sandbox.google_endpoints();
        c.sync.webhook_base = Some(origin.clone());
    });
    let engine = st.engine.clone();
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    let app = app::ssr::http::router(st, options);
    tokio::spawn(async move { axum::serve(listener, app.clone().into_make_service_with_connect_info::<std::net::SocketAddr>()).await });
    add_user(&db, "sarah@example.com", Role::User).await;
    let mut c = db.pool.get().await.unwrap();
    let sarah = users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap();
    let me = Actor::of(&sarah);
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some("ana@example.com".into()),
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        ..Patch::default()
    };
    let record = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration;
    drop(c);

    // The first sync opens a channel to this app.
    assert_eq!(engine.sync_and_wait(me, &record.name, Trigger::Manual).await.unwrap().status, "Success");
    let mut c = db.pool.get().await.unwrap();
    let channels = webhooks::of(&mut c.conn(), record.id).await.unwrap();
    assert_eq!(channels.len(), 1);
    assert!(channels[0].expires_at > server::domain::now() + Days::days(6));
    drop(c);
    assert_eq!(sandbox.with(|s| s.channels[0].address.clone()), format!("{origin}/webhooks/google"));

    // The scheduler is idle for 15 minutes; a change in Google is synced within seconds.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    sandbox.with(|s| {
        for (i, name) in ["Beta", "Gamma", "Delta"].iter().enumerate() {
            s.put_event("ana@example.com", &format!("b{i}"), event(name, 10 + i as u32));
        }
    });
    let mut synced = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if busy_summaries(&db).await == ["Alpha", "Beta", "Delta", "Gamma"] {
            synced = true;
            break;
        }
    }
    assert!(synced, "pushed changes synced: {:?}", busy_summaries(&db).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut c = db.pool.get().await.unwrap();
    let (_, runs) = server::sync::runs::recent(&mut c.conn(), record.id, 50, 0).await.unwrap();
    // Never more syncs than notifications (how many coalesce depends on when they arrive;
    // server/tests/google_sync.rs pins a burst before the claim to one sync).
    assert!((2..=4).contains(&runs), "the first sync and one to three pushed ones: {runs}");
    drop(c);

    // Forged notifications change nothing.
    let client = |channel: &str, token: &str| {
        let (channel, token, origin) = (channel.to_string(), token.to_string(), origin.clone());
        async move {
            let req = format!("POST /webhooks/google HTTP/1.1\r\nHost: x\r\nX-Goog-Channel-ID: {channel}\r\nX-Goog-Channel-Token: {token}\r\nX-Goog-Resource-State: exists\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let mut s = tokio::net::TcpStream::connect(origin.trim_start_matches("http://")).await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out.lines().next().unwrap_or("").to_string()
        }
    };
    let queued = |db: &testkit::TestDb| {
        let (db, name) = (db.pool.clone(), record.name.clone());
        async move { ig::get(&mut db.get().await.unwrap().conn(), me, &name).await.unwrap().queued_at }
    };
    for _ in 0..100 {
        if queued(&db).await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let real = sandbox.with(|s| s.channels[0].id.clone());
    assert!(client("calsync-unknown", "x").await.contains("404"));
    assert!(client(&real, "not-the-token").await.contains("404"));
    assert_eq!(queued(&db).await, None, "nothing queued");

    // Deleting the calendar stops its channel at Google.
    engine.delete_calendar(me, &record.name).await.unwrap();
    assert!(sandbox.with(|s| s.channels.is_empty()));
    stop.send(true).unwrap();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), scheduler).await;
});

db_test!(outlook_subscribes_after_the_handshake_and_a_notification_syncs_the_calendar, |db| {
    use server::domain::webhooks;
    let sandbox = sandbox::Sandbox::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let day = (Utc::now() + Days::days(1)).format("%Y-%m-%d").to_string();
    let event = |s: &str, h: u32| serde_json::json!({"subject": s, "start": {"dateTime": format!("{day}T{h:02}:00:00.0000000"), "timeZone": "UTC"}, "end": {"dateTime": format!("{day}T{h:02}:30:00.0000000"), "timeZone": "UTC"}});
    let (cal, access, refresh) = sandbox.with(|s| {
        let (a, r) = s.issue_ms_tokens("sarah@example.com");
        let cal = s.add_ms_account("sarah@example.com");
        s.put_graph_event(&cal, "a", event("Alpha", 9));
        (cal, a, r)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let st = state_with(&db, &origin, |c| {
        c.sync.outlook = sandbox.microsoft_endpoints();
        c.sync.webhook_base = Some(origin.clone());
    });
    let engine = st.engine.clone();
    let options = leptos::config::get_configuration(None).unwrap().leptos_options;
    let app = app::ssr::http::router(st, options);
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await });
    add_user(&db, "sarah@example.com", Role::User).await;
    let mut c = db.pool.get().await.unwrap();
    let sarah = users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap();
    let me = Actor::of(&sarah);
    let patch = Patch {
        integration_type: Some("Outlook Calendar".into()),
        integration_name: Some("Work".into()),
        calendar_id: Some(cal.clone()),
        access_token: Some(Some(Secret::new(access))),
        refresh_token: Some(Some(Secret::new(refresh))),
        token_expiry: Some((Utc::now() + Days::minutes(50)).to_rfc3339()),
        ..Patch::default()
    };
    let record = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration;
    drop(c);

    // The first sync subscribes; Graph's validation handshake reached this app and passed.
    assert_eq!(engine.sync_and_wait(me, &record.name, Trigger::Manual).await.unwrap().status, "Success");
    assert_eq!(sandbox.with(|s| s.subscriptions.len()), 1, "the handshake passed and the subscription exists");
    let sub = sandbox.with(|s| s.subscriptions[0].clone());
    assert_eq!(sub.url, format!("{origin}/webhooks/microsoft"));
    let mut c = db.pool.get().await.unwrap();
    assert_eq!(webhooks::of(&mut c.conn(), record.id).await.unwrap()[0].channel_id, sub.id);
    drop(c);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(engine.clone().scheduler(stopped));
    sandbox.with(|s| s.put_graph_event(&cal, "b", event("Beta", 10)));
    let mut synced = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if busy_summaries(&db).await == ["Alpha", "Beta"] {
            synced = true;
            break;
        }
    }
    assert!(synced, "the notified change synced: {:?}", busy_summaries(&db).await);

    // A notification with the wrong client state changes nothing; subscriptionRemoved queues
    // a sync, which subscribes again.
    let post = |body: serde_json::Value| {
        let origin = origin.clone();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let body = body.to_string();
            let req = format!(
                "POST /webhooks/microsoft HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let mut s = tokio::net::TcpStream::connect(origin.trim_start_matches("http://")).await.unwrap();
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out.lines().next().unwrap_or("").to_string()
        }
    };
    let forged = serde_json::json!({"value": [{"subscriptionId": sub.id, "clientState": "guess", "changeType": "updated"}]});
    assert!(post(forged).await.contains("202"));
    let removed = serde_json::json!({"value": [{"subscriptionId": sub.id, "clientState": sub.client_state, "lifecycleEvent": "subscriptionRemoved"}]});
    sandbox.with(|s| s.subscriptions.clear());
    assert!(post(removed).await.contains("202"));
    let mut again = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if sandbox.with(|s| s.subscriptions.len()) == 1 {
            again = true;
            break;
        }
    }
    assert!(again, "the sync queued by subscriptionRemoved subscribed again");
    stop.send(true).unwrap();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), scheduler).await;

    // Deleting the calendar deletes its subscription at Microsoft.
    engine.delete_calendar(me, &record.name).await.unwrap();
    assert!(sandbox.with(|s| s.subscriptions.is_empty()));
});
