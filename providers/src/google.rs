//! Google Calendar v3. A full sync lists every event without a time range and with
//! `singleEvents=false` (masters, exceptions, cancelled exceptions: a sync token cannot be
//! combined with `timeMin`/`timeMax`), expands series with the project's own recurrence code,
//! and keeps `nextSyncToken`. An incremental sync lists what changed since the token, all
//! pages; a changed series is fetched whole by its `iCalUID` (master and exceptions) and
//! expanded again. 410 `fullSyncRequired` answers "start over". When the window moves (once a
//! day) the sync is a full one again, which doubles as the repair run.
use std::collections::BTreeMap;
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::account::{CalendarEntry, Channel};
use super::google_events::{to_calendar, GoogleEvent};
use super::http::{self, Api};
use super::ical_feed::{expand_calendar, ReadLimits};
use super::oauth::OAuthClient;
use super::{Change, Cursor, ErrorKind, Fetch, Outcome, Provider, ProviderError, Window};
use crate::events::Snapshot;
use crate::secret::Secret;

/// Where Google is and who calsync is there (configuration, so tests and `serve --sandbox`
/// point it at the sandbox).
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub auth: String,
    pub token: String,
    pub revoke: String,
    /// The `…/calendar/v3` base.
    pub api: String,
    /// `CALSYNC_GOOGLE_CLIENT_ID` / `_SECRET`: without them, "Connect Google Calendar" says
    /// what the administrator must set.
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            auth: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token: "https://oauth2.googleapis.com/token".into(),
            revoke: "https://oauth2.googleapis.com/revoke".into(),
            api: "https://www.googleapis.com/calendar/v3".into(),
            client_id: None,
            client_secret: None,
        }
    }
}

/// Reading events and listing calendars (calendarList needs `calendar.readonly`); writing
/// events (two-way) needs `calendar.events`.
pub const SCOPES: [&str; 2] = ["https://www.googleapis.com/auth/calendar.events", "https://www.googleapis.com/auth/calendar.readonly"];

impl Endpoints {
    /// The OAuth client, when calsync has one at Google.
    pub fn oauth(&self) -> Option<OAuthClient> {
        Some(OAuthClient {
            provider: "Google Calendar",
            auth_url: self.auth.clone(),
            token_url: self.token.clone(),
            revoke_url: Some(self.revoke.clone()),
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            // A refresh token comes back only with offline access, and again only on consent.
            extra: vec![("access_type", "offline"), ("prompt", "consent")],
        })
    }
}

/// The account's email: its primary calendar's id (no extra scope needed), with its calendars.
pub async fn account(api: &str, token: &Secret, timeout: Duration) -> Result<(String, Vec<CalendarEntry>), ProviderError> {
    let list = calendars(&http::client(timeout), api, token).await?;
    let email = list
        .iter()
        .find(|c| c.primary)
        .map(|c| c.id.clone())
        .ok_or_else(|| ProviderError::new(ErrorKind::Malformed, "Google Calendar did not say which account this is (no primary calendar)."))?;
    Ok((email, list))
}

/// Every calendar of the account behind `token` (all pages).
pub async fn calendars(client: &reqwest::Client, api: &str, token: &Secret) -> Result<Vec<CalendarEntry>, ProviderError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        id: String,
        #[serde(default)]
        summary: Option<String>,
        #[serde(default)]
        summary_override: Option<String>,
        #[serde(default)]
        background_color: Option<String>,
        #[serde(default)]
        primary: bool,
        #[serde(default)]
        access_role: String,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct List {
        #[serde(default)]
        items: Vec<Entry>,
        next_page_token: Option<String>,
    }
    let url = format!("{}/users/me/calendarList", api.trim_end_matches('/'));
    let mut out = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..100 {
        let mut query = vec![("maxResults", "250".to_string())];
        if let Some(p) = &page {
            query.push(("pageToken", p.clone()));
        }
        let list: List = API.once(client.get(&url).query(&query).bearer_auth(token.expose()), "calendar list").await?;
        out.extend(list.items.into_iter().map(|e| CalendarEntry {
            name: e.summary_override.or(e.summary).unwrap_or_else(|| e.id.clone()),
            id: e.id,
            color: e.background_color,
            primary: e.primary,
            access_role: e.access_role,
        }));
        match list.next_page_token {
            Some(p) => page = Some(p),
            None => return Ok(out),
        }
    }
    Ok(out)
}

