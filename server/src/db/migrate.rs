//! Embedded migrations for both dialects, applied at start and by `calsync migrate`.
use super::{DbError, Pool, Target};
use diesel::Connection;
use diesel_async::AsyncConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const PG: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// Applies every pending migration; returns the versions applied now.
/// Needs the multi-threaded tokio runtime (the PostgreSQL harness blocks in place).
pub async fn run_migrations(url: &str) -> Result<Vec<String>, DbError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    match Target::parse(url) {
        Target::Postgres(url) => {
            let conn = diesel_async::AsyncPgConnection::establish(&url).await.map_err(|e| DbError::Connect(e.to_string()))?;
            let mut harness = diesel_async::AsyncMigrationHarness::new(conn);
            let done = harness.run_pending_migrations(PG).map_err(err)?;
            Ok(done.iter().map(|v| v.to_string()).collect())
        }
        Target::Sqlite(path) => {
            // Make sure the file and its folder exist with the pool's settings first.
            Pool::connect_sized(url, 1).await?;
            tokio::task::spawn_blocking(move || {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy()).map_err(|e| DbError::Connect(e.to_string()))?;
                let done = conn.run_pending_migrations(SQLITE).map_err(err)?;
                Ok(done.iter().map(|v| v.to_string()).collect())
            })
            .await
            .map_err(|e| DbError::Migration(e.to_string()))?
        }
    }
}
