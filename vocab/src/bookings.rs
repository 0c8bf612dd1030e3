//! A booking's state, and the state of its copy in a member's calendar (the push queue).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

impl BookingStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<BookingStatus> {
        [BookingStatus::Confirmed, BookingStatus::Cancelled].into_iter().find(|v| v.as_str() == s.trim())
    }
}

/// Where a booking's copy stands: waiting to be written, written as the booking is now, or
/// failed (tried again later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyState {
    Pending,
    Written,
    Failed,
}

impl CopyState {
    pub const fn as_str(self) -> &'static str {
        match self {
            CopyState::Pending => "pending",
            CopyState::Written => "written",
            CopyState::Failed => "failed",
        }
    }

    /// A stored state; anything else reads as pending (it will be written).
    pub fn parse(s: &str) -> CopyState {
        [CopyState::Written, CopyState::Failed].into_iter().find(|v| v.as_str() == s.trim()).unwrap_or(CopyState::Pending)
    }
}

/// Where a conflict between a booking and its copy stands: open (nothing changed yet, the ask
/// policy), decided (a policy chose; a person may still override), resolved (a person chose).
/// Ordered as a list shows them: open first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConflictState {
    Open,
    Decided,
    Resolved,
}

impl ConflictState {
    pub const ALL: [ConflictState; 3] = [ConflictState::Open, ConflictState::Decided, ConflictState::Resolved];

    pub const fn as_str(self) -> &'static str {
        match self {
            ConflictState::Open => "open",
            ConflictState::Decided => "decided",
            ConflictState::Resolved => "resolved",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            ConflictState::Open => "Open",
            ConflictState::Decided => "Decided",
            ConflictState::Resolved => "Resolved",
        }
    }

    pub fn parse(s: &str) -> Option<ConflictState> {
        ConflictState::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }
}
