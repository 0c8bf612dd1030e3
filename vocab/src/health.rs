//! Why a calendar needs attention (Admin → Sync health), in the order the kinds are tried.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HealthKind {
    Failed,
    Expiring,
    #[serde(rename = "Backing off")]
    BackingOff,
    /// A booking's copy in the calendar failed, or has waited more than an hour to be written.
    #[serde(rename = "Write failing")]
    WriteFailing,
    /// Conflicts of bookings in the calendar wait for a person's decision for more than a day.
    #[serde(rename = "Conflicts waiting")]
    ConflictsWaiting,
    Stale,
    #[serde(rename = "Never synced")]
    NeverSynced,
}

impl HealthKind {
    pub const ALL: [HealthKind; 7] = [
        HealthKind::Failed,
        HealthKind::Expiring,
        HealthKind::BackingOff,
        HealthKind::WriteFailing,
        HealthKind::ConflictsWaiting,
        HealthKind::Stale,
        HealthKind::NeverSynced,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            HealthKind::Failed => "Failed",
            HealthKind::Expiring => "Expiring",
            HealthKind::BackingOff => "Backing off",
            HealthKind::WriteFailing => "Write failing",
            HealthKind::ConflictsWaiting => "Conflicts waiting",
            HealthKind::Stale => "Stale",
            HealthKind::NeverSynced => "Never synced",
        }
    }

    pub fn parse(s: &str) -> Option<HealthKind> {
        HealthKind::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Availability cannot trust this calendar's busy time. (A booking not written into it, or
    /// a conflict about one, leaves the booking's own busy time counted: neither degrades it.)
    pub fn degrades_availability(self) -> bool {
        matches!(self, HealthKind::Failed | HealthKind::Stale | HealthKind::NeverSynced)
    }
}
