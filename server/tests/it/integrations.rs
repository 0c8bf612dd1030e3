//! MM Calendar Integration: the spec's "Testing Checklist — Unit Tests", naming, primaries,
//! permissions, versions and secrets at rest, on SQLite and PostgreSQL.
use server::{
    crypto::Secret,
    domain::{
        integrations::{self as ig, rules::*, Filter, Patch},
        users::{self, NewUser, Role},
        Actor, Error,
    },
    password::Cost,
};
use testkit::db_test;
use testkit::TestDb;

async fn user(db: &TestDb, email: &str, role: Role) -> Actor {
    let mut c = db.pool.get().await.unwrap();
    let u = users::create(
        &mut c.conn(),
        Cost::Test,
        NewUser { email: email.into(), full_name: String::new(), password: "password 123".into(), role, time_zone: "Europe/Berlin".into() },
    )
    .await
    .unwrap();
    Actor::of(&u)
}

fn ical(name: &str) -> Patch {
    Patch {
        integration_type: Some("iCal".into()),
        integration_name: Some(name.into()),
        ical_url: Some("https://example.com/cal.ics".into()),
        ..Patch::default()
    }
}

fn google(name: &str) -> Patch {
    Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some(name.into()),
        calendar_id: Some("sarah@example.com".into()),
        access_token: Some(Some(Secret::new("ya29.secret-access"))),
        refresh_token: Some(Some(Secret::new("1//secret-refresh"))),
        ..Patch::default()
    }
}

async fn create(db: &TestDb, actor: Actor, patch: Patch) -> Result<ig::Saved, Error> {
    let mut c = db.pool.get().await.unwrap();
    ig::create(&mut c.conn(), &db.keys, actor, patch).await
}

async fn update(db: &TestDb, actor: Actor, name: &str, patch: Patch) -> Result<ig::Saved, Error> {
    let mut c = db.pool.get().await.unwrap();
    ig::update(&mut c.conn(), &db.keys, actor, name, patch).await
}

/// The errors of a refused save as (field, message).
fn errors(r: Result<ig::Saved, Error>) -> Vec<(String, String)> {
    match r {
        Err(Error::Invalid(report)) => report.errors.into_iter().map(|m| (m.field.unwrap_or_default(), m.message)).collect(),
        Err(other) => panic!("expected validation errors, got {other:?}"),
        Ok(s) => panic!("expected validation errors, saved {}", s.integration.name),
    }
}

fn one_error(r: Result<ig::Saved, Error>, field: &str, message: &str) {
    assert_eq!(errors(r), vec![(field.to_string(), message.to_string())]);
}

db_test!(user_must_exist, |db| {
    let admin = user(&db, "admin@example.com", Role::Admin).await;
    one_error(create(&db, admin, Patch { user: Some("ghost@example.com".into()), ..ical("Cal") }).await, "user", "User 'ghost@example.com' does not exist.");
    one_error(create(&db, admin, Patch { user: Some("  ".into()), ..ical("Cal") }).await, "user", "User is required.");
    let saved = create(&db, admin, ical("Cal")).await.unwrap();
    assert_eq!(saved.integration.user, "admin@example.com");
});

db_test!(names_are_per_user_counters_and_never_reused, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let a = create(&db, sarah, ical("One")).await.unwrap().integration;
    let b = create(&db, sarah, ical("Two")).await.unwrap().integration;
    assert_eq!(a.name, "MM-CI-sarah@example.com-0001");
    assert_eq!(b.name, "MM-CI-sarah@example.com-0002");
    // A refused save does not use up a number; a delete does not free one.
    let _ = create(&db, sarah, ical("")).await.unwrap_err();
    let mut c = db.pool.get().await.unwrap();
    ig::delete(&mut c.conn(), sarah, &b.name).await.unwrap();
    let c3 = create(&db, sarah, ical("Three")).await.unwrap().integration;
    assert_eq!(c3.name, "MM-CI-sarah@example.com-0003");
    let john = user(&db, "john@example.com", Role::User).await;
    assert_eq!(create(&db, john, ical("One")).await.unwrap().integration.name, "MM-CI-john@example.com-0001");
});

