//! The database: PostgreSQL or SQLite, chosen at run time from the URL. This module is the only
//! place that knows two dialects exist; queries are written once and dispatched with [`run!`].
pub mod bulk;
pub mod dialect;
mod migrate;
pub mod schema;
pub mod signal;

use diesel::{ConnectionError, SqliteConnection};
use diesel_async::{
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod},
    sync_connection_wrapper::SyncConnectionWrapper,
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
};
use std::{future::Future, path::PathBuf, pin::Pin};

pub use migrate::run_migrations;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
type PgManager = AsyncDieselConnectionManager<AsyncPgConnection>;
type SqliteManager = AsyncDieselConnectionManager<SqliteConn>;

/// A pool of connections to one of the two backends.
#[derive(Clone)]
pub enum Pool {
    /// The pool, and its URL (for the scheduler's own listening connection).
    Pg(bb8::Pool<PgManager>, std::sync::Arc<str>),
    Sqlite(bb8::Pool<SqliteManager>),
}

/// A connection checked out of the pool; [`PooledConn::conn`] lends it out as a [`Conn`].
// One per checked-out connection, never collected: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum PooledConn {
    Pg(bb8::PooledConnection<'static, PgManager>),
    Sqlite(bb8::PooledConnection<'static, SqliteManager>),
}

/// A borrowed connection of either backend. Domain functions take `&mut Conn` so they work the
/// same inside or outside a transaction.
pub enum Conn<'a> {
    Pg(&'a mut AsyncPgConnection),
    Sqlite(&'a mut SqliteConn),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("database pool: {0}")]
    Pool(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
}

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Postgres(String),
    Sqlite(PathBuf),
}

impl Target {
    /// `postgres://…` / `postgresql://…`, `sqlite://PATH`, `sqlite:PATH` or a plain path.
    pub fn parse(url: &str) -> Target {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Target::Postgres(url.to_string());
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        Target::Sqlite(PathBuf::from(path))
    }
}

/// Every SQLite connection: WAL so readers never wait for the writer, foreign keys enforced,
/// and a busy timeout so a second writer waits instead of failing. Reads go through a memory
/// map (no read syscall per page: the availability query reads thousands of index rows).
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
     PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456;";

impl Pool {
    pub async fn connect(url: &str) -> Result<Pool, DbError> {
        Self::connect_sized(url, 10).await
    }

    pub async fn connect_sized(url: &str, max_size: u32) -> Result<Pool, DbError> {
        Self::connect_with(url, max_size, std::time::Duration::from_secs(10)).await
    }

    /// `wait`: how long a request waits for a free or new connection before it fails.
    pub async fn connect_with(url: &str, max_size: u32, wait: std::time::Duration) -> Result<Pool, DbError> {
        match Target::parse(url) {
            Target::Postgres(url) => {
                // Fast: a pooled connection is not asked `SELECT 1` before every use (a round
                // trip per checkout, 3 per sync): one the server closed is known closed without
                // asking, and is replaced.
                let mut config = ManagerConfig::default();
                config.recycling_method = RecyclingMethod::Fast;
                let manager = PgManager::new_with_config(url.clone(), config);
                let pool =
                    bb8::Pool::builder().max_size(max_size).connection_timeout(wait).build(manager).await.map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(Pool::Pg(pool, url.into()))
            }
            Target::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Connect(format!("cannot create {}: {e}", dir.display())))?;
                }
                let mut config = ManagerConfig::default();
                config.custom_setup = Box::new(|url| Box::pin(sqlite_setup(url.to_string())));
                let manager = SqliteManager::new_with_config(path.to_string_lossy().to_string(), config);
                let pool =
                    bb8::Pool::builder().max_size(max_size).connection_timeout(wait).build(manager).await.map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(Pool::Sqlite(pool))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Pool::Pg(..) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub async fn get(&self) -> Result<PooledConn, DbError> {
        match self {
            Pool::Pg(p, _) => p.get_owned().await.map(PooledConn::Pg),
            Pool::Sqlite(p) => p.get_owned().await.map(PooledConn::Sqlite),
        }
        .map_err(|e| DbError::Pool(e.to_string()))
    }

    /// `SELECT 1`: is the database reachable?
    pub async fn ping(&self) -> Result<(), DbError> {
        let mut pooled = self.get().await?;
        match pooled.conn() {
            Conn::Pg(c) => c.batch_execute("SELECT 1").await?,
            Conn::Sqlite(c) => c.batch_execute("SELECT 1").await?,
        }
        Ok(())
    }
}

async fn sqlite_setup(url: String) -> Result<SqliteConn, ConnectionError> {
    let mut conn = SqliteConn::establish(&url).await?;
    conn.batch_execute(SQLITE_SETUP).await.map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

impl PooledConn {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Pg(c) => Conn::Pg(c),
            PooledConn::Sqlite(c) => Conn::Sqlite(c),
        }
    }
}

pub type BoxFuture<'r, T> = Pin<Box<dyn Future<Output = T> + Send + 'r>>;

impl Conn<'_> {
    /// Runs `f` in one write transaction: plain `BEGIN` on PostgreSQL, `BEGIN IMMEDIATE` on
    /// SQLite (a deferred transaction that reads then writes fails at once when another writer
    /// holds the lock; an immediate one waits its turn). Rolled back when `f` fails.
    pub async fn write_tx<R, E, F>(&mut self, f: F) -> Result<R, E>
    where
        F: for<'r> FnOnce(Conn<'r>) -> BoxFuture<'r, Result<R, E>> + Send,
        E: From<diesel::result::Error> + Send,
        R: Send,
    {
        match self {
            Conn::Pg(c) => c.transaction(async move |c| f(Conn::Pg(c)).await).await,
            Conn::Sqlite(c) => c.immediate_transaction(async move |c| f(Conn::Sqlite(c)).await).await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Conn::Pg(_) => Backend::Postgres,
            Conn::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Runs one query expression on whichever backend `conn` is. Inside, `$c` is the concrete
/// connection and `Db` the backend type (for `into_boxed::<Db>()`).
#[macro_export]
macro_rules! run {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::Conn::Pg(inner) => {
                #[allow(unused)]
                type Db = ::diesel::pg::Pg;
                let $c: &mut ::diesel_async::AsyncPgConnection = &mut **inner;
                $body
            }
            $crate::db::Conn::Sqlite(inner) => {
                #[allow(unused)]
                type Db = ::diesel::sqlite::Sqlite;
                let $c: &mut $crate::db::SqliteConn = &mut **inner;
                $body
            }
        }
    };
}
