//! calsync's closed vocabularies: one enum each, with the spellings the spec, the database and
//! the REST API use. The server and the pages (in the browser's wasm build too) share them, so
//! both match values, not strings. Nothing here but the words and their order.
mod bookings;
mod calendar;
mod health;

pub use bookings::{BookingStatus, ConflictState, CopyState};
pub use calendar::{ConflictPolicy, IntegrationType, StalePolicy, SyncDirection, SyncStatus};
pub use health::HealthKind;
