//! Sign-in cannot be turned against users, sessions follow password changes, tokens expire, and
//! the audit trail records it all — on SQLite and on PostgreSQL.
use chrono::Duration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::{schema, Pool},
    domain::{
        api_tokens,
        audit::{self, By, Filter, Kind},
        sign_in::{self, Attempt, SignedIn},
        users::{self, NewUser, Role, User},
        Error,
    },
    password::Cost,
    run,
    sessions::DbSessionStore,
};
use testkit::db_test;
use testkit::TestDb;
use tower_sessions::{
    session::{Id, Record},
    session_store::SessionStore,
};

const PASSWORD: &str = "correct horse battery";

async fn add(db: &TestDb, email: &str, role: Role) -> User {
    let mut c = db.pool.get().await.unwrap();
    let new = NewUser { email: email.into(), full_name: String::new(), password: PASSWORD.into(), role, time_zone: "UTC".into() };
    users::create(&mut c.conn(), Cost::Test, new).await.unwrap()
}

async fn attempt(pool: &Pool, email: &str, password: &str, client: &str, device: Option<&str>) -> Result<SignedIn, Error> {
    sign_in::sign_in(pool, Cost::Test, Attempt { email, password, client, device }).await
}

/// The same with the real slow-down (a second per failure past the third, at most five).
async fn slow_attempt(pool: Pool, email: String, client: String) -> Result<SignedIn, Error> {
    sign_in::sign_in(&pool, Cost::Standard, Attempt { email: &email, password: "wrong guess", client: &client, device: None }).await
}

/// How many of the answers reached the password check (and failed there), and how many were
/// refused before it.
fn tally(results: &[Result<SignedIn, Error>]) -> (usize, usize) {
    let checked = results.iter().filter(|r| matches!(r, Err(Error::Unauthenticated(_)))).count();
    let refused = results.iter().filter(|r| matches!(r, Err(Error::TooManyAttempts(_)))).count();
    assert_eq!(checked + refused, results.len(), "only those two answers: {:?}", results.iter().filter_map(|r| r.as_ref().err()).collect::<Vec<_>>());
    (checked, refused)
}

async fn burst(pool: &Pool, n: usize, who: impl Fn(usize) -> (String, String)) -> Vec<Result<SignedIn, Error>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let pool = pool.clone();
            let (email, client) = who(i);
            tokio::spawn(async move { attempt(&pool, &email, "wrong guess", &client, None).await })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

db_test!(a_parallel_burst_gets_no_extra_tries, |db| {
    add(&db, "sarah@example.com", Role::User).await;
    // One address guessing 40 accounts at once: ten guesses are checked, the rest wait.
    let results = burst(&db.pool, 40, |i| (format!("user{i}@example.com"), "203.0.113.5".into())).await;
    assert_eq!(tally(&results), (10, 30));
    let Err(Error::TooManyAttempts(m)) = results.iter().find(|r| matches!(r, Err(Error::TooManyAttempts(_)))).unwrap() else { unreachable!() };
    assert!(m.starts_with("Too many sign-in attempts from your network. Try again in "), "{m}");
    // 40 addresses guessing one account at once: ten guesses are checked, the rest refused.
    let results = burst(&db.pool, 40, |i| ("sarah@example.com".into(), format!("198.51.100.{i}"))).await;
    assert_eq!(tally(&results), (10, 30));
});

db_test!(the_owner_gets_in_from_a_browser_they_used_before, |db| {
    add(&db, "sarah@example.com", Role::User).await;
    let first = attempt(&db.pool, "sarah@example.com", PASSWORD, "192.0.2.10", None).await.unwrap();
    let device = first.new_device.expect("a new browser gets a device cookie");
    // Someone guesses from many addresses until the account refuses new browsers.
    for i in 0..12 {
        let _ = attempt(&db.pool, "sarah@example.com", "guess", &format!("198.51.100.{i}"), None).await;
    }
    assert!(matches!(attempt(&db.pool, "sarah@example.com", PASSWORD, "192.0.2.77", None).await, Err(Error::TooManyAttempts(_))));
    // Sarah's own browser, even from a new address: the right password passes at once.
    let started = std::time::Instant::now();
    let again = attempt(&db.pool, "sarah@example.com", PASSWORD, "192.0.2.77", Some(&device)).await.unwrap();
    assert!(again.new_device.is_none(), "a known browser keeps its cookie");
    assert!(started.elapsed() < std::time::Duration::from_millis(900), "no slow-down for the owner: {:?}", started.elapsed());
    // A wrong password from it is still just wrong, and a device of another account counts for nothing.
    assert!(matches!(attempt(&db.pool, "sarah@example.com", "typo", "192.0.2.77", Some(&device)).await, Err(Error::Unauthenticated(_))));
    add(&db, "john@example.com", Role::User).await;
    for i in 0..12 {
        let _ = attempt(&db.pool, "john@example.com", "guess", &format!("198.51.101.{i}"), None).await;
    }
    assert!(matches!(attempt(&db.pool, "john@example.com", PASSWORD, "192.0.2.77", Some(&device)).await, Err(Error::TooManyAttempts(_))));
});