db_test!(concurrent_creates_get_distinct_numbers, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let pool = db.pool.clone();
        let keys = db.keys.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pool.get().await.unwrap();
            ig::create(&mut c.conn(), &keys, sarah, ical(&format!("Feed {i}"))).await.unwrap().integration.name
        }));
    }
    let mut names = Vec::new();
    for t in tasks {
        names.push(t.await.unwrap());
    }
    names.sort();
    let expected: Vec<String> = (1..=8).map(|n| format!("MM-CI-sarah@example.com-{n:04}")).collect();
    assert_eq!(names, expected);
});

db_test!(integration_name_required_and_unique_per_user_case_sensitive, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let john = user(&db, "john@example.com", Role::User).await;
    one_error(create(&db, sarah, ical("  ")).await, "integration_name", "Integration Name is required.");
    create(&db, sarah, ical("Work Google Calendar")).await.unwrap();
    one_error(
        create(&db, sarah, ical("Work Google Calendar")).await,
        "integration_name",
        "Integration Name 'Work Google Calendar' already exists for user 'sarah@example.com'. Please use a unique name for each integration.",
    );
    create(&db, sarah, ical("work google calendar")).await.unwrap();
    create(&db, john, ical("Work Google Calendar")).await.unwrap();
    one_error(create(&db, sarah, ical(&"x".repeat(10_000))).await, "integration_name", "Integration Name cannot exceed 140 characters.");
});

db_test!(ical_url_rules, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let with_url = |u: &str| Patch { ical_url: Some(u.into()), ..ical("Feed") };
    one_error(create(&db, sarah, Patch { ical_url: None, ..ical("Feed") }).await, "ical_url", "iCal URL is required for iCal integration type.");
    for bad in ["example.com/cal.ics", "ftp://example.com/cal.ics", "javascript:alert(1)", "htp://x"] {
        one_error(create(&db, sarah, with_url(bad)).await, "ical_url", "iCal URL must start with http://, https://, or webcal://");
    }
    one_error(
        create(&db, sarah, with_url("https://example.com/my cal.ics")).await,
        "ical_url",
        "iCal URL must not contain spaces. Copy the address again, or write spaces as %20.",
    );
    assert!(errors(create(&db, sarah, with_url("https:///cal.ics")).await)[0].1.starts_with("iCal URL must include a host name"));
    // What the fetcher cannot parse is refused at once, not at every sync.
    one_error(
        create(&db, sarah, with_url("https://[bad")).await,
        "ical_url",
        "iCal URL is not a valid address (invalid IPv6 address). Copy the feed's address again.",
    );
    for good in ["http://example.com/a.ics", "HTTPS://Example.com/a.ics", "webcal://p01-calendars.icloud.com/published/2/abc"] {
        let saved = create(&db, sarah, Patch { integration_name: Some(good.into()), ..with_url(good) }).await.unwrap();
        // iCal defaults to read-only.
        assert_eq!(saved.integration.sync_direction, ig::SyncDirection::OneWay);
        assert!(saved.warnings.is_empty(), "{:?}", saved.warnings);
    }
});

db_test!(ical_clears_oauth_fields_and_warns_on_two_way, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let saved = create(
        &db,
        sarah,
        Patch {
            access_token: Some(Some(Secret::new("tok"))),
            token_expiry: Some("2030-01-01 00:00:00".into()),
            sync_direction: Some("Two-way (Read & Write)".into()),
            ..ical("Feed")
        },
    )
    .await
    .unwrap();
    assert!(!saved.integration.has_access_token);
    assert_eq!(saved.integration.token_expiry, None);
    assert_eq!(saved.warnings.len(), 1);
    assert_eq!(saved.warnings[0].message, MSG_ICAL_TWO_WAY);
    assert_eq!(saved.warnings[0].field.as_deref(), Some("sync_direction"));
});

