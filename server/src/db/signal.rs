//! Wake-ups between processes: "a calendar is due sooner" (the schedulers sleep until the next
//! calendar falls due) and "a booking's copy waits to be written" (the pushers). On PostgreSQL
//! a `NOTIFY`, sent when the change commits, reaches every process (each `LISTEN`s on a
//! connection of its own); SQLite is one machine's file, so this process's listeners are woken
//! directly.
use std::sync::{Arc, Mutex, Weak};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use tokio::sync::Notify;

use super::{Conn, DbError, Pool};

/// One kind of wake-up: its PostgreSQL channel, and this process's listeners (weak: a stopped
/// engine drops out by itself).
pub struct Signal {
    channel: &'static str,
    local: Mutex<Vec<Weak<Notify>>>,
}

/// A calendar was added, re-activated or made due sooner.
pub static DUE: Signal = Signal::new("calsync_due");
/// A booking's copy was marked pending (a booking changed, a conflict was resolved).
pub static COPIES: Signal = Signal::new("calsync_copies");

impl Signal {
    const fn new(channel: &'static str) -> Signal {
        Signal { channel, local: Mutex::new(Vec::new()) }
    }

    /// Lets `wake` hear of this signal sent in this process.
    pub fn register(&self, wake: &Arc<Notify>) {
        let mut all = self.local.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(wake));
    }

    fn wake_local(&self) {
        let all = self.local.lock().unwrap_or_else(|e| e.into_inner());
        for wake in all.iter().filter_map(Weak::upgrade) {
            wake.notify_one();
        }
    }

    /// Sends the signal. Inside a transaction the PostgreSQL notification is delivered at
    /// commit (not at all on rollback); on SQLite the woken side's first step is a write
    /// transaction, which waits for this one to commit, so it sees the change.
    pub async fn send(&self, conn: &mut Conn<'_>) -> Result<(), DbError> {
        match conn {
            Conn::Pg(c) => {
                diesel::sql_query(format!("NOTIFY {}", self.channel)).execute(&mut **c).await?;
            }
            Conn::Sqlite(_) => self.wake_local(),
        }
        Ok(())
    }
}

/// Until `stop` resolves, wakes `wake` for every notification on the signal's channel: a
/// connection of its own (not the pool's), opened again after a failure. Nothing to do on
/// SQLite.
pub async fn listen(pool: &Pool, signal: &'static Signal, wake: Arc<Notify>, stop: impl std::future::Future<Output = ()>) {
    let Pool::Pg(_, url) = pool else { return };
    let url = url.clone();
    let forward = async move {
        loop {
            match heard(&url, signal.channel, &wake).await {
                Ok(()) => tracing::warn!(channel = signal.channel, "the notification connection closed; opening it again"),
                Err(e) => tracing::warn!(channel = signal.channel, error = %e, "cannot listen for notifications; looking at the tick meanwhile"),
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

async fn heard(url: &str, channel: &str, wake: &Notify) -> Result<(), DbError> {
    let mut conn = AsyncPgConnection::establish(url).await.map_err(|e| DbError::Connect(e.to_string()))?;
    conn.batch_execute(&format!("LISTEN {channel}")).await?;
    let mut stream = std::pin::pin!(conn.notifications_stream());
    while let Some(n) = stream.next().await {
        n?;
        wake.notify_one();
    }
    Ok(())
}
