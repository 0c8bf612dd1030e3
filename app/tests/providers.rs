//! Provider calendars in the app's test harness: no request leaves loopback, even for records
//! created with hand-made tokens.
mod common;

use chrono::{Duration as Days, Utc};
use common::*;
use server::{
    crypto::Secret,
    db_test,
    domain::{
        integrations::{self as ig, Actor, Patch},
        users::{self, Role},
    },
    sync::Trigger,
};

db_test!(no_provider_request_leaves_loopback, |db| {
    let state = state(&db, APP_ORIGIN);
    let g = &state.config.sync.google;
    for url in [&g.auth, &g.token, &g.revoke, &g.api] {
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