db_test!(oauth_types_need_an_access_token_when_active, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let no_token = Patch { access_token: None, refresh_token: None, ..google("Work") };
    one_error(
        create(&db, sarah, no_token.clone()).await,
        "access_token",
        "Google Calendar requires an Access Token. Please authenticate with Google Calendar first.",
    );
    let outlook = Patch { integration_type: Some("Outlook Calendar".into()), ..no_token.clone() };
    one_error(create(&db, sarah, outlook).await, "access_token", "Outlook Calendar requires an Access Token. Please authenticate with Outlook Calendar first.");
    // Inactive: no token needed. Without calendar id: a warning. The iCal URL is cleared.
    let saved =
        create(&db, sarah, Patch { is_active: Some(false), calendar_id: Some("".into()), ical_url: Some("https://x.example/a.ics".into()), ..no_token })
            .await
            .unwrap();
    assert_eq!(saved.integration.ical_url, None);
    assert_eq!(
        saved.warnings.iter().map(|w| w.message.as_str()).collect::<Vec<_>>(),
        vec!["Calendar ID is recommended for Google Calendar integration. Without it, the primary calendar will be used by default."]
    );
    let saved = create(&db, sarah, google("Active")).await.unwrap();
    assert!(saved.integration.has_access_token && saved.integration.has_refresh_token);
    assert_eq!(saved.integration.sync_direction, ig::SyncDirection::TwoWay);
    assert!(saved.warnings.is_empty());
});

db_test!(sync_ranges, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let p = |past: &str, future: &str, interval: &str| Patch {
        sync_past_days: Some(past.into()),
        sync_future_days: Some(future.into()),
        sync_interval_minutes: Some(interval.into()),
        ..ical("Feed")
    };
    assert_eq!(
        errors(create(&db, sarah, p("-1", "0", "4")).await),
        vec![
            ("sync_past_days".into(), "Sync Past Days cannot be negative. Use 0 for no past sync.".into()),
            ("sync_future_days".into(), "Sync Future Days must be greater than 0.".into()),
            ("sync_interval_minutes".into(), "Sync Interval cannot be less than 5 minutes to avoid excessive API calls.".into()),
        ]
    );
    assert_eq!(
        errors(create(&db, sarah, p("366", "731", "1441")).await),
        vec![
            ("sync_past_days".into(), "Sync Past Days cannot exceed 365 days (1 year).".into()),
            ("sync_future_days".into(), "Sync Future Days cannot exceed 730 days (2 years).".into()),
            ("sync_interval_minutes".into(), "Sync Interval cannot exceed 1440 minutes (24 hours).".into()),
        ]
    );
    assert_eq!(
        errors(create(&db, sarah, p("abc", "1.5", "99999999999999999999")).await),
        vec![
            ("sync_past_days".into(), "Sync Past Days must be a whole number.".into()),
            ("sync_future_days".into(), "Sync Future Days must be a whole number.".into()),
            ("sync_interval_minutes".into(), "Sync Interval must be a whole number.".into()),
        ]
    );
    let edge = create(&db, sarah, p("0", "730", "5")).await.unwrap().integration;
    assert_eq!((edge.sync_past_days, edge.sync_future_days, edge.sync_interval_minutes), (0, 730, 5));
    let edge = create(&db, sarah, Patch { integration_name: Some("Edge 2".into()), ..p("365", "1", "1440") }).await.unwrap().integration;
    assert_eq!((edge.sync_past_days, edge.sync_future_days, edge.sync_interval_minutes), (365, 1, 1440));
    // Defaults.
    let d = create(&db, sarah, ical("Defaults")).await.unwrap().integration;
    assert_eq!(
        (d.sync_past_days, d.sync_future_days, d.sync_interval_minutes, d.auto_sync_enabled, d.is_active, d.is_primary),
        (30, 90, 15, true, true, false)
    );
    assert_eq!(d.sync_status, ig::SyncStatus::Pending);
});

