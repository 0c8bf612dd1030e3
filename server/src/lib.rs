//! Everything calsync runs on the server without a UI: configuration, the database,
//! the domain rules and the session store. The web app (`app`) calls into this crate.
// The provider side is its own crate (ARCHITECTURE.md); its modules keep their old paths here.
pub use providers;
pub use providers::{busy, events, ical};

pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod sessions;
pub mod sync;
