//! The `calsync` command line as an operator runs it: real process, real database (both kinds).
use server::{db_test, testing::TestDb};
use std::{io::Write, process::{Command, Output, Stdio}};

fn calsync(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("CALSYNC_DATA_DIR", std::env::temp_dir())
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