db_test!(token_expiry_format_and_expired_warning, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    for bad in ["tomorrow", "2025-13-01 00:00:00", "2025-12-08 25:00:00"] {
        one_error(
            create(&db, sarah, Patch { token_expiry: Some(bad.into()), ..google("Work") }).await,
            "token_expiry",
            "Invalid Token Expiry datetime format.",
        );
    }
    // Read in the owner's zone (Europe/Berlin, UTC+1 in December) and shown back in it.
    let saved = create(&db, sarah, Patch { token_expiry: Some("2025-12-08 14:30:00".into()), ..google("Work") }).await.unwrap();
    assert_eq!(saved.integration.token_expiry.unwrap().to_string(), "2025-12-08 13:30:00");
    let w = &saved.warnings[0];
    assert_eq!(w.message, "Warning: Access Token has expired on 2025-12-08 14:30:00. Please re-authenticate to continue syncing.");
    assert!(w.danger, "the expired-token warning is red");
    // RFC 3339 works too; a future expiry or an inactive calendar gives no warning.
    let saved = create(&db, sarah, Patch { token_expiry: Some("2099-01-01T00:00:00Z".into()), ..google("Future") }).await.unwrap();
    assert!(saved.warnings.is_empty());
    let saved = create(&db, sarah, Patch { is_active: Some(false), token_expiry: Some("2020-01-01 00:00:00".into()), ..google("Old") }).await.unwrap();
    assert!(saved.warnings.is_empty());
});

db_test!(one_active_primary_and_make_primary_switches, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let work = create(&db, sarah, Patch { is_primary: Some(true), ..google("Work Google Calendar") }).await.unwrap().integration;
    assert!(work.is_primary);
    let msg = "A primary calendar integration already exists for user 'sarah@example.com': 'Work Google Calendar'. Please uncheck 'Is Primary Calendar' on the existing integration first, or uncheck it on this integration.";
    let outlook = Patch { integration_type: Some("Outlook Calendar".into()), ..google("Personal Outlook") };
    one_error(create(&db, sarah, Patch { is_primary: Some(true), ..outlook.clone() }).await, "is_primary", msg);
    let personal = create(&db, sarah, outlook).await.unwrap().integration;
    one_error(update(&db, sarah, &personal.name, Patch { is_primary: Some(true), ..Patch::default() }).await, "is_primary", msg);

    // The explicit action switches in one step and says so.
    let mut c = db.pool.get().await.unwrap();
    let switched = ig::make_primary(&mut c.conn(), sarah, &personal.name).await.unwrap();
    assert_eq!(switched.messages, vec!["Unmarked 'Work Google Calendar' as primary calendar."]);
    assert!(switched.integration.is_primary);
    let work = ig::get(&mut c.conn(), sarah, &work.name).await.unwrap();
    assert!(!work.is_primary);
    assert_eq!(work.version, 2, "the unmarked record's version moves on");

    // Deactivating the primary unmarks it; an inactive calendar cannot be made primary.
    let saved = update(&db, sarah, &personal.name, Patch { is_active: Some(false), ..Patch::default() }).await.unwrap();
    assert!(!saved.integration.is_primary);
    assert_eq!(saved.messages, vec!["Unmarked 'Personal Outlook' as primary calendar."]);
    match ig::make_primary(&mut c.conn(), sarah, &personal.name).await {
        Err(Error::Invalid(r)) => assert_eq!(r.errors[0].message, "Only an active calendar can be primary."),
        other => panic!("{other:?}"),
    }
    one_error(
        create(&db, sarah, Patch { is_active: Some(false), is_primary: Some(true), ..ical("Off") }).await,
        "is_primary",
        "Only an active calendar can be primary.",
    );

    // An iCal primary is allowed, with a warning.
    let feed = create(&db, sarah, ical("Apple Calendar")).await.unwrap().integration;
    let saved = ig::make_primary(&mut c.conn(), sarah, &feed.name).await.unwrap();
    assert!(saved.integration.is_primary);
    assert!(saved.warnings[0].message.contains("bookings cannot be written to it"));
    let (all, _) = ig::list(&mut c.conn(), sarah, &Filter { limit: 100, ..Filter::default() }).await.unwrap();
    assert_eq!(all.iter().filter(|i| i.is_primary).count(), 1);
});

