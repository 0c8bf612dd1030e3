//! Accounts, sign-in and sessions, on SQLite and on PostgreSQL.
use server::{
    domain::{
        audit::By,
        sign_in::{self, Attempt},
        users::{self, NewUser, Role, User},
        Error,
    },
    password::Cost,
    sessions::DbSessionStore,
};
use testkit::db_test;
use testkit::TestDb;
use tower_sessions::{
    session::{Id, Record},
    session_store::{ExpiredDeletion, SessionStore},
};

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser { email: email.into(), full_name: "Sarah Connor".into(), password: "correct horse battery".into(), role, time_zone: "Europe/Berlin".into() }
}

async fn auth(db: &TestDb, email: &str, password: &str, client: &str) -> Result<User, Error> {
    sign_in::sign_in(&db.pool, Cost::Test, Attempt { email, password, client, device: None }).await.map(|s| s.user)
}

fn field_messages(e: Error) -> Vec<(String, String)> {
    match e {
        Error::Invalid(report) => report.errors.into_iter().map(|m| (m.field.unwrap_or_default(), m.message)).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

db_test!(migrations_apply_once_and_again, |db| {
    // Applied by the harness; a second run finds nothing to do.
    let again = server::db::run_migrations(&db.url).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    let mut c = db.pool.get().await.unwrap();
    assert_eq!(users::count(&mut c.conn()).await.unwrap(), 0);
    db.pool.ping().await.unwrap();
});

db_test!(create_user_normalises_email_and_refuses_duplicates_ignoring_case, |db| {
    let mut c = db.pool.get().await.unwrap();
    let mut conn = c.conn();
    let u = users::create(&mut conn, Cost::Test, new_user("  Sarah@Example.COM ", Role::Admin)).await.unwrap();
    assert_eq!(u.email, "sarah@example.com");
    assert_eq!(u.role.label(), "System Manager");
    assert_eq!(u.time_zone, "Europe/Berlin");
    let dup = users::create(&mut conn, Cost::Test, new_user("SARAH@example.com", Role::User)).await.unwrap_err();
    assert_eq!(field_messages(dup), vec![("email".into(), "A user with email 'sarah@example.com' already exists.".into())]);
    assert_eq!(users::count(&mut conn).await.unwrap(), 1);
    let found = users::find_by_email(&mut conn, "SARAH@EXAMPLE.COM").await.unwrap().unwrap();
    assert_eq!(found.id, u.id);
});

db_test!(bad_input_is_refused_with_every_message_and_nothing_written, |db| {
    let mut c = db.pool.get().await.unwrap();
    let mut conn = c.conn();
    let bad = NewUser { email: "not an email".into(), full_name: "x".repeat(10_000), password: "".into(), role: Role::User, time_zone: "Mars/Olympus".into() };
    let msgs = field_messages(users::create(&mut conn, Cost::Test, bad).await.unwrap_err());
    assert_eq!(
        msgs,
        vec![
            ("email".into(), "'not an email' is not a valid email address.".into()),
            ("full_name".into(), "Full Name is too long (at most 140 characters).".into()),
            ("password".into(), "Password is required.".into()),
            ("time_zone".into(), "'Mars/Olympus' is not a known time zone (for example Europe/Berlin).".into()),
        ]
    );
    let short = NewUser { password: "short".into(), ..new_user("a@b.co", Role::User) };
    let msgs = field_messages(users::create(&mut conn, Cost::Test, short).await.unwrap_err());
    assert_eq!(msgs, vec![("password".into(), "Password must be at least 12 characters.".into())]);
    assert_eq!(users::count(&mut conn).await.unwrap(), 0);
});

db_test!(sign_in_answers_one_message_and_counts_failures, |db| {
    let mut c = db.pool.get().await.unwrap();
    let mut conn = c.conn();
    users::create(&mut conn, Cost::Test, new_user("sarah@example.com", Role::User)).await.unwrap();
    let ok = auth(&db, "Sarah@Example.com", "correct horse battery", "127.0.0.1").await.unwrap();
    assert_eq!(ok.email, "sarah@example.com");
    for (email, pw) in [("sarah@example.com", "wrong password"), ("nobody@example.com", "correct horse battery"), ("", "")] {
        match auth(&db, email, pw, "127.0.0.1").await {
            Err(Error::Unauthenticated(m)) => assert_eq!(m, "Invalid email or password."),
            other => panic!("{email}: {other:?}"),
        }
    }
    // Ten failures for one account from new browsers: a new browser is refused for a while, even
    // with the right password (a browser it signed in from before is not: server/tests/sign_in.rs).
    for i in 0..9 {
        let _ = auth(&db, "sarah@example.com", "nope", &format!("10.0.0.{i}")).await;
    }
    match auth(&db, "sarah@example.com", "correct horse battery", "10.0.1.2").await {
        Err(Error::TooManyAttempts(m)) => assert!(m.starts_with("Too many failed sign-ins for this account."), "{m}"),
        other => panic!("{other:?}"),
    }
});

db_test!(disabled_user_cannot_sign_in_and_loses_sessions, |db| {
    let mut c = db.pool.get().await.unwrap();
    let mut conn = c.conn();
    let admin = users::create(&mut conn, Cost::Test, new_user("admin@example.com", Role::Admin)).await.unwrap();
    let u = users::create(&mut conn, Cost::Test, new_user("u@example.com", Role::User)).await.unwrap();
    let store = DbSessionStore::new(db.pool.clone());
    let mut record = Record {
        id: Id::default(),
        data: [("user_id".to_string(), serde_json::json!(u.id))].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_some());
    let disabled = users::set_disabled(&mut conn, u.id, true, &By::cli()).await.unwrap();
    assert!(disabled.disabled);
    assert!(store.load(&record.id).await.unwrap().is_none(), "session must end with the account");
    match auth(&db, "u@example.com", "correct horse battery", "127.0.0.1").await {
        Err(Error::Unauthenticated(m)) => assert_eq!(m, "Invalid email or password."),
        other => panic!("{other:?}"),
    }
    users::set_disabled(&mut conn, u.id, false, &By::cli()).await.unwrap();
    auth(&db, "u@example.com", "correct horse battery", "127.0.0.1").await.unwrap();
    // The last active admin can neither be disabled nor demoted.
    assert!(matches!(users::set_disabled(&mut conn, admin.id, true, &By::cli()).await, Err(Error::Conflict(_))));
    assert!(matches!(users::set_role(&mut conn, admin.id, Role::User, &By::cli()).await, Err(Error::Conflict(_))));
    users::set_role(&mut conn, u.id, Role::Admin, &By::cli()).await.unwrap();
    assert_eq!(users::set_role(&mut conn, admin.id, Role::User, &By::cli()).await.unwrap().role, Role::User);
});

db_test!(profile_and_passwords, |db| {
    let mut c = db.pool.get().await.unwrap();
    let mut conn = c.conn();
    let u = users::create(&mut conn, Cost::Test, new_user("p@example.com", Role::User)).await.unwrap();
    let updated = users::update_profile(&mut conn, u.id, "  Pat  ", "America/New_York").await.unwrap();
    assert_eq!((updated.full_name.as_str(), updated.time_zone.as_str()), ("Pat", "America/New_York"));
    let msgs = field_messages(users::update_profile(&mut conn, u.id, "Pat", "Nowhere").await.unwrap_err());
    assert_eq!(msgs[0].0, "time_zone");
    assert_eq!(users::get(&mut conn, u.id).await.unwrap().time_zone, "America/New_York");
    let msgs = field_messages(users::change_password(&mut conn, Cost::Test, u.id, "wrong", "new password 1", &By::cli()).await.unwrap_err());
    assert_eq!(msgs, vec![("current_password".into(), "Current password is incorrect.".into())]);
    users::change_password(&mut conn, Cost::Test, u.id, "correct horse battery", "new password 1", &By::cli()).await.unwrap();
    auth(&db, "p@example.com", "new password 1", "x").await.unwrap();
    users::set_password(&mut conn, Cost::Test, u.id, "admin reset 1", &By::cli()).await.unwrap();
    auth(&db, "p@example.com", "admin reset 1", "x").await.unwrap();
});

db_test!(session_store_round_trip_and_expiry, |db| {
    let store = DbSessionStore::new(db.pool.clone());
    let mut live = Record {
        id: Id::default(),
        data: [("k".to_string(), serde_json::json!("v"))].into_iter().collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut live).await.unwrap();
    let loaded = store.load(&live.id).await.unwrap().unwrap();
    assert_eq!(loaded.data, live.data);
    live.data.insert("k".into(), serde_json::json!("w"));
    store.save(&live).await.unwrap();
    assert_eq!(store.load(&live.id).await.unwrap().unwrap().data["k"], "w");
    let mut old = Record { id: Id::default(), data: Default::default(), expiry_date: time::OffsetDateTime::now_utc() - time::Duration::seconds(5) };
    store.create(&mut old).await.unwrap();
    assert!(store.load(&old.id).await.unwrap().is_none(), "expired sessions do not load");
    store.delete_expired().await.unwrap();
    store.delete(&live.id).await.unwrap();
    assert!(store.load(&live.id).await.unwrap().is_none());
    // A made-up id loads nothing.
    assert!(store.load(&Id(42)).await.unwrap().is_none());
});
