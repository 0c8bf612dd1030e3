//! Who hears of each request an adapter makes (the server's metrics): set once at start; until
//! then requests go unrecorded.
use std::sync::OnceLock;
use std::time::Duration;

/// `(provider, HTTP status or None for no answer, how long it took)`.
pub type Observer = fn(&str, Option<u16>, Duration);

static OBSERVER: OnceLock<Observer> = OnceLock::new();

/// Sets the observer; a second call keeps the first.
pub fn set(observer: Observer) {
    let _ = OBSERVER.set(observer);
}

pub(crate) fn request(provider: &str, status: Option<u16>, took: Duration) {
    if let Some(o) = OBSERVER.get() {
        o(provider, status, took);
    }
}
