//! The iCal feed adapter: a read-only calendar behind a URL. A feed has no change list, so a
//! changed feed is always a full snapshot; its cursor keeps the validators for a conditional
//! GET and the last body, so a 304 can still be expanded for a window that moved.
use std::sync::Arc;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::fetch::{FeedClient, Fetched, Validators};
use super::{Cursor, ErrorKind, Fetch, Outcome, Provider, ProviderError, Window};
use crate::busy::Owner;
use crate::events::{Fingerprint, Snapshot};
use crate::ical;

pub struct IcalFeed {
    pub client: Arc<FeedClient>,
    pub url: String,
    /// The owner's zone, for floating times and all-day dates.
    pub floating: Tz,
    pub limits: ReadLimits,
    /// Whose calendar it is, for invitations' answers.
    pub owner: Owner,
}

/// What reading one feed may cost.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub max_instances: usize,
    /// Occurrences walked in all (before the window too).
    pub max_steps: usize,
    /// Parsing and expanding together.
    pub deadline: std::time::Duration,
    /// The largest body kept in the cursor for re-expanding after a 304 (bigger ones are
    /// fetched again when the window moves, once a day), so big feeds do not fill the database.
    pub cursor_body_max: usize,
}

/// What a feed remembers between runs (the first line of its cursor; the body follows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FeedState {
    etag: Option<String>,
    last_modified: Option<String>,
    /// A fingerprint of the last body, so an unchanged 200 is recognised.
    content_hash: Option<String>,
    /// The window the stored events were expanded for (Unix seconds).
    window: Option<(i64, i64)>,
    /// Whether the body follows (a bigger one is not kept: a moved window fetches it again).
    body_kept: bool,
}

/// The cursor's text: the state as one JSON line, then the body as it came (a JSON string
/// would escape every line break of a body of megabytes).
fn encode(state: &FeedState, body: &str) -> Cursor {
    let mut text = serde_json::to_string(state).unwrap_or_default();
    text.reserve(body.len() + 1);
    text.push('\n');
    text.push_str(body);
    Cursor(Some(text))
}

/// The state and body of a cursor; an unreadable cursor is no cursor (the feed is fetched in
/// full).
fn decode(cursor: &Cursor) -> Option<(FeedState, &str)> {
    let (head, body) = cursor.0.as_deref()?.split_once('\n')?;
    Some((serde_json::from_str(head).ok()?, body))
}

fn too_complex(limits: ReadLimits) -> ProviderError {
    ProviderError::new(
        ErrorKind::Malformed,
        format!(
            "This feed is too complex to read within {} s (its nesting or recurrence rules would take longer). Ask the feed's owner to simplify it, or your administrator to raise CALSYNC_SYNC_READ_SECONDS.",
            limits.deadline.as_secs()
        ),
    )
}

/// Parses and expands a feed body off the async runtime (it is CPU work), within `limits`.
pub async fn read_feed(body: String, window: Window, floating: Tz, limits: ReadLimits, owner: Owner) -> Result<(Snapshot, Vec<String>), ProviderError> {
    off_runtime(move || {
        let deadline = std::time::Instant::now() + limits.deadline;
        let calendar = ical::parse_until(body.as_bytes(), Some(deadline)).map_err(|e| {
            if e.message == ical::MSG_TOO_SLOW {
                return too_complex(limits);
            }
            if e.cut_off {
                // Most likely the transfer, so worth retrying soon.
                return ProviderError::new(ErrorKind::Server, format!("{} The events from the last complete sync are kept.", e.message));
            }
            let at = e.line.map(|l| format!(" (line {l})")).unwrap_or_default();
            ProviderError::new(
                ErrorKind::Malformed,
                format!("The feed could not be read: {}{at}. Check that the URL points to an iCalendar (.ics) feed.", e.message),
            )
        })?;
        expand_until(calendar, window, floating, limits, &owner, deadline)
    })
    .await
}

/// Expands events read already (a provider's, in the reader's form) off the async runtime,
/// within `limits`.
pub async fn expand_calendar(
    calendar: ical::Calendar,
    window: Window,
    floating: Tz,
    limits: ReadLimits,
    owner: Owner,
) -> Result<(Snapshot, Vec<String>), ProviderError> {
    off_runtime(move || expand_until(calendar, window, floating, limits, &owner, std::time::Instant::now() + limits.deadline)).await
}

async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> Result<T, ProviderError> + Send + 'static) -> Result<T, ProviderError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ProviderError::new(ErrorKind::Malformed, format!("Reading the feed failed unexpectedly ({e}).")))?
}

