//! The `calsync` command line as an operator runs it: real process, real database (both kinds).
use std::{
    io::Write,
    process::{Command, Output, Stdio},
};
use testkit::db_test;
use testkit::TestDb;

fn calsync(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    calsync_in(db, &data_dir(db), &[], args, stdin)
}

/// A data directory of this test's own (the key file lives there).
fn data_dir(db: &TestDb) -> std::path::PathBuf {
    let d = db.dir().join("data");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn calsync_in(db: &TestDb, dir: &std::path::Path, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(args)
        .envs(env.iter().copied())
        .env("DATABASE_URL", &db.url)
        .env("CALSYNC_DATA_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run calsync");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

db_test!(user_commands_work_and_fail_with_the_right_exit_codes, |db| {
    let out = calsync(&db, &["user", "add", "Ada@Example.com", "--name", "Ada", "--admin", "--password-stdin"], Some("ada password 1\n"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "created ada@example.com (System Manager)");

    let dup = calsync(&db, &["user", "add", "ADA@example.com", "--password-stdin"], Some("another pass 1\n"));
    assert_eq!(dup.status.code(), Some(1));
    assert!(text(&dup.stderr).contains("A user with email 'ada@example.com' already exists."), "{}", text(&dup.stderr));

    let bad = calsync(&db, &["user", "add", "not-an-email", "--password-stdin"], Some("whatever pass\n"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("'not-an-email' is not a valid email address."));

    let short = calsync(&db, &["user", "add", "bob@example.com", "--password-stdin"], Some("\n"));
    assert_eq!(short.status.code(), Some(1));
    assert!(text(&short.stderr).contains("Password is required."));

    // No --password-stdin and no terminal: a usage error, nothing written.
    let no_pw = calsync(&db, &["user", "add", "bob@example.com"], None);
    assert_eq!(no_pw.status.code(), Some(2));
    assert!(text(&no_pw.stderr).contains("--password-stdin"));

    assert_eq!(calsync(&db, &["user", "add", "bob@example.com", "--password-stdin"], Some("bob password 1\n")).status.code(), Some(0));
    let list = calsync(&db, &["user", "list", "--json"], None);
    let users: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[0]["email"], "ada@example.com");
    assert_eq!(users[0]["role"], "admin");

    assert_eq!(calsync(&db, &["user", "role", "bob@example.com", "admin"], None).status.code(), Some(0));
    assert_eq!(calsync(&db, &["user", "disable", "bob@example.com"], None).status.code(), Some(0));
    let table = text(&calsync(&db, &["user", "list"], None).stdout);
    assert!(table.lines().any(|l| l.starts_with("bob@example.com") && l.contains("System Manager") && l.contains("disabled")), "{table}");
    assert_eq!(calsync(&db, &["user", "enable", "bob@example.com"], None).status.code(), Some(0));
    assert_eq!(calsync(&db, &["user", "passwd", "bob@example.com", "--password-stdin"], Some("new bob pass 1\n")).status.code(), Some(0));

    let missing = calsync(&db, &["user", "disable", "nobody@example.com"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no user with email 'nobody@example.com'"));

    // Usage errors exit 2.
    assert_eq!(calsync(&db, &["user", "role", "bob@example.com", "king"], None).status.code(), Some(2));
    assert_eq!(calsync(&db, &["frobnicate"], None).status.code(), Some(2));
    assert_eq!(calsync(&db, &["migrate"], None).status.code(), Some(0));
    assert_eq!(text(&calsync(&db, &["migrate"], None).stdout).trim(), "database is up to date");
});

#[test]
fn help_is_everywhere() {
    for args in [vec!["--help"], vec!["serve", "--help"], vec!["user", "--help"], vec!["user", "add", "--help"], vec!["migrate", "--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_calsync")).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: calsync"), "{args:?}");
    }
}

db_test!(token_create_prints_only_a_working_token, |db| {
    assert_eq!(calsync(&db, &["user", "add", "ada@example.com", "--password-stdin"], Some("ada password 1\n")).status.code(), Some(0));
    let out = calsync(&db, &["token", "create", "ada@example.com", "--label", "booking side"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let token = text(&out.stdout);
    let token = token.trim();
    assert!(token.starts_with("csk_") && !token.contains(' '), "{token}");
    let mut c = db.pool.get().await.unwrap();
    let user = server::domain::api_tokens::authenticate(&mut c.conn(), token).await.unwrap().unwrap();
    assert_eq!(user.email, "ada@example.com");
    let missing = calsync(&db, &["token", "create", "nobody@example.com"], None);
    assert_eq!(missing.status.code(), Some(1));
});

db_test!(keys_are_generated_rotated_and_checked, |db| {
    use server::{
        crypto,
        domain::{
            integrations::{self as ig, Patch},
            Actor,
        },
    };
    let dir = data_dir(&db);
    let key_file = crypto::key_file(&dir);
    let _ = std::fs::remove_file(&key_file);
    // No secrets yet: the first use generates a key file, readable only by its owner.
    let out = calsync(&db, &["keys", "rotate"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("new key 'k2'; re-encrypted 0 stored token(s)"), "{}", text(&out.stderr));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let ring = crypto::read_key_file(&key_file).unwrap().unwrap();
    assert_eq!(ring.ids(), vec!["k2", "k1"]);

    // Store a secret with the file's keys, rotate, and find it re-encrypted under k3.
    calsync(&db, &["user", "add", "ada@example.com", "--password-stdin"], Some("ada password 1\n"));
    let mut c = db.pool.get().await.unwrap();
    let ada = server::domain::users::find_by_email(&mut c.conn(), "ada@example.com").await.unwrap().unwrap();
    let patch = Patch {
        integration_type: Some("Google Calendar".into()),
        integration_name: Some("Work".into()),
        access_token: Some(Some(crypto::Secret::new("ya29.x"))),
        ..Patch::default()
    };
    let rec = ig::create(&mut c.conn(), &ring, Actor::of(&ada), patch).await.unwrap().integration;
    let out = calsync(&db, &["keys", "rotate"], None);
    assert!(text(&out.stderr).contains("new key 'k3'; re-encrypted 1 stored token(s)"), "{}", text(&out.stderr));
    let ring = crypto::read_key_file(&key_file).unwrap().unwrap();
    let stored = ig::stored_secrets(&mut c.conn()).await.unwrap();
    assert!(stored[0].3.starts_with("v1:k3:"));
    assert_eq!(ig::secrets(&mut c.conn(), &ring, Actor::of(&ada), &rec.name).await.unwrap().0.unwrap().expose(), "ya29.x");

    // Keys from the environment: the new value is printed for the operator.
    let env = ring.to_list();
    let out = calsync_in(&db, &dir, &[("CALSYNC_SECRET_KEYS", &env)], &["keys", "rotate"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.starts_with("CALSYNC_SECRET_KEYS=k4:"), "{printed}");
    let env_ring = crypto::Keyring::from_list(printed.trim().trim_start_matches("CALSYNC_SECRET_KEYS=")).unwrap();

    // A missing or wrong key is a clear error naming the key id, never garbage.
    std::fs::remove_file(&key_file).unwrap();
    let out = calsync(&db, &["keys", "rotate"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("encrypted secrets (tokens, feed URLs; key 'k4') but no keys are configured"), "{}", text(&out.stderr));
    let wrong = crypto::Keyring::new(vec![crypto::KeyEntry::generate("k4")]).unwrap().to_list();
    let out = calsync_in(&db, &dir, &[("CALSYNC_SECRET_KEYS", &wrong)], &["keys", "rotate"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("does not decrypt with key 'k4'"), "{}", text(&out.stderr));
    let only_old = crypto::Keyring::new(vec![crypto::KeyEntry::generate("k1")]).unwrap().to_list();
    let out = calsync_in(&db, &dir, &[("CALSYNC_SECRET_KEYS", &only_old)], &["keys", "rotate"], None);
    assert!(text(&out.stderr).contains("stored tokens need key 'k4', which is not configured"), "{}", text(&out.stderr));
    // The right keys still work.
    let out = calsync_in(&db, &dir, &[("CALSYNC_SECRET_KEYS", &env_ring.to_list())], &["migrate"], None);
    assert_eq!(out.status.code(), Some(0));
});

fn fixture(path: &str) -> String {
    format!("{}/../server/tests/data/icalendar-tests/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn inspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calsync")).args(["ical", "inspect"]).args(args).output().expect("run calsync")
}

#[test]
fn ical_inspect_prints_instances_as_json_or_a_table() {
    let file = fixture("events/event_with_recurrence_exdates_on_different_lines.ics");
    let out = inspect(&[&file, "--from", "2012-05-01", "--to", "2012-06-01", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v.as_array().unwrap();
    // Tuesdays in May 2012 at 10:00 Vienna, 05-01 and 05-29 excluded.
    assert_eq!(
        items.iter().map(|i| i["start"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["2012-05-08T08:00:00Z", "2012-05-15T08:00:00Z", "2012-05-22T08:00:00Z"]
    );
    let mut keys: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["all_day", "blocks", "end", "kind", "recurrence_id", "start", "status", "summary", "tzid", "uid"]);
    assert_eq!(items[0]["recurrence_id"], "2012-05-08T08:00:00Z");
    assert_eq!(items[0]["tzid"], "Europe/Vienna");
    assert_eq!(
        (items[0]["all_day"].as_bool(), items[0]["blocks"].as_bool(), items[0]["kind"].as_str(), items[0]["status"].as_str()),
        (Some(false), Some(true), Some("busy"), Some("confirmed"))
    );
    // The file has no UID and no VCALENDAR: said on stderr, still read (exit 0).
    assert!(text(&out.stderr).contains("warning: line 1: BEGIN:VEVENT outside a VCALENDAR"), "{}", text(&out.stderr));

    let table = inspect(&[&file, "--from", "2012-05-01", "--to", "2012-06-01", "--tz", "Europe/Vienna"]);
    let shown = text(&table.stdout);
    assert!(shown.contains("2012-05-08 10:00  2012-05-08 18:00  yes     busy               confirmed"), "{shown}");
    assert!(shown.contains("3 instance(s) of 1 event(s)"), "{shown}");
}

#[test]
fn ical_inspect_fails_with_the_reason_and_the_right_exit_code() {
    let dir = testkit::TempDir::new("calsync_inspect");
    let html = dir.path().join("page.ics");
    std::fs::write(&html, "<!doctype html>\n<html>Sign in</html>\n").unwrap();
    let out = inspect(&[html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("line 1: not an iCalendar feed: this is HTML"), "{}", text(&out.stderr));

    let missing = inspect(&["/nonexistent/feed.ics"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("cannot read /nonexistent/feed.ics"));

    let bad_tz = inspect(&[html.to_str().unwrap(), "--tz", "Mars/Olympus"]);
    assert_eq!(bad_tz.status.code(), Some(2));
    assert!(text(&bad_tz.stderr).contains("--tz \"Mars/Olympus\" is not an IANA time zone"));
    let bad_range = inspect(&[html.to_str().unwrap(), "--from", "2026-02-01", "--to", "2026-01-01"]);
    assert_eq!(bad_range.status.code(), Some(2));

    let cut = dir.path().join("cut.ics");
    std::fs::write(&cut, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270101T090000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTST").unwrap();
    let out = inspect(&[cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr).trim(), "calsync: The feed ended early (line 8) — it looks cut off in transfer.");
}

db_test!(sync_once_runs_due_calendars_and_exits_1_when_one_fails, |db| {
    use server::domain::{
        integrations::{self as ig, Patch},
        Actor,
    };
    use testkit::feeds::{FeedHost, Reply};
    let created = calsync(&db, &["user", "add", "sarah@example.com", "--password-stdin"], Some("sarah password 1\n"));
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let host = FeedHost::start().await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y%m%d");
    host.set("/good.ics", Reply::Feed(format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:{soon}T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")));
    let mut c = db.pool.get().await.unwrap();
    let me = Actor::of(&server::domain::users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap());
    let mut add = async |name: &str, url: String| {
        let patch = Patch {
            integration_type: Some("iCal".into()),
            integration_name: Some(name.into()),
            ical_url: Some(url),
            sync_future_days: Some("730".into()),
            ..Patch::default()
        };
        ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name
    };
    let good = add("Good", host.url("/good.ics")).await;
    let broken = add("Broken", host.url("/missing.ics")).await;
    // The records' feed URLs are sealed with the test database's keys: the CLI needs them too.
    let keys = db.keys.to_list();
    let env = [("CALSYNC_ICAL_ALLOW_PRIVATE", "1"), ("CALSYNC_SECRET_KEYS", keys.as_str())];

    let out = calsync_in(&db, &data_dir(&db), &env, &["sync", "--once"], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains(&format!("{good}  Success  1 created, 0 updated, 0 deleted, 0 unchanged")), "{stdout}");
    assert!(stdout.contains(&format!("{broken}  Failed  The feed server answered 404 Not Found.")), "{stdout}");
    assert!(stdout.contains("1 synced, 1 failed"), "{stdout}");

    // Nothing is due now; the named calendar runs anyway.
    let out = calsync_in(&db, &data_dir(&db), &env, &["sync", "--once"], None);
    assert_eq!((out.status.code(), text(&out.stdout).trim().to_owned()), (Some(0), "0 synced, 0 failed".to_owned()));
    let out = calsync_in(&db, &data_dir(&db), &env, &["sync", "--once", "--integration", &good], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("0 created, 0 updated, 0 deleted, 1 unchanged"), "{}", text(&out.stdout));

    // Inactive: refused with a message; unknown: said so.
    ig::update(&mut c.conn(), &db.keys, me, &good, Patch { is_active: Some(false), ..Patch::default() }).await.unwrap();
    let out = calsync_in(&db, &data_dir(&db), &env, &["sync", "--once", "--integration", &good], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("This calendar is inactive. Activate it to sync it."), "{}", text(&out.stderr));
    let out = calsync_in(&db, &data_dir(&db), &env, &["sync", "--once", "--integration", "MM-CI-nobody-0001"], None);
    assert!(text(&out.stderr).contains("no calendar named 'MM-CI-nobody-0001'"));
    let usage = calsync_in(&db, &data_dir(&db), &env, &["sync"], None);
    assert_eq!(usage.status.code(), Some(2));
    let usage = calsync_in(&db, &data_dir(&db), &env, &["sync", "--once", "--allow-mass-delete"], None);
    assert_eq!(usage.status.code(), Some(2), "the guard is lifted only for a named calendar");
});

db_test!(sync_once_can_apply_a_removal_the_guard_holds, |db| {
    use server::domain::{
        integrations::{self as ig, Patch},
        Actor,
    };
    use testkit::feeds::{FeedHost, Reply};
    let created = calsync(&db, &["user", "add", "sarah@example.com", "--password-stdin"], Some("sarah password 1\n"));
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let host = FeedHost::start().await;
    let events = |n: usize| {
        let day = (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y%m%d");
        let body: String = (0..n).map(|i| format!("BEGIN:VEVENT\r\nUID:e{i}\r\nDTSTART:{day}T090000Z\r\nEND:VEVENT\r\n")).collect();
        format!("BEGIN:VCALENDAR\r\n{body}END:VCALENDAR\r\n")
    };
    host.set("/f.ics", Reply::Feed(events(30)));
    let mut c = db.pool.get().await.unwrap();
    let me = Actor::of(&server::domain::users::find_by_email(&mut c.conn(), "sarah@example.com").await.unwrap().unwrap());
    let patch = Patch { integration_type: Some("iCal".into()), integration_name: Some("Team".into()), ical_url: Some(host.url("/f.ics")), ..Patch::default() };
    let name = ig::create(&mut c.conn(), &db.keys, me, patch).await.unwrap().integration.name;
    // The records' feed URLs are sealed with the test database's keys: the CLI needs them too.
    let keys = db.keys.to_list();
    let env = [("CALSYNC_ICAL_ALLOW_PRIVATE", "1"), ("CALSYNC_SECRET_KEYS", keys.as_str())];
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", "--once", "--integration", name.as_str()];
        args.extend_from_slice(extra);
        calsync_in(&db, &data_dir(&db), &env, &args, None)
    };
    assert_eq!(sync(&[]).status.code(), Some(0));

    host.set("/f.ics", Reply::Feed(events(2)));
    let held = sync(&[]);
    assert_eq!(held.status.code(), Some(1));
    assert!(text(&held.stdout).contains("This sync would remove 28 of 30 events."), "{}", text(&held.stdout));
    let applied = sync(&["--allow-mass-delete"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stdout));
    assert!(text(&applied.stdout).contains("0 created, 0 updated, 28 deleted, 2 unchanged"), "{}", text(&applied.stdout));
});
