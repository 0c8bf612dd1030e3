//! Feed URLs are secrets (they usually embed a private key): stored encrypted, shown masked to
//! anyone but their owner, re-encrypted by key rotation, and still fetched by the engine — on
//! SQLite and PostgreSQL.
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::calendar_integrations as ci,
    domain::users::{self, NewUser, Role},
    domain::{
        integrations::{self as ig, mask_url, Patch},
        Actor,
    },
    password::Cost,
    run,
};
use testkit::db_test;
use testkit::TestDb;

const PRIVATE: &str = "https://calendar.example.com/calendar/ical/ana%40example.com/private-8f3a9c2e71b4d605/basic.ics";
const TOKEN: &str = "private-8f3a9c2e71b4d605";

async fn user(db: &TestDb, email: &str, role: Role) -> Actor {
    let mut c = db.pool.get().await.unwrap();
    let new = NewUser { email: email.into(), full_name: String::new(), password: "password 12345".into(), role, time_zone: "UTC".into() };
    Actor::of(&users::create(&mut c.conn(), Cost::Test, new).await.unwrap())
}

fn feed(name: &str, url: &str) -> Patch {
    Patch { integration_type: Some("iCal".into()), integration_name: Some(name.into()), ical_url: Some(url.into()), ..Patch::default() }
}

/// The two columns as stored.
async fn stored(db: &TestDb, name: &str) -> (Option<String>, Option<String>) {
    let mut c = db.pool.get().await.unwrap();
    run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq(name)).select((ci::ical_url, ci::ical_url_secret)).first(cc).await).unwrap()
}

#[test]
fn masks_keep_host_and_file_name_only() {
    assert_eq!(mask_url(PRIVATE), "https://calendar.example.com/…/basic.ics");
    assert_eq!(mask_url("https://example.com/feeds/3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c.ics"), "https://example.com/…");
    assert_eq!(mask_url("http://intranet:8080/cal.ics?token=abc"), "http://intranet:8080/cal.ics?…");
    assert_eq!(mask_url("https://example.com/"), "https://example.com");
    // A short last segment without a file extension is as likely the key itself.
    assert_eq!(mask_url("https://cal.example.com/7f3a9c2e1b4d"), "https://cal.example.com/…");
    assert_eq!(mask_url("https://cal.example.com/u/ana/k8Qz"), "https://cal.example.com/…");
}

db_test!(a_feed_url_is_stored_encrypted_and_shown_only_to_its_owner, |db| {
    let ana = user(&db, "ana@example.com", Role::User).await;
    let admin = user(&db, "admin@example.com", Role::Admin).await;
    let mut c = db.pool.get().await.unwrap();
    let saved = ig::create(&mut c.conn(), &db.keys, ana, feed("Club", PRIVATE)).await.unwrap();
    let name = saved.integration.name.clone();
    // At rest: the masked form and a sealed value, the key nowhere in the clear.
    let (shown, sealed) = stored(&db, &name).await;
    assert_eq!(shown.as_deref(), Some("https://calendar.example.com/…/basic.ics"));
    let sealed = sealed.unwrap();
    assert!(sealed.starts_with("v1:k1:") && !sealed.contains(TOKEN), "{sealed}");
    // The owner sees all of it; the admin (and the record everyone else handles) only the mask.
    let i = ig::get(&mut c.conn(), ana, &name).await.unwrap();
    assert_eq!(i.ical_url_for(&db.keys, ana.user_id).as_deref(), Some(PRIVATE));
    let as_admin = ig::get(&mut c.conn(), admin, &name).await.unwrap();
    assert_eq!(as_admin.ical_url_for(&db.keys, admin.user_id).as_deref(), Some("https://calendar.example.com/…/basic.ics"));
    assert!(!format!("{:?}", as_admin.ical_url).contains(TOKEN));
    assert_eq!(i.feed_url(&db.keys).unwrap().as_deref(), Some(PRIVATE), "the engine fetches the real address");

    // An admin saving the record with the masked address shown to them keeps the real one.
    let patch = Patch { ical_url: Some("https://calendar.example.com/…/basic.ics".into()), sync_interval_minutes: Some("30".into()), ..Patch::default() };
    let after = ig::update(&mut c.conn(), &db.keys, admin, &name, patch).await.unwrap().integration;
    assert_eq!(after.sync_interval_minutes, 30);
    assert_eq!(after.feed_url(&db.keys).unwrap().as_deref(), Some(PRIVATE));
    assert_eq!(stored(&db, &name).await.1.as_deref(), Some(sealed.as_str()), "not sealed anew: unchanged");
    // A new address is sealed anew and checked by the rules as typed.
    let patch = Patch { ical_url: Some("https://calendar.example.com/other/private-0000/basic.ics".into()), ..Patch::default() };
    let after = ig::update(&mut c.conn(), &db.keys, ana, &name, patch).await.unwrap().integration;
    assert_eq!(after.feed_url(&db.keys).unwrap().as_deref(), Some("https://calendar.example.com/other/private-0000/basic.ics"));
    let bad = Patch { ical_url: Some("ftp://x".into()), ..Patch::default() };
    assert!(ig::update(&mut c.conn(), &db.keys, ana, &name, bad).await.is_err());
});

db_test!(keys_rotate_over_feed_urls_and_old_plain_rows_are_sealed, |db| {
    let ana = user(&db, "ana@example.com", Role::User).await;
    let mut c = db.pool.get().await.unwrap();
    let name = ig::create(&mut c.conn(), &db.keys, ana, feed("Club", PRIVATE)).await.unwrap().integration.name;
    // Rotation re-encrypts the address with the new key, which alone can read it.
    let next = db.keys.rotated();
    assert!(ig::reencrypt_all(&mut c.conn(), &next).await.unwrap() >= 1);
    let sealed = stored(&db, &name).await.1.unwrap();
    assert!(sealed.starts_with("v1:k2:"), "{sealed}");
    let only_new = server::crypto::Keyring::new(vec![next.current().clone()]).unwrap();
    ig::verify_keys(&mut c.conn(), &only_new).await.unwrap();
    assert!(ig::verify_keys(&mut c.conn(), &db.keys).await.is_err(), "the old key alone cannot read it");

    // A row from before addresses were secrets: sealed and masked at the next start.
    run!(&mut c.conn(), |cc| diesel::update(ci::table.filter(ci::name.eq(&name)))
        .set((ci::ical_url.eq(Some(PRIVATE)), ci::ical_url_secret.eq(None::<String>)))
        .execute(cc)
        .await)
    .unwrap();
    assert_eq!(ig::seal_plain_feed_urls(&mut c.conn(), &next).await.unwrap(), 1);
    let (shown, sealed) = stored(&db, &name).await;
    assert_eq!(shown.as_deref(), Some("https://calendar.example.com/…/basic.ics"));
    assert!(!sealed.unwrap().contains(TOKEN));
    let i = ig::get(&mut c.conn(), ana, &name).await.unwrap();
    assert_eq!(i.feed_url(&next).unwrap().as_deref(), Some(PRIVATE));
    assert_eq!(ig::seal_plain_feed_urls(&mut c.conn(), &next).await.unwrap(), 0, "once is enough");
});
