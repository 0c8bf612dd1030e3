//! "A calendar is due sooner": wakes the schedulers that sleep until the next calendar falls
//! due. On PostgreSQL a `NOTIFY`, sent when the change commits, reaches every process's
//! scheduler (each `LISTEN`s on its own connection); SQLite is one machine's file, so the
//! schedulers of this process are woken directly.
use std::sync::{Arc, Mutex, Weak};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use tokio::sync::Notify;

use super::{Conn, DbError, Pool};

/// The PostgreSQL channel schedulers listen on.
pub const CHANNEL: &str = "calsync_due";

/// This process's schedulers (weak: a stopped engine drops out by itself).
static LOCAL: Mutex<Vec<Weak<Notify>>> = Mutex::new(Vec::new());

/// Lets `wake` hear of calendars falling due sooner in this process.
pub fn register(wake: &Arc<Notify>) {
    let mut all = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(wake));
}

fn wake_local() {
    let all = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    for wake in all.iter().filter_map(Weak::upgrade) {
        wake.notify_one();
    }
}

/// Tells the schedulers a calendar may be due sooner than they think. Inside a transaction the
/// PostgreSQL notification is delivered at commit (not at all on rollback).
pub async fn due_sooner(conn: &mut Conn<'_>) -> Result<(), DbError> {
    match conn {
        Conn::Pg(c) => {
            diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(&mut **c).await?;
        }
        // The waking scheduler's claim opens a write transaction: it waits for this one to
        // commit, so it sees the calendar.
        Conn::Sqlite(_) => wake_local(),
    }
    Ok(())
}

/// Until `stop` resolves, wakes `wake` for every notification on [`CHANNEL`]: a connection of
/// its own (not the pool's), opened again after a failure. Nothing to do on SQLite.
pub async fn listen(pool: &Pool, wake: Arc<Notify>, stop: impl std::future::Future<Output = ()>) {
    let Pool::Pg(_, url) = pool else { return };
    let url = url.clone();
    let forward = async move {
        loop {
            match heard(&url, &wake).await {
                Ok(()) => tracing::warn!("the scheduler's notification connection closed; opening it again"),
                Err(e) => tracing::warn!(error = %e, "the scheduler cannot listen for due calendars; it looks at its tick meanwhile"),
            }
            // A missed notification costs at most a tick; look again in case one was missed.
            wake.notify_one();
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    };
    tokio::select! {
        _ = forward => {}
        _ = stop => {}
    }
}

async fn heard(url: &str, wake: &Notify) -> Result<(), DbError> {
    let mut conn = AsyncPgConnection::establish(url).await.map_err(|e| DbError::Connect(e.to_string()))?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    let mut stream = std::pin::pin!(conn.notifications_stream());
    while let Some(n) = stream.next().await {
        n?;
        wake.notify_one();
    }
    Ok(())
}