/// Events per page (Google's default, and the benchmark's).
pub const PAGE_SIZE: u32 = 250;
/// The most pages one listing follows (2,500 × 250 = 625,000 events) before it gives up.
const MAX_PAGES: usize = 2500;
/// The largest page body read.
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

pub struct GoogleCalendar {
    pub client: reqwest::Client,
    pub api: String,
    pub calendar_id: String,
    pub access_token: Secret,
    pub floating: Tz,
    pub limits: ReadLimits,
    /// A full sync at least this often, to repair what incremental syncs missed.
    pub repair_every: Duration,
    /// Budgets, Retry-After and retries for this run's requests.
    pub pacer: std::sync::Arc<super::pace::Pacer>,
    /// Whose calendar it is (the account's address; Google marks the calendar's own entry
    /// among the attendees `self` too).
    pub owner: crate::busy::Owner,
}

/// The cursor: the sync token and the window the stored events were expanded for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    sync_token: String,
    from: i64,
    to: i64,
    /// When the last full sync was (Unix seconds).
    #[serde(default)]
    full_at: i64,
}

/// Google Calendar's API, for the shared request code.
pub const API: Api = Api { label: "google", name: "Google Calendar", refusal: error_of };

/// Maps a Google answer that is not a success into the one error type.
pub fn error_of(status: u16, retry_after: Option<Duration>, body: &str) -> ProviderError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let reason = parsed.as_ref().and_then(|v| v["error"]["errors"][0]["reason"].as_str()).unwrap_or("").to_string();
    let message = parsed.as_ref().and_then(|v| v["error"]["message"].as_str()).unwrap_or("").to_string();
    let said = if message.is_empty() { String::new() } else { format!(": {message}") };
    let rate_limited = matches!(reason.as_str(), "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded");
    match status {
        401 => ProviderError::new(ErrorKind::Unauthorized, "Google Calendar no longer accepts calsync's access (401). Reconnect the calendar."),
        403 | 429 if rate_limited || status == 429 => ProviderError::rate_limited(
            format!("Google Calendar asked calsync to slow down ({status} {reason}). The next sync waits and tries again."),
            retry_after,
        ),
        403 => ProviderError::new(ErrorKind::Forbidden, format!("Google Calendar refused access to this calendar (403 {reason}{said}).")),
        404 => ProviderError::new(
            ErrorKind::NotFound,
            "Google Calendar says this calendar does not exist (404): it may have been deleted or unshared. Reconnect or remove it.",
        ),
        409 => ProviderError::new(ErrorKind::Conflict, format!("Google Calendar reported a conflict (409 {reason}).")),
        410 => ProviderError::new(ErrorKind::Gone, format!("Google Calendar says this is gone (410 {reason}).")),
        412 => ProviderError::new(ErrorKind::PreconditionFailed, "The event changed in Google Calendar meanwhile (412)."),
        500..=599 => ProviderError {
            kind: ErrorKind::Server,
            message: format!("Google Calendar had a server error ({status}). The next sync will try again."),
            retry_after,
            event: None,
        },
        _ => ProviderError::new(ErrorKind::Invalid, format!("Google Calendar refused the request ({status} {reason}{said}).")),
    }
}

/// One page of events.list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    items: Vec<Value>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

/// What a listing found: the events it could read, what it skipped, and the sync token.
struct Listing {
    events: Vec<GoogleEvent>,
    warnings: Vec<String>,
    sync_token: Option<String>,
}

enum Listed {
    Done(Listing),
    /// 410 on a sync token.
    StartOver,
}

