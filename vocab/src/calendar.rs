//! The closed vocabularies of the MM Calendar Integration record, with the spec's spellings.
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IntegrationType {
    #[serde(rename = "Google Calendar")]
    Google,
    #[serde(rename = "Outlook Calendar")]
    Outlook,
    #[serde(rename = "iCal")]
    Ical,
}

impl IntegrationType {
    pub const ALL: [IntegrationType; 3] = [IntegrationType::Google, IntegrationType::Outlook, IntegrationType::Ical];

    pub const fn as_str(self) -> &'static str {
        match self {
            IntegrationType::Google => "Google Calendar",
            IntegrationType::Outlook => "Outlook Calendar",
            IntegrationType::Ical => "iCal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s.trim())
    }

    /// Google and Outlook connect with OAuth and can be written to; iCal is a read-only feed.
    pub fn is_oauth(self) -> bool {
        !matches!(self, IntegrationType::Ical)
    }

    /// The spec's default direction, except iCal, which is always read-only.
    pub fn default_direction(self) -> SyncDirection {
        if self.is_oauth() {
            SyncDirection::TwoWay
        } else {
            SyncDirection::OneWay
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncDirection {
    #[serde(rename = "One-way (Read Only)")]
    OneWay,
    #[serde(rename = "Two-way (Read & Write)")]
    TwoWay,
}

impl SyncDirection {
    pub const ALL: [SyncDirection; 2] = [SyncDirection::OneWay, SyncDirection::TwoWay];

    pub const fn as_str(self) -> &'static str {
        match self {
            SyncDirection::OneWay => "One-way (Read Only)",
            SyncDirection::TwoWay => "Two-way (Read & Write)",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s.trim())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncStatus {
    Pending,
    Success,
    Failed,
    #[serde(rename = "In Progress")]
    InProgress,
}

impl SyncStatus {
    pub const ALL: [SyncStatus; 4] = [SyncStatus::Pending, SyncStatus::Success, SyncStatus::Failed, SyncStatus::InProgress];

    pub const fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Pending => "Pending",
            SyncStatus::Success => "Success",
            SyncStatus::Failed => "Failed",
            SyncStatus::InProgress => "In Progress",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s.trim())
    }
}

/// "When this calendar is out of date" (failed, stale or never synced), what availability does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StalePolicy {
    /// Its last known busy time counts as current.
    #[default]
    #[serde(rename = "fail-open")]
    FailOpen,
    /// The whole asked range is busy: never double-booked, at the cost of free time.
    #[serde(rename = "fail-closed")]
    FailClosed,
}

impl StalePolicy {
    pub const ALL: [StalePolicy; 2] = [StalePolicy::FailOpen, StalePolicy::FailClosed];

    pub const fn as_str(self) -> &'static str {
        match self {
            StalePolicy::FailOpen => "fail-open",
            StalePolicy::FailClosed => "fail-closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

/// How calsync follows a change made in the calendar to a booking's copy (two-way sync).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConflictPolicy {
    /// Each side's changes are taken; a field changed on both sides goes to the later change.
    #[default]
    #[serde(rename = "last-write-wins")]
    LastWriteWins,
    /// calsync's booking stands: the copy is restored.
    #[serde(rename = "prefer-calsync")]
    PreferCalsync,
    /// The calendar's copy stands: the booking is moved, changed or cancelled to match.
    #[serde(rename = "prefer-calendar")]
    PreferCalendar,
    /// Nothing changes until someone decides on the Conflicts page.
    #[serde(rename = "ask")]
    Ask,
}

impl ConflictPolicy {
    pub const ALL: [ConflictPolicy; 4] = [ConflictPolicy::LastWriteWins, ConflictPolicy::PreferCalsync, ConflictPolicy::PreferCalendar, ConflictPolicy::Ask];

    pub const fn as_str(self) -> &'static str {
        match self {
            ConflictPolicy::LastWriteWins => "last-write-wins",
            ConflictPolicy::PreferCalsync => "prefer-calsync",
            ConflictPolicy::PreferCalendar => "prefer-calendar",
            ConflictPolicy::Ask => "ask",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}
