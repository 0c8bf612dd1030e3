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
