//! Test support: a fresh database per test on each backend. Used by the test suites of this
//! crate and of `app`; nothing in the running service calls it.
use crate::db::{self, Pool};
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming a PostgreSQL server for tests (`make test` starts one).
pub const PG_URL_VAR: &str = "CALSYNC_TEST_DATABASE_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that lives as long as this value.
pub struct TestDb {
    pub url: String,
    pub pool: Pool,
    /// A fresh token-encryption key for this test.
    pub keys: crate::crypto::Keyring,
    _dir: Option<TempDir>,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    )
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = std::env::temp_dir().join(format!("calsync_test_{}", unique()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}", dir.join("test.db").display());
                Self::migrated(url, Some(TempDir(dir))).await
            }
            Kind::Postgres => {
                let base = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
                    panic!("{PG_URL_VAR} is not set: every database test runs on PostgreSQL too. `make test` starts a throwaway server and sets it.")
                });
                let name = format!("calsync_test_{}", unique());
                let admin = Pool::connect_sized(&base, 1).await.expect("connect to test PostgreSQL");
                {
                    use diesel_async::SimpleAsyncConnection;
                    let mut pooled = admin.get().await.expect("connection");
                    if let db::Conn::Pg(c) = pooled.conn() {
                        c.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
                    }
                }
                let url = replace_db_name(&base, &name);
                Self::migrated(url, None).await
            }
        }
    }

    async fn migrated(url: String, dir: Option<TempDir>) -> TestDb {
        db::run_migrations(&url).await.expect("migrations");
        let pool = Pool::connect_sized(&url, 4).await.expect("pool");
        let keys = crate::crypto::Keyring::new(vec![crate::crypto::KeyEntry::generate("k1")]).expect("keyring");
        TestDb { url, pool, keys, _dir: dir }
    }
}

/// `postgres://u@h:p/db?x` → `postgres://u@h:p/NAME?x`
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Defines one test per backend: `NAME::sqlite` and `NAME::postgres`, each on a fresh database.
/// The body is an async block that receives `db: TestDb`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($db: $crate::testing::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::testing::TestDb::new($crate::testing::Kind::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body($crate::testing::TestDb::new($crate::testing::Kind::Postgres).await).await
            }
        }
    };
}
