//! The external calendars: provider accounts, the calendar records and their rules, the events stored from them, push channels, and export links.
pub mod accounts;
pub mod busy_rules;
pub mod exports;
pub mod integrations;
pub mod stored_events;
pub mod webhooks;