/// The keyword Google takes as `calendarId` for the account's primary calendar.
pub const PRIMARY: &str = "primary";

/// The `calendarId` a record syncs: its Calendar ID, or `primary` — the account's primary
/// calendar, as the warning on a record saved without one promises.
pub fn calendar_or_primary(calendar_id: &str) -> &str {
    if calendar_id.trim().is_empty() {
        PRIMARY
    } else {
        calendar_id
    }
}

impl GoogleCalendar {
    pub(super) fn events_url(&self) -> String {
        let id: String = url::form_urlencoded::byte_serialize(calendar_or_primary(&self.calendar_id).as_bytes()).collect();
        format!("{}/calendars/{id}/events", self.api.trim_end_matches('/'))
    }

    /// One GET, paced: within the budgets, retried after a server error, a timeout or a short
    /// Retry-After. `Ok(Err(…))`: a 410, for the caller to read.
    async fn get_json(&self, url: &str, query: &[(&str, &str)]) -> Result<Result<Value, (u16, String)>, ProviderError> {
        self.pacer
            .run(|| async {
                let answer = API.exchange(self.client.get(url).query(query).bearer_auth(self.access_token.expose()), MAX_PAGE_BYTES).await?;
                if answer.status == 410 {
                    return Ok(Err((answer.status, answer.body)));
                }
                API.expect_json(&answer)?;
                API.read(&answer, "answer").map(Ok)
            })
            .await
    }

