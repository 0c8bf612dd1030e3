//! The iCal feed adapter: a read-only calendar behind a URL.
use std::sync::Arc;

use chrono_tz::Tz;

use super::fetch::{FeedClient, Fetched, Validators};
use super::{Cursor, Fetch, Outcome, Provider, ProviderError, Window};
use crate::events::{Fingerprint, Snapshot};
use crate::ical;

pub struct IcalFeed {
    pub client: Arc<FeedClient>,
    pub url: String,
    /// The owner's zone, for floating times and all-day dates.
    pub floating: Tz,
    pub max_instances: usize,
}

/// Parses and expands a feed body off the async runtime (it is CPU work).
pub async fn read_feed(body: String, window: Window, floating: Tz, max_instances: usize) -> Result<(Snapshot, Vec<String>), ProviderError> {
    tokio::task::spawn_blocking(move || {
        let mut calendar = ical::parse(body.as_bytes()).map_err(|e| {
            let at = e.line.map(|l| format!(" (line {l})")).unwrap_or_default();
            ProviderError(format!("The feed could not be read: {}{at}. Check that the URL points to an iCalendar (.ics) feed.", e.message))
        })?;
        let opts = ical::Options { from: window.from, to: window.to, floating, max_instances };
        let expanded = ical::expand(&mut calendar, opts);
        let warnings = expanded.warnings.iter().map(ToString::to_string).collect();
        Ok((Snapshot { series: expanded.series, instances: expanded.instances }, warnings))
    })
    .await
    .map_err(|e| ProviderError(format!("Reading the feed failed unexpectedly ({e}).")))?
}

#[async_trait::async_trait]
impl Provider for IcalFeed {
    async fn fetch(&self, window: Window, cursor: &Cursor) -> Result<Fetch, ProviderError> {
        // Without the last body a 304 could not be expanded, so only ask conditionally with it.
        let validators = match cursor.body {
            Some(_) => Validators { etag: cursor.etag.clone(), last_modified: cursor.last_modified.clone() },
            None => Validators::default(),
        };
        let same_window = cursor.window == Some(window);
        match self.client.get(&self.url, &validators).await.map_err(|e| ProviderError(e.to_string()))? {
            Fetched::NotModified => {
                if same_window {
                    return Ok(Fetch { outcome: Outcome::Unchanged, cursor: cursor.clone(), warnings: Vec::new() });
                }
                let body = cursor.body.clone().unwrap_or_default();
                let (snapshot, warnings) = read_feed(body, window, self.floating, self.max_instances).await?;
                let cursor = Cursor { window: Some(window), ..cursor.clone() };
                Ok(Fetch { outcome: Outcome::Changed(snapshot), cursor, warnings })
            }
            Fetched::Body { bytes, validators, .. } => {
                let mut hash = Fingerprint::new();
                hash.add(&bytes);
                let content_hash = Some(hash.hex());
                let body = ical::lines::decode(&bytes).text.into_owned();
                drop(bytes);
                let unchanged = same_window && content_hash == cursor.content_hash && cursor.body.is_some();
                let next = |body: String| Cursor {
                    etag: validators.etag.clone(),
                    last_modified: validators.last_modified.clone(),
                    content_hash: content_hash.clone(),
                    body: Some(body),
                    window: Some(window),
                };
                if unchanged {
                    return Ok(Fetch { outcome: Outcome::Unchanged, cursor: next(body), warnings: Vec::new() });
                }
                let (snapshot, warnings) = read_feed(body.clone(), window, self.floating, self.max_instances).await?;
                Ok(Fetch { outcome: Outcome::Changed(snapshot), cursor: next(body), warnings })
            }
        }
    }
}
