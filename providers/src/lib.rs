//! calsync's provider side: the event model ([`events`]), what counts as busy ([`busy`]), the
//! iCalendar reader ([`ical`]) and the adapters. Each adapter fetches one external calendar's
//! events in a window and answers in the event model. They know nothing of the database, the
//! domain or the metrics: what they need from the previous run comes in as their own opaque
//! [`Cursor`], the engine stores the one they return (DESIGN.md "Providers"), and requests are
//! reported to whoever [`observe`] was given. ARCHITECTURE.md draws the floors.
pub mod busy;
pub mod events;
pub mod ical;
pub mod observe;
pub mod secret;

pub mod account;
pub mod error;
pub mod fetch;
pub mod google;
pub mod google_events;
pub mod google_write;
pub mod graph_recurrence;
pub mod guard;
pub mod http;
pub mod ical_feed;
pub mod oauth;
pub mod outlook;
pub mod outlook_write;
pub mod pace;
pub mod write;

use chrono::{DateTime, Utc};

use crate::events::{Instance, Series, Snapshot, When};
use crate::secret::Secret;
pub use error::{ErrorKind, ProviderError};

/// The sync window, [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// The window as Unix seconds, the form cursors keep it in (a cursor made for another
    /// window is not used for this one).
    pub fn key(self) -> (i64, i64) {
        (self.from.timestamp(), self.to.timestamp())
    }
}

/// Now, as Unix seconds (when a cursor's full sync was).
pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Is a full sync made at `full_at` (Unix seconds) a repair interval old?
pub(crate) fn repair_due(full_at: i64, every: std::time::Duration) -> bool {
    now_secs() - full_at >= every.as_secs() as i64
}

/// What an adapter keeps between runs to fetch incrementally, in a form only it reads (a
/// feed's validators and body, a Google sync token, a Graph delta link). `None`: no previous
/// run, or the engine started over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub Option<String>);

/// One change to a calendar since the cursor's run.
// A change is made, applied and dropped one at a time: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Change {
    /// A series added or changed, with every instance it has in the window now (they replace
    /// the stored ones of its uid).
    Series { series: Series, instances: Vec<Instance> },
    /// A series gone, with its instances.
    SeriesRemoved { uid: String },
    /// One occurrence added or changed (its series is stored or comes in the same answer).
    Instance(Instance),
    /// One occurrence gone.
    InstanceRemoved { uid: String, recurrence_id: Option<When> },
}

pub enum Outcome {
    /// Nothing changed since the cursor's run, and the window is the same.
    Unchanged,
    /// Everything the calendar has in the window now: what it does not mention is deleted.
    Snapshot(Snapshot),
    /// Only what changed: applied as it is, nothing else is touched.
    Changes(Vec<Change>),
    /// The cursor is no longer valid (Google 410, Graph `syncStateNotFound`): fetch again
    /// without one, which answers a snapshot.
    StartOver,
}

pub struct Fetch {
    pub outcome: Outcome,
    pub cursor: Cursor,
    /// Things skipped or repaired while reading, for the run record.
    pub warnings: Vec<String>,
    /// A full fetch made although an incremental one was possible: the periodic repair of
    /// whatever incremental syncs missed (the run record says how much it fixed).
    pub repair: bool,
}

/// The decrypted secrets of a calendar record, for the adapters that need them.
#[derive(Debug, Default)]
pub struct Secrets {
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    /// The access token was checked or refreshed just now (the record's expiry may be older).
    pub current: bool,
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn fetch(&self, window: Window, cursor: &Cursor) -> Result<Fetch, ProviderError>;

    /// Creates or updates one copy (two-way push); read-only calendars refuse.
    async fn put(&self, _put: &write::Put<'_>) -> Result<write::Written, ProviderError> {
        Err(write::read_only())
    }

    /// Creates or updates several copies; answers one result per put, in order. Providers
    /// that can group requests (Graph's `$batch`) do.
    async fn put_many(&self, puts: &[write::Put<'_>]) -> Vec<Result<write::Written, ProviderError>> {
        let mut out = Vec::with_capacity(puts.len());
        for put in puts {
            out.push(self.put(put).await);
        }
        out
    }

    /// Whether a copy is still in the calendar (not deleted or cancelled there): asked before a
    /// copy missing from a sync counts as deleted, since a windowed provider also leaves out
    /// what moved out of the window.
    async fn exists(&self, _external_id: &str) -> Result<bool, ProviderError> {
        Err(write::read_only())
    }

    /// Where the occurrence of series `master` that started at `original` is now, for a
    /// provider that lists occurrences only in its window (one missing from it may have moved
    /// out); `None` when it was deleted.
    async fn occurrence(&self, _master: &str, _original: chrono::DateTime<chrono::Utc>) -> Result<Option<write::Placed>, ProviderError> {
        Err(write::read_only())
    }

    /// When the calendar's copy was last changed (for last-write-wins); `None` when the
    /// provider does not say.
    async fn updated(&self, _external_id: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
        Ok(None)
    }

    /// Deletes one copy; one that is gone already counts as deleted.
    async fn remove(&self, _external_id: &str, _notify: bool) -> Result<(), ProviderError> {
        Err(write::read_only())
    }
}