    /// Every page of a listing. `sync_token`: only what changed since.
    async fn list(&self, sync_token: Option<&str>, ical_uid: Option<&str>) -> Result<Listed, ProviderError> {
        let url = self.events_url();
        let size = PAGE_SIZE.to_string();
        let mut listing = Listing { events: Vec::new(), warnings: Vec::new(), sync_token: None };
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query: Vec<(&str, &str)> = vec![("maxResults", &size), ("singleEvents", "false")];
            if let Some(t) = sync_token {
                query.push(("syncToken", t));
            }
            if let Some(u) = ical_uid {
                query.push(("iCalUID", u));
                query.push(("showDeleted", "true"));
            }
            if let Some(p) = &page_token {
                query.push(("pageToken", p));
            }
            let page = match self.get_json(&url, &query).await? {
                Ok(v) => v,
                Err((410, body)) => {
                    let reason = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["error"]["errors"][0]["reason"].as_str().map(str::to_owned));
                    if sync_token.is_some() && reason.as_deref() != Some("deleted") {
                        return Ok(Listed::StartOver);
                    }
                    return Err(error_of(410, None, &body));
                }
                Err((status, body)) => return Err(error_of(status, None, &body)),
            };
            let page: Page = serde_json::from_value(page)
                .map_err(|e| ProviderError::new(ErrorKind::Malformed, format!("Google Calendar's event list could not be read ({e}).")))?;
            for item in page.items {
                match serde_json::from_value::<GoogleEvent>(item) {
                    Ok(e) => listing.events.push(e),
                    Err(e) => listing.warnings.push(format!("Skipped an event Google Calendar sent that could not be read ({e}).")),
                }
            }
            match (page.next_page_token, page.next_sync_token) {
                (Some(next), _) => page_token = Some(next),
                (None, token) => {
                    listing.sync_token = token;
                    return Ok(Listed::Done(listing));
                }
            }
        }
        Err(ProviderError::new(ErrorKind::Malformed, format!("Google Calendar kept answering more pages (over {MAX_PAGES}); the sync stopped.")))
    }

    /// Expands events (whole series) in the window.
    async fn expand(&self, events: &[GoogleEvent], window: Window) -> Result<(Snapshot, Vec<String>), ProviderError> {
        let (calendar, mut warnings) = to_calendar(events);
        let owner = self.owner.clone().with(events.iter().flat_map(GoogleEvent::self_addresses));
        let (mut snapshot, more) = expand_calendar(calendar, window, self.floating, self.limits, owner).await?;
        warnings.extend(more);
        // The provider's id and version of each series (the master's, or the single event's).
        let etags: BTreeMap<&str, Option<&str>> =
            events.iter().filter(|e| e.recurring_event_id.is_none()).map(|e| (e.id.as_str(), e.etag.as_deref())).collect();
        for s in &mut snapshot.series {
            s.external_id = Some(s.uid.clone());
            s.etag = etags.get(s.uid.as_str()).copied().flatten().map(str::to_owned);
        }
        Ok((snapshot, warnings))
    }

    async fn full(&self, window: Window, repair: bool) -> Result<Fetch, ProviderError> {
        let listing = match self.list(None, None).await? {
            Listed::Done(l) => l,
            Listed::StartOver => return Err(ProviderError::new(ErrorKind::Malformed, "Google Calendar asked to start over a full sync.")),
        };
        let (snapshot, mut warnings) = self.expand(&listing.events, window).await?;
        warnings.splice(0..0, listing.warnings);
        Ok(Fetch { outcome: Outcome::Snapshot(snapshot), cursor: cursor_of(listing.sync_token, window, crate::now_secs()), warnings, repair })
    }

    async fn incremental(&self, window: Window, token: &str, full_at: i64) -> Result<Fetch, ProviderError> {
        let listing = match self.list(Some(token), None).await? {
            Listed::Done(l) => l,
            Listed::StartOver => return Ok(Fetch { outcome: Outcome::StartOver, cursor: Cursor::default(), warnings: Vec::new(), repair: false }),
        };
        let mut warnings = listing.warnings;
        let cursor = cursor_of(listing.sync_token.or(Some(token.to_owned())), window, full_at);
        if listing.events.is_empty() {
            return Ok(Fetch { outcome: Outcome::Unchanged, cursor, warnings, repair: false });
        }
        // One entry per series touched, in the order first seen; replays collapse.
        let mut touched: BTreeMap<String, &GoogleEvent> = BTreeMap::new();
        for e in &listing.events {
            touched.entry(e.series_id().to_owned()).or_insert(e);
        }
        let mut changes = Vec::new();
        for (series, first) in touched {
            let latest = listing.events.iter().rev().find(|e| e.series_id() == series).unwrap_or(first);
            if latest.is_removal() {
                changes.push(Change::SeriesRemoved { uid: series });
                continue;
            }
            // A single event is whole as it came; a series is fetched whole (master and
            // exceptions) so it expands as it is now.
            let whole: Vec<GoogleEvent> = match latest.is_recurring() {
                false => vec![latest.clone()],
                true => self.series(&series, latest).await?,
            };
            let (snapshot, more) = self.expand(&whole, window).await?;
            warnings.extend(more);
            match snapshot.series.into_iter().find(|s| s.uid == series) {
                Some(s) => {
                    let instances = snapshot.instances.into_iter().filter(|i| &*i.uid == series.as_str()).collect();
                    changes.push(Change::Series { series: s, instances });
                }
                None => changes.push(Change::SeriesRemoved { uid: series }),
            }
        }
        Ok(Fetch { outcome: Outcome::Changes(changes), cursor, warnings, repair: false })
    }

    /// A series as it is now: the master and its exceptions, found by the master's iCalUID.
    async fn series(&self, master_id: &str, seen: &GoogleEvent) -> Result<Vec<GoogleEvent>, ProviderError> {
        let uid = match seen.ical_uid.clone().filter(|_| seen.recurring_event_id.is_none()) {
            Some(uid) => uid,
            None => {
                let id: String = url::form_urlencoded::byte_serialize(master_id.as_bytes()).collect();
                let master = match self.get_json(&format!("{}/{id}", self.events_url()), &[]).await? {
                    Ok(v) => v,
                    // The master is gone for good: so is the series.
                    Err(_) => return Ok(Vec::new()),
                };
                let master: GoogleEvent = serde_json::from_value(master)
                    .map_err(|e| ProviderError::new(ErrorKind::Malformed, format!("Google Calendar's event could not be read ({e}).")))?;
                match master.ical_uid.clone() {
                    Some(uid) if !master.is_cancelled() => uid,
                    _ => return Ok(Vec::new()),
                }
            }
        };
        match self.list(None, Some(&uid)).await? {
            Listed::Done(l) => Ok(l.events.into_iter().filter(|e| e.series_id() == master_id).collect()),
            Listed::StartOver => Ok(Vec::new()),
        }
    }
}

