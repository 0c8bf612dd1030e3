//! Everything calsync runs on the server without a UI: configuration, the database,
//! the domain rules and the session store. The web app (`app`) calls into this crate.
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod busy;
pub mod events;
pub mod ical;
pub mod keys;
pub mod metrics;
pub mod password;
pub mod providers;
pub mod sandbox;
pub mod sessions;
pub mod sync;
pub mod testing;
