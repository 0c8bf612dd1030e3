//! Provider adapters: each fetches one external calendar's events in a window and answers in
//! the domain's own event type. They know nothing of the database: what they need from the
//! previous run comes in as a [`Cursor`], and the engine stores the one they return.
pub mod fetch;
pub mod guard;
pub mod ical_feed;

use chrono::{DateTime, Utc};

use crate::events::Snapshot;

/// The sync window, [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What an adapter keeps between runs to fetch incrementally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// A fingerprint of the last body, so an unchanged 200 is recognised.
    pub content_hash: Option<String>,
    /// The last body, so a 304 can be expanded again when the window moved.
    pub body: Option<String>,
    /// The window the stored events were expanded for.
    pub window: Option<Window>,
}

pub enum Outcome {
    /// Nothing changed since the cursor's run, and the window is the same.
    Unchanged,
    /// Everything the calendar has in the window now.
    Changed(Snapshot),
}

pub struct Fetch {
    pub outcome: Outcome,
    pub cursor: Cursor,
    /// Things skipped or repaired while reading, for the run record.
    pub warnings: Vec<String>,
}

/// A failed fetch, with a message for the user that says what happened and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn fetch(&self, window: Window, cursor: &Cursor) -> Result<Fetch, ProviderError>;
}