fn expand_until(
    mut calendar: ical::Calendar,
    window: Window,
    floating: Tz,
    limits: ReadLimits,
    owner: &Owner,
    deadline: std::time::Instant,
) -> Result<(Snapshot, Vec<String>), ProviderError> {
    calendar.set_owner(owner);
    let opts = ical::Options { from: window.from, to: window.to, floating, max_instances: limits.max_instances };
    let budget = ical::Budget::new(limits.max_steps, Some(deadline));
    let expanded = ical::expand_within(&mut calendar, opts, &budget);
    if budget.timed_out() {
        return Err(too_complex(limits));
    }
    let warnings = expanded.warnings.iter().map(ToString::to_string).collect();
    Ok((Snapshot { series: expanded.series, instances: expanded.instances }, warnings))
}

impl IcalFeed {
    /// A body that came: unchanged when it hashes like the last one in the same window, else
    /// a snapshot. The body is kept in the cursor only up to `cursor_body_max` bytes.
    async fn read_body(&self, bytes: Vec<u8>, validators: Validators, previous: Option<&FeedState>, window: Window) -> Result<Fetch, ProviderError> {
        let mut hash = Fingerprint::new();
        hash.add(&bytes);
        let content_hash = Some(hash.hex());
        let body = ical::lines::decode(&bytes).text.into_owned();
        drop(bytes);
        let same_window = previous.is_some_and(|p| p.window == Some(window.key()));
        let unchanged = same_window && previous.is_some_and(|p| p.content_hash == content_hash);
        let keep = body.len() <= self.limits.cursor_body_max;
        let state = FeedState { etag: validators.etag, last_modified: validators.last_modified, content_hash, window: Some(window.key()), body_kept: keep };
        let next = encode(&state, if keep { &body } else { "" });
        if unchanged {
            return Ok(Fetch { outcome: Outcome::Unchanged, cursor: next, warnings: Vec::new(), repair: false });
        }
        let (snapshot, warnings) = read_feed(body, window, self.floating, self.limits, self.owner.clone()).await?;
        Ok(Fetch { outcome: Outcome::Snapshot(snapshot), cursor: next, warnings, repair: false })
    }
}

#[async_trait::async_trait]
impl Provider for IcalFeed {
    async fn fetch(&self, window: Window, cursor: &Cursor) -> Result<Fetch, ProviderError> {
        let previous = decode(cursor);
        let validators = match &previous {
            Some((state, _)) => Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() },
            None => Validators::default(),
        };
        let same_window = previous.as_ref().is_some_and(|(state, _)| state.window == Some(window.key()));
        let got = self.client.get(&self.url, &validators).await.map_err(|e| e.into_provider_error())?;
        match (got, previous) {
            (Fetched::NotModified, Some(_)) if same_window => {
                Ok(Fetch { outcome: Outcome::Unchanged, cursor: cursor.clone(), warnings: Vec::new(), repair: false })
            }
            // The window moved and the last body is kept: expand it again.
            (Fetched::NotModified, Some((state, body))) if state.body_kept => {
                let (snapshot, warnings) = read_feed(body.to_owned(), window, self.floating, self.limits, self.owner.clone()).await?;
                let state = FeedState { window: Some(window.key()), ..state };
                Ok(Fetch { outcome: Outcome::Snapshot(snapshot), cursor: encode(&state, body), warnings, repair: false })
            }
            // The window moved and the body was too big to keep: fetch it in full once.
            (Fetched::NotModified, previous) => match self.client.get(&self.url, &Validators::default()).await.map_err(|e| e.into_provider_error())? {
                Fetched::Body { bytes, validators, .. } => self.read_body(bytes, validators, previous.as_ref().map(|(s, _)| s), window).await,
                Fetched::NotModified => {
                    Err(ProviderError::new(ErrorKind::Malformed, "The feed server answered 304 Not Modified to a request that had nothing to compare with."))
                }
            },
            (Fetched::Body { bytes, validators, .. }, previous) => self.read_body(bytes, validators, previous.as_ref().map(|(s, _)| s), window).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_reads_as_none() {
        let state = FeedState { etag: Some("\"v1\"".into()), last_modified: None, content_hash: Some("ab".into()), window: Some((1, 2)), body_kept: true };
        let body = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
        let cursor = encode(&state, body);
        assert_eq!(decode(&cursor), Some((state, body)));
        assert_eq!(decode(&Cursor(Some("a Google sync token".into()))), None);
        assert_eq!(decode(&Cursor(None)), None);
    }
}
