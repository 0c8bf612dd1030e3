//! Keeping syncs running and visible: sync health, the sync schedule, and timelines of who changed what.
pub mod health;
pub mod history;
pub mod schedule;
