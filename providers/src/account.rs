//! What connecting learns of an account, whatever the provider: its calendars, and the push
//! channels opened on one of them (Google's watch channel, Graph's subscription).
use serde::{Deserialize, Serialize};

/// One calendar of the account (a Google calendarList entry, a Graph calendar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEntry {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
    pub primary: bool,
    /// owner | writer | reader | freeBusyReader
    pub access_role: String,
}

impl CalendarEntry {
    pub fn writable(&self) -> bool {
        matches!(self.access_role.as_str(), "owner" | "writer")
    }
}

/// A push channel the provider opened: it notifies calsync's webhook until `expires_at`.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    /// Google's `resourceId`, needed to stop the channel; Graph has none.
    pub resource_id: Option<String>,
    pub expires_at: chrono::NaiveDateTime,
}