db_test!(saving_a_primary_unmarks_inactive_former_primaries, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let old = create(&db, sarah, Patch { is_primary: Some(true), ..ical("Old") }).await.unwrap().integration;
    // An inactive primary left over (data from before the rule, or an import).
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use server::db::schema::calendar_integrations as ci;
        let mut c = db.pool.get().await.unwrap();
        server::run!(&mut c.conn(), |cc| diesel::update(ci::table.filter(ci::name.eq(&old.name))).set(ci::is_active.eq(false)).execute(cc).await).unwrap();
    }
    let saved = create(&db, sarah, Patch { is_primary: Some(true), ..ical("New") }).await.unwrap();
    assert_eq!(saved.messages, vec!["Unmarked 'Old' as primary calendar."]);
    let mut c = db.pool.get().await.unwrap();
    assert!(!ig::get(&mut c.conn(), sarah, &old.name).await.unwrap().is_primary);
});

db_test!(another_users_record_does_not_exist_for_you, |db| {
    let admin = user(&db, "admin@example.com", Role::Admin).await;
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let john = user(&db, "john@example.com", Role::User).await;
    let sarahs = create(&db, sarah, ical("Mine")).await.unwrap().integration;
    let mut c = db.pool.get().await.unwrap();
    assert!(matches!(ig::get(&mut c.conn(), john, &sarahs.name).await, Err(Error::NotFound)));
    assert!(matches!(update(&db, john, &sarahs.name, Patch::default()).await, Err(Error::NotFound)));
    assert!(matches!(ig::make_primary(&mut c.conn(), john, &sarahs.name).await, Err(Error::NotFound)));
    assert!(matches!(ig::delete(&mut c.conn(), john, &sarahs.name).await, Err(Error::NotFound)));
    assert!(matches!(ig::secrets(&mut c.conn(), &db.keys, john, &sarahs.name).await, Err(Error::NotFound)));
    // Same answer as a record that never existed.
    assert!(matches!(ig::get(&mut c.conn(), john, "MM-CI-nobody-0001").await, Err(Error::NotFound)));
    // John cannot create for Sarah, nor list hers.
    assert!(
        matches!(create(&db, john, Patch { user: Some("sarah@example.com".into()), ..ical("X") }).await, Err(Error::Forbidden(m)) if m == "You can only manage your own calendars.")
    );
    let f = Filter { user: Some("sarah@example.com".into()), limit: 100, ..Filter::default() };
    assert!(matches!(ig::list(&mut c.conn(), john, &f).await, Err(Error::Forbidden(_))));
    let (johns, total) = ig::list(&mut c.conn(), john, &Filter { limit: 100, ..Filter::default() }).await.unwrap();
    assert_eq!((johns.len(), total), (0, 0));
    // The admin sees and manages everyone's, and can filter by user.
    let (sarah_list, _) = ig::list(&mut c.conn(), admin, &f).await.unwrap();
    assert_eq!(sarah_list.len(), 1);
    let for_john = create(&db, admin, Patch { user: Some("JOHN@example.com".into()), ..ical("From admin") }).await.unwrap();
    assert_eq!(for_john.integration.name, "MM-CI-john@example.com-0001");
    assert_eq!(for_john.integration.created_by, Some(admin.user_id));
    update(&db, admin, &sarahs.name, Patch { sync_interval_minutes: Some("60".into()), ..Patch::default() }).await.unwrap();
    ig::delete(&mut c.conn(), admin, &sarahs.name).await.unwrap();
});

db_test!(a_stale_version_is_refused, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let rec = create(&db, sarah, ical("Feed")).await.unwrap().integration;
    assert_eq!(rec.version, 1);
    let first = update(&db, sarah, &rec.name, Patch { sync_past_days: Some("7".into()), version: Some(1), ..Patch::default() }).await.unwrap();
    assert_eq!(first.integration.version, 2);
    match update(&db, sarah, &rec.name, Patch { sync_past_days: Some("9".into()), version: Some(1), ..Patch::default() }).await {
        Err(Error::Conflict(m)) => assert_eq!(m, "This calendar was changed elsewhere since you opened it. Reload to see the changes."),
        other => panic!("{other:?}"),
    }
    let mut c = db.pool.get().await.unwrap();
    assert_eq!(ig::get(&mut c.conn(), sarah, &rec.name).await.unwrap().sync_past_days, 7);
    // A refused save changes nothing.
    let _ = update(&db, sarah, &rec.name, Patch { sync_past_days: Some("-5".into()), ..Patch::default() }).await.unwrap_err();
    let now = ig::get(&mut c.conn(), sarah, &rec.name).await.unwrap();
    assert_eq!((now.sync_past_days, now.version), (7, 2));
});