db_test!(an_address_backs_off_and_then_gets_one_more_try, |db| {
    add(&db, "sarah@example.com", Role::User).await;
    for i in 0..10 {
        let r = attempt(&db.pool, &format!("nobody{i}@example.com"), "guess", "203.0.113.9", None).await;
        assert!(matches!(r, Err(Error::Unauthenticated(_))), "attempt {i}: {:?}", r.err());
    }
    match attempt(&db.pool, "sarah@example.com", PASSWORD, "203.0.113.9", None).await {
        Err(Error::TooManyAttempts(m)) => assert!(m.contains("Try again in"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    // Another address is not touched.
    attempt(&db.pool, "sarah@example.com", PASSWORD, "203.0.113.10", None).await.unwrap();
    // Once the back-off has run out, the next attempt is checked.
    let mut c = db.pool.get().await.unwrap();
    let past = server::domain::now() - Duration::seconds(1);
    run!(&mut c.conn(), |cc| diesel::update(schema::sign_in_throttle::table.find("ip:203.0.113.9"))
        .set(schema::sign_in_throttle::blocked_until.eq(Some(past)))
        .execute(cc)
        .await)
    .unwrap();
    drop(c);
    attempt(&db.pool, "sarah@example.com", PASSWORD, "203.0.113.9", None).await.unwrap();
});

db_test!(slowed_sign_ins_hold_no_database_connection, |db| {
    add(&db, "sarah@example.com", Role::User).await;
    // Put the account into its slow-down (each attempt waits 1–5 s).
    for i in 0..7 {
        let _ = attempt(&db.pool, "sarah@example.com", "guess", &format!("198.51.100.{i}"), None).await;
    }
    // Two connections, a short wait for one: 20 attempts slowed by seconds at once all get their
    // answer (one holding a connection while it waits would starve the others).
    let small = Pool::connect_with(&db.url, 2, std::time::Duration::from_secs(2)).await.unwrap();
    let tasks: Vec<_> = (0..20).map(|i| tokio::spawn(slow_attempt(small.clone(), "sarah@example.com".into(), format!("192.0.2.{i}")))).collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let (checked, refused) = tally(&results);
    assert_eq!((checked, refused), (3, 17), "failures 7, 8, 9 are checked (slowly); the rest refused");
});

async fn session_of(db: &TestDb, user: &User) -> Id {
    let store = DbSessionStore::new(db.pool.clone());
    let mut record = Record {
        id: Id::default(),
        data: [("user_id".to_string(), serde_json::json!(user.id)), ("auth_at".to_string(), serde_json::json!(chrono::Utc::now().timestamp()))]
            .into_iter()
            .collect(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    record.id
}

async fn alive(store: &DbSessionStore, id: &Id) -> bool {
    SessionStore::load(store, id).await.unwrap().is_some()
}

db_test!(password_changes_and_resets_end_sessions, |db| {
    let sarah = add(&db, "sarah@example.com", Role::User).await;
    let john = add(&db, "john@example.com", Role::User).await;
    let store = DbSessionStore::new(db.pool.clone());
    let (laptop, phone, johns) = (session_of(&db, &sarah).await, session_of(&db, &sarah).await, session_of(&db, &john).await);
    let mut c = db.pool.get().await.unwrap();
    users::change_password(&mut c.conn(), Cost::Test, sarah.id, PASSWORD, "a brand new secret", &By::user("sarah@example.com", Some("192.0.2.1")))
        .await
        .unwrap();
    assert!(!alive(&store, &laptop).await && !alive(&store, &phone).await, "every session of Sarah ended");
    assert!(alive(&store, &johns).await, "John's session is not touched");
    // An admin's reset ends the user's sessions too.
    users::set_password(&mut c.conn(), Cost::Test, john.id, "reset by the admin", &By::user("admin@example.com", Some("192.0.2.9"))).await.unwrap();
    assert!(!alive(&store, &johns).await);
    // A refused change ends nothing.
    let tablet = session_of(&db, &sarah).await;
    assert!(users::change_password(&mut c.conn(), Cost::Test, sarah.id, "wrong", "another new secret", &By::cli()).await.is_err());
    assert!(alive(&store, &tablet).await);
});

db_test!(short_and_common_passwords_are_refused, |db| {
    let sarah = add(&db, "sarah@example.com", Role::User).await;
    let mut c = db.pool.get().await.unwrap();
    for (new, message) in [
        ("elevenchars", "Password must be at least 12 characters."),
        ("1qaz2wsx3edc", "This password is on the list of the most common passwords found in breaches. Please choose another."),
        ("QWERTYUIOP12", "This password is on the list of the most common passwords found in breaches. Please choose another."),
    ] {
        match users::set_password(&mut c.conn(), Cost::Test, sarah.id, new, &By::cli()).await {
            Err(Error::Invalid(r)) => assert_eq!(r.errors[0].message, message, "{new}"),
            other => panic!("{new}: {other:?}"),
        }
    }
    drop(c);
    attempt(&db.pool, "sarah@example.com", PASSWORD, "192.0.2.1", None).await.unwrap();
});

db_test!(tokens_expire_and_say_when_they_were_last_used, |db| {
    let sarah = add(&db, "sarah@example.com", Role::User).await;
    let mut c = db.pool.get().await.unwrap();
    let by = By::user("sarah@example.com", Some("192.0.2.1"));
    let (forever, forever_token) = api_tokens::create(&mut c.conn(), sarah.id, "script", None, &by).await.unwrap();
    let (week, week_token) = api_tokens::create(&mut c.conn(), sarah.id, "trial", Some(7), &by).await.unwrap();
    assert!(forever.expires_at.is_none());
    let in_a_week = week.expires_at.unwrap() - server::domain::now();
    assert!(in_a_week > Duration::days(7) - Duration::minutes(1) && in_a_week <= Duration::days(7));
    assert!(matches!(api_tokens::create(&mut c.conn(), sarah.id, "x", Some(0), &by).await, Err(Error::Invalid(_))));
    // Used: "last used" is set.
    assert!(api_tokens::authenticate(&mut c.conn(), &week_token).await.unwrap().is_some());
    let listed = api_tokens::list(&mut c.conn(), sarah.id).await.unwrap();
    assert!(listed.iter().find(|t| t.id == week.id).unwrap().last_used_at.is_some());
    assert!(listed.iter().find(|t| t.id == forever.id).unwrap().last_used_at.is_none());
    // Past its expiry it opens nothing.
    let past = server::domain::now() - Duration::seconds(1);
    run!(&mut c.conn(), |cc| diesel::update(schema::api_tokens::table.find(week.id)).set(schema::api_tokens::expires_at.eq(Some(past))).execute(cc).await)
        .unwrap();
    assert!(api_tokens::authenticate(&mut c.conn(), &week_token).await.unwrap().is_none());
    assert!(api_tokens::list(&mut c.conn(), sarah.id).await.unwrap().iter().find(|t| t.id == week.id).unwrap().expired());
    assert!(api_tokens::authenticate(&mut c.conn(), &forever_token).await.unwrap().is_some());
});

db_test!(the_audit_trail_records_who_did_what_from_where, |db| {
    let admin = add(&db, "admin@example.com", Role::Admin).await;
    let sarah = add(&db, "sarah@example.com", Role::User).await;
    attempt(&db.pool, "sarah@example.com", PASSWORD, "192.0.2.44", None).await.unwrap();
    let _ = attempt(&db.pool, "sarah@example.com", "wrong", "192.0.2.45", None).await;
    let mut c = db.pool.get().await.unwrap();
    let by = By::user(&admin.email, Some("192.0.2.1"));
    let new = NewUser { email: "lee@example.com".into(), full_name: String::new(), password: PASSWORD.into(), role: Role::User, time_zone: "UTC".into() };
    users::create_by(&mut c.conn(), Cost::Test, new, &by).await.unwrap();
    let (created, _) =
        audit::list(&mut c.conn(), &Filter { user: Some("lee@example.com".into()), kind: Some(Kind::UserCreated), limit: 10, offset: 0 }).await.unwrap();
    assert_eq!((created.len(), created[0].actor.as_str(), created[0].detail.as_str()), (1, "admin@example.com", "User"));
    users::set_role(&mut c.conn(), sarah.id, Role::Admin, &by).await.unwrap();
    users::set_disabled(&mut c.conn(), sarah.id, true, &by).await.unwrap();
    users::set_disabled(&mut c.conn(), sarah.id, false, &by).await.unwrap();
    users::set_password(&mut c.conn(), Cost::Test, sarah.id, "reset by the admin", &by).await.unwrap();
    let (t, _) = api_tokens::create(&mut c.conn(), sarah.id, "cron job", None, &By::cli()).await.unwrap();
    api_tokens::revoke(&mut c.conn(), sarah.id, t.id, &By::user("sarah@example.com", Some("192.0.2.44"))).await.unwrap();

    let all = |user: Option<&str>, kind: Option<Kind>| Filter { user: user.map(str::to_string), kind, limit: 100, offset: 0 };
    let (entries, total) = audit::list(&mut c.conn(), &all(Some("sarah@example.com"), None)).await.unwrap();
    assert_eq!(total, 8);
    let kinds: Vec<&str> = entries.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["sign-in", "sign-in failed", "role changed", "user disabled", "user enabled", "password reset", "token created", "token revoked"]);
    let first = entries.last().unwrap();
    assert_eq!((first.actor.as_str(), first.client.as_deref()), ("sarah@example.com", Some("192.0.2.44")));
    let role = entries.iter().find(|e| e.kind == "role changed").unwrap();
    assert_eq!((role.actor.as_str(), role.subject.as_deref(), role.detail.as_str()), ("admin@example.com", Some("sarah@example.com"), "System Manager"));
    let (failed, _) = audit::list(&mut c.conn(), &all(None, Some(Kind::SignInFailed))).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].client.as_deref(), Some("192.0.2.45"));
    let (mine, total) = audit::list(&mut c.conn(), &all(Some("admin@example.com"), Some(Kind::UserDisabled))).await.unwrap();
    assert_eq!((mine.len(), total), (1, 1));
});
