//! The booking side: working hours and rules, teams, when members can meet, bookings, and their copies in members' calendars (the push queue, merges and conflicts).
pub mod availability;
pub mod bookings;
pub mod conflicts;
pub mod hours;
pub mod merge;
pub mod push_queue;
pub mod slots;
pub mod teams;
pub mod working_hours;