db_test!(tokens_are_encrypted_at_rest_and_rotate, |db| {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use server::db::schema::calendar_integrations as ci;
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    let rec = create(&db, sarah, google("Work")).await.unwrap().integration;
    let mut c = db.pool.get().await.unwrap();
    let raw: (Option<String>, Option<String>) =
        server::run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq(&rec.name)).select((ci::access_token, ci::refresh_token)).first(cc).await).unwrap();
    let (a, r) = (raw.0.unwrap(), raw.1.unwrap());
    assert!(a.starts_with("v1:k1:") && r.starts_with("v1:k1:"), "{a}");
    assert!(!a.contains("ya29") && !r.contains("secret-refresh"));
    let (access, refresh) = ig::secrets(&mut c.conn(), &db.keys, sarah, &rec.name).await.unwrap();
    assert_eq!(access.unwrap().expose(), "ya29.secret-access");
    assert_eq!(refresh.unwrap().expose(), "1//secret-refresh");
    // Secrets never show in a record's debug output.
    assert!(!format!("{rec:?}").contains("ya29"));

    // Rotation: every secret re-encrypted with the new key, still readable.
    let rotated = db.keys.rotated();
    assert_eq!(ig::reencrypt_all(&mut c.conn(), &rotated).await.unwrap(), 2);
    let raw: Option<String> = server::run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq(&rec.name)).select(ci::access_token).first(cc).await).unwrap();
    assert!(raw.unwrap().starts_with("v1:k2:"));
    assert_eq!(ig::secrets(&mut c.conn(), &rotated, sarah, &rec.name).await.unwrap().0.unwrap().expose(), "ya29.secret-access");
    ig::verify_keys(&mut c.conn(), &rotated).await.unwrap();
    // The old key alone no longer opens them: a clear error naming the key id.
    let err = ig::verify_keys(&mut c.conn(), &db.keys).await.unwrap_err();
    assert_eq!(err, server::crypto::CryptoError::MissingKey("k2".into()));
    // A new token value replaces the old; an empty one clears it.
    let patch = Patch { access_token: Some(Some(Secret::new("ya29.new"))), ..Patch::default() };
    ig::update(&mut c.conn(), &rotated, sarah, &rec.name, patch).await.unwrap();
    assert_eq!(ig::secrets(&mut c.conn(), &rotated, sarah, &rec.name).await.unwrap().0.unwrap().expose(), "ya29.new");
    let patch = Patch { is_active: Some(false), access_token: Some(None), ..Patch::default() };
    let saved = ig::update(&mut c.conn(), &rotated, sarah, &rec.name, patch).await.unwrap();
    assert!(!saved.integration.has_access_token);
});

db_test!(unknown_values_are_refused_with_their_field, |db| {
    let sarah = user(&db, "sarah@example.com", Role::User).await;
    one_error(
        create(&db, sarah, Patch { integration_type: Some("Yahoo".into()), ..ical("X") }).await,
        "integration_type",
        "Integration Type 'Yahoo' is not one of Google Calendar, Outlook Calendar, iCal.",
    );
    one_error(create(&db, sarah, Patch { integration_type: None, ..ical("X") }).await, "integration_type", "Integration Type is required.");
    one_error(
        create(&db, sarah, Patch { sync_direction: Some("Sideways".into()), ..ical("X") }).await,
        "sync_direction",
        "Sync Direction 'Sideways' is not one of One-way (Read Only), Two-way (Read & Write).",
    );
    let mut c = db.pool.get().await.unwrap();
    let (_, total) = ig::list(&mut c.conn(), sarah, &Filter { limit: 10, ..Filter::default() }).await.unwrap();
    assert_eq!(total, 0, "nothing half-written");
});