fn cursor_of(token: Option<String>, window: Window, full_at: i64) -> Cursor {
    let (from, to) = window.key();
    Cursor(token.map(|sync_token| serde_json::to_string(&State { sync_token, from, to, full_at }).unwrap_or_default()))
}

#[async_trait::async_trait]
impl Provider for GoogleCalendar {
    async fn fetch(&self, window: Window, cursor: &Cursor) -> Result<Fetch, ProviderError> {
        let state: Option<State> = cursor.0.as_deref().and_then(|s| serde_json::from_str(s).ok());
        match state {
            Some(s) if (s.from, s.to) == window.key() && !crate::repair_due(s.full_at, self.repair_every) => {
                self.incremental(window, &s.sync_token, s.full_at).await
            }
            // The window moved, or the last full sync is a repair interval old: everything
            // again, which also repairs whatever incremental syncs missed.
            Some(_) => self.full(window, true).await,
            None => self.full(window, false).await,
        }
    }

    async fn put(&self, put: &super::write::Put<'_>) -> Result<super::write::Written, ProviderError> {
        self.put_event(put).await
    }

    async fn remove(&self, external_id: &str, notify: bool) -> Result<(), ProviderError> {
        self.remove_event(external_id, notify).await
    }

    async fn updated(&self, external_id: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
        self.updated_at(external_id).await
    }

    async fn exists(&self, external_id: &str) -> Result<bool, ProviderError> {
        self.still_there(external_id).await
    }
}

/// Asks Google to POST to `address` whenever the calendar's events change. `token` comes back
/// in every notification (`X-Goog-Channel-Token`). An empty `calendar_id` watches `primary`.
pub async fn watch(
    client: &reqwest::Client,
    api: &str,
    access: &Secret,
    calendar_id: &str,
    channel_id: &str,
    address: &str,
    token: &str,
) -> Result<Channel, ProviderError> {
    let id: String = url::form_urlencoded::byte_serialize(calendar_or_primary(calendar_id).as_bytes()).collect();
    let url = format!("{}/calendars/{id}/events/watch", api.trim_end_matches('/'));
    let body = WatchRequest { id: channel_id, kind: "web_hook", address, token };
    let v: Value = API.once(client.post(&url).bearer_auth(access.expose()).json(&body), "channel").await?;
    // int64 as a JSON string in the discovery document, a number in the guide: both read.
    let ms = match &v["expiration"] {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let expires_at = ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.naive_utc())
        .unwrap_or_else(|| chrono::Utc::now().naive_utc() + chrono::Duration::days(1));
    Ok(Channel { id: v["id"].as_str().unwrap_or(channel_id).to_owned(), resource_id: v["resourceId"].as_str().map(str::to_owned), expires_at })
}

/// Stops a channel (channels/stop); a channel Google no longer knows is stopped already.
pub async fn stop(client: &reqwest::Client, api: &str, access: &Secret, channel_id: &str, resource_id: Option<&str>) -> Result<(), ProviderError> {
    let url = format!("{}/channels/stop", api.trim_end_matches('/'));
    let body = StopRequest { id: channel_id, resource_id };
    let answer = API.exchange(client.post(&url).bearer_auth(access.expose()).json(&body), http::MAX_ANSWER).await?;
    match answer.status {
        200..=299 | 404 => Ok(()),
        s => Err(error_of(s, answer.retry_after, &answer.body)),
    }
}

/// The body of events.watch.
#[derive(Serialize)]
struct WatchRequest<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    address: &'a str,
    token: &'a str,
}

/// The body of channels/stop.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StopRequest<'a> {
    id: &'a str,
    resource_id: Option<&'a str>,
}
