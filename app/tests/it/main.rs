//! The app crate's integration tests, one binary (one link, one copy on disk) for all of them.
mod booking_flow;
mod bookings;
mod busy_rules;
mod cli;
mod common;
mod conflicts;
mod exports;
mod health;
mod http;
mod integrations_ui;
mod metrics;
mod providers;
mod rest;
mod sessions;
mod sync_api;
mod web;
