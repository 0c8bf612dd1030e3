//! Outlook / Microsoft 365 through Microsoft Graph v1.0. `calendarView/delta` answers
//! occurrences (no masters) for a window encoded in its links: a full sync pages through a
//! round to its `@odata.deltaLink`, storing occurrences as instances grouped by
//! `seriesMasterId` (the series takes its fields from them: no request per master); an
//! incremental sync follows the stored delta link. A new round starts when the window moves or
//! the repair interval passes (the repair run). 410 / `syncStateNotFound` / `resyncRequired`
//! start over.
//!
//! Delta for a calendar other than the default one (`/me/calendars/{id}/calendarView/delta`)
//! is documented in Graph's delta-query concepts ("track each calendar individually") and in
//! the v1.0 SDKs generated from the service's metadata, though the v1.0 `event: delta` page
//! lists only `/me/calendarView/delta`; calsync uses the calendar-scoped path for every
//! calendar, and `/me/calendar/calendarView/delta` (the same path under the default
//! calendar's navigation, in the same SDKs) for a record saved without a Calendar ID. An
//! occurrence deleted on its own is not reliably reported by delta (field reports since 2019):
//! the repair run removes what it no longer lists.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::account::{CalendarEntry, Channel};
use super::http::{self, Api};
use super::oauth::OAuthClient;
use super::{Change, Cursor, ErrorKind, Fetch, Outcome, Provider, ProviderError, Window};
use crate::busy::{Kind, Response, Show, Signals};
use crate::events::{Fingerprint, Instance, Series, Snapshot, Status, When};
use crate::secret::Secret;

/// Where Microsoft is (configuration) and who calsync is there.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `https://login.microsoftonline.com`: the tenant and `/oauth2/v2.0/…` follow.
    pub login: String,
    pub tenant: String,
    /// The `…/v1.0` base.
    pub graph: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            login: "https://login.microsoftonline.com".into(),
            tenant: "common".into(),
            graph: "https://graph.microsoft.com/v1.0".into(),
            client_id: None,
            client_secret: None,
        }
    }
}

/// A refresh token needs `offline_access`; the account's email needs `User.Read`.
pub const SCOPES: [&str; 3] = ["offline_access", "User.Read", "Calendars.ReadWrite"];

impl Endpoints {
    pub fn oauth(&self) -> Option<OAuthClient> {
        let base = format!("{}/{}/oauth2/v2.0", self.login.trim_end_matches('/'), self.tenant);
        Some(OAuthClient {
            provider: "Outlook Calendar",
            auth_url: format!("{base}/authorize"),
            token_url: format!("{base}/token"),
            // No per-token revocation endpoint [U]: access is removed in the account settings.
            revoke_url: None,
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
            scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
            extra: vec![("response_mode", "query")],
        })
    }
}

/// Events per page asked for (`Prefer: odata.maxpagesize`; the service may send fewer, or
/// more for a series it does not split).
pub const PAGE_SIZE: u32 = 500;
pub(super) const MAX_PAGES: usize = 5000;

/// Where a calendar is under `/me`: `calendars/{id}` (the id URL-encoded), or `calendar` —
/// the account's default calendar — for a record saved without a Calendar ID, as the warning
/// on such a record promises.
pub fn calendar_path(calendar_id: &str) -> String {
    calendar_segment(calendar_id, true)
}

/// `calendar_path`, with the id URL-encoded (a request's address) or as stored (a
/// subscription's `resource`).
fn calendar_segment(calendar_id: &str, encode: bool) -> String {
    if calendar_id.trim().is_empty() {
        return "calendar".to_owned();
    }
    if encode {
        let id: String = url::form_urlencoded::byte_serialize(calendar_id.as_bytes()).collect();
        format!("calendars/{id}")
    } else {
        format!("calendars/{calendar_id}")
    }
}

pub struct OutlookCalendar {
    pub client: reqwest::Client,
    pub graph: String,
    pub calendar_id: String,
    pub access_token: Secret,
    pub repair_every: Duration,
    pub pacer: Arc<super::pace::Pacer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    delta_link: String,
    from: i64,
    to: i64,
    full_at: i64,
}

/// Graph's `dateTimeTimeZone`: a wall-clock time and the zone it is in (read and written).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeTimeZone {
    pub date_time: String,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// The fields of an event calsync reads; a removal has only `id` and `@removed`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphEvent {
    id: String,
    #[serde(default, rename = "@removed")]
    removed: Option<Value>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    start: Option<DateTimeTimeZone>,
    #[serde(default)]
    end: Option<DateTimeTimeZone>,
    #[serde(default)]
    is_all_day: bool,
    #[serde(default)]
    show_as: Option<String>,
    /// The owner's answer: `none`, `organizer`, `tentativelyAccepted`, `accepted`,
    /// `declined`, `notResponded`.
    #[serde(default)]
    response_status: Option<ResponseStatus>,
    #[serde(default)]
    is_organizer: Option<bool>,
    #[serde(default)]
    is_cancelled: bool,
    #[serde(default)]
    series_master_id: Option<String>,
    #[serde(default)]
    original_start: Option<String>,
    #[serde(default)]
    change_key: Option<String>,
    #[serde(default)]
    location: Option<Place>,
}

/// A `dateTimeTimeZone`: no offset, up to 7 fractional digits, a Windows or IANA zone name.
pub(super) fn when(t: &DateTimeTimeZone, all_day: bool) -> Option<(When, Option<Arc<str>>)> {
    let local = NaiveDateTime::parse_from_str(t.date_time.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()?;
    if all_day {
        return Some((When::Date(local.date()), None));
    }
    let zone = t.time_zone.as_deref().unwrap_or("UTC");
    if zone.eq_ignore_ascii_case("UTC") || zone.eq_ignore_ascii_case("Etc/UTC") {
        return Some((When::At(chrono::Utc.from_utc_datetime(&local)), None));
    }
    let tz = crate::ical::zones::lookup_iana(zone)?;
    Some((When::At(crate::events::local_to_utc(tz, local)), Some(Arc::from(tz.name()))))
}

#[derive(Debug, Clone, Deserialize)]
struct ResponseStatus {
    #[serde(default)]
    response: Option<String>,
}

impl GraphEvent {
    /// What classifies it: the owner's answer is the event's own `responseStatus`.
    fn signals(&self) -> Signals {
        let organises = self.is_organizer.unwrap_or(false);
        let response = match self.response_status.as_ref().and_then(|r| r.response.as_deref()) {
            Some("declined") => Some(Response::Declined),
            Some("notResponded") | Some("none") if !organises => Some(Response::Unanswered),
            Some("tentativelyAccepted") => Some(Response::Tentative),
            Some("accepted") => Some(Response::Accepted),
            _ => None,
        };
        Signals { response, show: self.show_as.as_deref().and_then(Show::of_show_as), transparent: false, tentative: false, all_day: self.is_all_day }
    }

    /// The place people read (a single event's is its series').
    fn place(&self) -> Option<String> {
        self.location.as_ref().and_then(|l| l.display_name.clone()).filter(|l| !l.is_empty())
    }

    fn uid(&self) -> &str {
        self.series_master_id.as_deref().unwrap_or(&self.id)
    }

    fn instance(&self) -> Result<Instance, String> {
        let (start, tzid) = self.start.as_ref().and_then(|t| when(t, self.is_all_day)).ok_or_else(|| format!("event {}: no readable start", self.id))?;
        let (end, _) = self.end.as_ref().and_then(|t| when(t, self.is_all_day)).unwrap_or((start, None));
        let recurrence_id = match (&self.series_master_id, &self.original_start) {
            (Some(_), Some(o)) => {
                let at = chrono::DateTime::parse_from_rfc3339(o).map_err(|_| format!("event {}: unreadable originalStart", self.id))?.to_utc();
                Some(if self.is_all_day { When::Date(start_date(start)) } else { When::At(at) })
            }
            (Some(_), None) => Some(start),
            _ => None,
        };
        let status = match (self.is_cancelled, self.show_as.as_deref()) {
            (true, _) => Status::Cancelled,
            (false, Some("tentative")) => Status::Tentative,
            _ => Status::Confirmed,
        };
        Ok(Instance {
            uid: Arc::from(self.uid()),
            recurrence_id,
            start,
            end,
            status,
            transparent: self.show_as.as_deref() == Some("free"),
            kind: Kind::of(&self.signals()),
            summary: Arc::from(self.subject.as_deref().unwrap_or("")),
            tzid,
        })
    }
}

fn start_date(w: When) -> chrono::NaiveDate {
    match w {
        When::Date(d) => d,
        When::At(t) => t.date_naive(),
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Address {
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    #[serde(default)]
    email_address: Option<Address>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Place {
    #[serde(default)]
    display_name: Option<String>,
}

/// A series master's fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Master {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    location: Option<Place>,
    #[serde(default)]
    organizer: Option<Person>,
    #[serde(default)]
    attendees: Vec<Person>,
    #[serde(default)]
    change_key: Option<String>,
}

impl Master {
    fn apply(&self, s: &mut Series) {
        if let Some(subject) = &self.subject {
            s.summary = subject.clone();
        }
        s.location = self.location.as_ref().and_then(|l| l.display_name.clone()).filter(|l| !l.is_empty());
        s.organizer = self.organizer.as_ref().and_then(|o| o.email_address.as_ref()?.address.clone());
        s.attendees = self.attendees.iter().filter_map(|a| a.email_address.as_ref()?.address.clone()).collect();
        s.etag = self.change_key.clone().or(s.etag.take());
    }
}

/// A single event's place, which its source hash covers too (a new place is a change).
fn with_place(mut s: Series, place: String) -> Series {
    let mut h = Fingerprint::new();
    h.add(s.source_hash.as_bytes());
    h.add(place.as_bytes());
    s.source_hash = h.hex();
    s.location = Some(place);
    s
}

/// One series per uid, its fields from its occurrences.
fn series_of(uid: &str, instances: &[&Instance], etag: Option<String>) -> Series {
    let mut h = Fingerprint::new();
    for i in instances {
        h.add(i.version_hash().as_bytes());
    }
    let first = instances.first();
    Series {
        uid: uid.to_owned(),
        summary: first.map(|i| i.summary.to_string()).unwrap_or_default(),
        description: None,
        location: None,
        organizer: None,
        attendees: Vec::new(),
        recurrence: String::new(),
        tzid: first.and_then(|i| i.tzid.as_deref().map(str::to_owned)),
        status: Status::Confirmed,
        transparent: false,
        sequence: 0,
        external_id: Some(uid.to_owned()),
        etag,
        source_hash: h.hex(),
        start: None,
        end: None,
    }
}

/// Maps a Graph answer that is not a success into the one error type. `None`: start over.
pub(crate) fn error_of(status: u16, retry_after: Option<Duration>, body: &str) -> Option<ProviderError> {
    let code = serde_json::from_str::<Value>(body).ok().and_then(|v| v["error"]["code"].as_str().map(str::to_owned)).unwrap_or_default();
    if status == 410 || matches!(code.as_str(), "syncStateNotFound" | "resyncRequired" | "syncStateInvalid") {
        return None;
    }
    Some(match status {
        401 => ProviderError::new(ErrorKind::Unauthorized, "Outlook no longer accepts calsync's access (401). Reconnect the calendar."),
        403 => ProviderError::new(ErrorKind::Forbidden, format!("Outlook refused access to this calendar (403 {code}).")),
        404 => ProviderError::new(
            ErrorKind::NotFound,
            "Outlook says this calendar does not exist (404): it may have been deleted or unshared. Reconnect or remove it.",
        ),
        409 => ProviderError::new(ErrorKind::Conflict, format!("Outlook reported a conflict (409 {code}).")),
        412 => ProviderError::new(ErrorKind::PreconditionFailed, "The event changed in Outlook meanwhile (412)."),
        429 => ProviderError::rate_limited(format!("Outlook asked calsync to slow down (429 {code}). The next sync waits and tries again."), retry_after),
        500..=599 => ProviderError {
            kind: ErrorKind::Server,
            message: format!("Outlook had a server error ({status}). The next sync will try again."),
            retry_after,
            event: None,
        },
        _ => ProviderError::new(ErrorKind::Invalid, format!("Outlook refused the request ({status} {code}).")),
    })
}

/// Microsoft Graph, for the shared request code.
pub const API: Api = Api { label: "outlook", name: "Outlook", refusal };

/// A refusal as one error: one that says the delta state is gone reads as `Gone`.
pub(crate) fn refusal(status: u16, retry_after: Option<Duration>, body: &str) -> ProviderError {
    error_of(status, retry_after, body).unwrap_or_else(|| ProviderError::new(ErrorKind::Gone, format!("Outlook says this is gone ({status}).")))
}

/// A round's events, and where the next round starts.
struct Round {
    events: Vec<GraphEvent>,
    warnings: Vec<String>,
    delta_link: String,
}

impl OutlookCalendar {
    /// One page, paced; `Ok(None)`: the delta state is gone, start over.
    async fn page(&self, url: &str) -> Result<Option<Value>, ProviderError> {
        self.pacer
            .run(|| async {
                let request = self.client.get(url).bearer_auth(self.access_token.expose()).header("Prefer", format!("odata.maxpagesize={PAGE_SIZE}"));
                let answer = API.exchange(request, http::MAX_ANSWER).await?;
                if !answer.success() && error_of(answer.status, answer.retry_after, &answer.body).is_none() {
                    return Ok(None);
                }
                API.expect_json(&answer)?;
                API.read(&answer, "answer").map(Some)
            })
            .await
    }

    /// A whole round from `url` (the window's start, or a stored delta link).
    async fn round(&self, url: String) -> Result<Option<Round>, ProviderError> {
        let mut round = Round { events: Vec::new(), warnings: Vec::new(), delta_link: String::new() };
        let mut next = url;
        for _ in 0..MAX_PAGES {
            let Some(page) = self.page(&next).await? else { return Ok(None) };
            for item in page["value"].as_array().cloned().unwrap_or_default() {
                match serde_json::from_value::<GraphEvent>(item) {
                    Ok(e) => round.events.push(e),
                    Err(e) => round.warnings.push(format!("Skipped an event Outlook sent that could not be read ({e}).")),
                }
            }
            // The links carry the window and the state: followed as they are.
            match (page["@odata.nextLink"].as_str(), page["@odata.deltaLink"].as_str()) {
                (Some(n), _) => next = n.to_owned(),
                (None, Some(d)) => {
                    round.delta_link = d.to_owned();
                    return Ok(Some(round));
                }
                (None, None) => return Err(ProviderError::new(ErrorKind::Malformed, "Outlook ended a page with neither a next nor a delta link.")),
            }
        }
        Err(ProviderError::new(ErrorKind::Malformed, format!("Outlook kept answering more pages (over {MAX_PAGES}); the sync stopped.")))
    }

    /// A series master's fields (`GET /me/events/{id}`); `None` when it is gone.
    async fn master(&self, id: &str) -> Result<Option<Master>, ProviderError> {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let url = format!("{}/me/events/{id}?$select=subject,location,organizer,attendees,changeKey", self.graph.trim_end_matches('/'));
        match self.page(&url).await {
            Ok(Some(v)) => Ok(serde_json::from_value(v).ok()),
            Ok(None) | Err(ProviderError { kind: ErrorKind::NotFound, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn start_url(&self, window: Window) -> String {
        let at = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        format!(
            "{}/me/{}/calendarView/delta?startDateTime={}&endDateTime={}",
            self.graph.trim_end_matches('/'),
            calendar_path(&self.calendar_id),
            at(window.from),
            at(window.to)
        )
    }

    async fn full(&self, window: Window, repair: bool) -> Result<Fetch, ProviderError> {
        let Some(round) = self.round(self.start_url(window)).await? else {
            return Err(ProviderError::new(ErrorKind::Malformed, "Outlook asked to start over a new round."));
        };
        let mut warnings = round.warnings;
        let mut instances = Vec::new();
        let mut etags: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut places: BTreeMap<String, String> = BTreeMap::new();
        for e in round.events.iter().filter(|e| e.removed.is_none()) {
            match e.instance() {
                Ok(i) => {
                    etags.entry(e.uid().to_owned()).or_insert_with(|| e.series_master_id.is_none().then(|| e.change_key.clone()).flatten());
                    if let (None, Some(place)) = (&e.series_master_id, e.place()) {
                        places.insert(e.id.clone(), place);
                    }
                    instances.push(i);
                }
                Err(w) => warnings.push(format!("Skipped {w}.")),
            }
        }
        let mut by_uid: BTreeMap<&str, Vec<&Instance>> = BTreeMap::new();
        for i in &instances {
            by_uid.entry(&i.uid).or_default().push(i);
        }
        let masters: Vec<String> =
            round.events.iter().filter_map(|e| e.series_master_id.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let mut fields = BTreeMap::new();
        for id in masters {
            // A master only for its fields; without it, the series keeps its occurrences'.
            if let Some(m) = self.master(&id).await? {
                fields.insert(id, m);
            }
        }
        let series = by_uid
            .iter()
            .map(|(uid, list)| {
                let mut s = series_of(uid, list, etags.get(*uid).cloned().flatten());
                if let Some(place) = places.get(*uid) {
                    s = with_place(s, place.clone());
                }
                if let Some(m) = fields.get(*uid) {
                    m.apply(&mut s);
                }
                s
            })
            .collect();
        let cursor = cursor_of(round.delta_link, window, crate::now_secs());
        Ok(Fetch { outcome: Outcome::Snapshot(Snapshot { series, instances }), cursor, warnings, repair })
    }

    async fn incremental(&self, window: Window, state: &State) -> Result<Fetch, ProviderError> {
        let Some(round) = self.round(state.delta_link.clone()).await? else {
            return Ok(Fetch { outcome: Outcome::StartOver, cursor: Cursor::default(), warnings: Vec::new(), repair: false });
        };
        let cursor = cursor_of(round.delta_link, window, state.full_at);
        if round.events.is_empty() {
            return Ok(Fetch { outcome: Outcome::Unchanged, cursor, warnings: round.warnings, repair: false });
        }
        let mut warnings = round.warnings;
        let mut changes = Vec::new();
        for e in &round.events {
            if e.removed.is_some() {
                // A single event's id is its series' uid; an occurrence's removal (rare, see
                // above) is left to the repair run.
                changes.push(Change::SeriesRemoved { uid: e.id.clone() });
                continue;
            }
            let i = match e.instance() {
                Ok(i) => i,
                Err(w) => {
                    warnings.push(format!("Skipped {w}."));
                    continue;
                }
            };
            let inside = i.end.instant(chrono_tz::UTC) > window.from && i.start.instant(chrono_tz::UTC) < window.to;
            match (&e.series_master_id, inside) {
                (None, true) => changes.push(Change::Series {
                    series: match e.place() {
                        Some(place) => with_place(series_of(&e.id, &[&i], e.change_key.clone()), place),
                        None => series_of(&e.id, &[&i], e.change_key.clone()),
                    },
                    instances: vec![i],
                }),
                (None, false) => changes.push(Change::SeriesRemoved { uid: e.id.clone() }),
                (Some(_), true) => changes.push(Change::Instance(i)),
                (Some(_), false) => changes.push(Change::InstanceRemoved { uid: i.uid.to_string(), recurrence_id: i.recurrence_id }),
            }
        }
        Ok(Fetch { outcome: Outcome::Changes(changes), cursor, warnings, repair: false })
    }
}

fn cursor_of(delta_link: String, window: Window, full_at: i64) -> Cursor {
    let (from, to) = window.key();
    Cursor(Some(serde_json::to_string(&State { delta_link, from, to, full_at }).unwrap_or_default()))
}

#[async_trait::async_trait]
impl Provider for OutlookCalendar {
    async fn fetch(&self, window: Window, cursor: &Cursor) -> Result<Fetch, ProviderError> {
        let state: Option<State> = cursor.0.as_deref().and_then(|s| serde_json::from_str(s).ok());
        match state {
            Some(s) if (s.from, s.to) == window.key() && !crate::repair_due(s.full_at, self.repair_every) => self.incremental(window, &s).await,
            Some(_) => self.full(window, true).await,
            None => self.full(window, false).await,
        }
    }

    async fn put(&self, put: &super::write::Put<'_>) -> Result<super::write::Written, ProviderError> {
        self.put_event(put).await
    }

    async fn put_many(&self, puts: &[super::write::Put<'_>]) -> Vec<Result<super::write::Written, ProviderError>> {
        self.put_batched(puts).await
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

    async fn occurrence(&self, master: &str, original: chrono::DateTime<chrono::Utc>) -> Result<Option<super::write::Placed>, ProviderError> {
        self.occurrence_now(master, original).await
    }
}

/// The account's email (`GET /me`: `mail`, else `userPrincipalName`) and calendars.
pub async fn account(graph: &str, token: &Secret, timeout: Duration) -> Result<(String, Vec<CalendarEntry>), ProviderError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Me {
        mail: Option<String>,
        user_principal_name: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Calendar {
        id: Option<String>,
        #[serde(default)]
        name: String,
        hex_color: Option<String>,
        #[serde(default)]
        is_default_calendar: bool,
        #[serde(default)]
        can_edit: bool,
    }
    #[derive(Deserialize)]
    struct Calendars {
        #[serde(default)]
        value: Vec<Calendar>,
    }
    let client = http::client(timeout);
    let base = graph.trim_end_matches('/');
    let me: Me = API.once(client.get(format!("{base}/me")).bearer_auth(token.expose()), "account").await?;
    let email = me
        .mail
        .or(me.user_principal_name)
        .map(|m| m.to_lowercase())
        .ok_or_else(|| ProviderError::new(ErrorKind::Malformed, "Outlook did not say which account this is."))?;
    let list: Calendars = API.once(client.get(format!("{base}/me/calendars")).bearer_auth(token.expose()), "calendar list").await?;
    let calendars = list
        .value
        .into_iter()
        .filter_map(|c| {
            Some(CalendarEntry {
                id: c.id?,
                name: c.name,
                color: c.hex_color.filter(|h| !h.is_empty()),
                primary: c.is_default_calendar,
                access_role: if c.can_edit { "writer".into() } else { "reader".into() },
            })
        })
        .collect();
    Ok((email, calendars))
}

/// How long a subscription on events is asked to live: 4,230 minutes is the maximum the Graph
/// docs repository gives for Outlook resources; newer notes say 10,080 [U], so the shorter.
pub const SUBSCRIPTION_MINUTES: i64 = 4230;

/// Subscribes to changes of the calendar's events. Graph first POSTs a validation request to
/// `address` (answered by `/webhooks/microsoft`) and creates nothing if it fails. The resource
/// is the calendar's own events (`/me/calendars/{id}/events`, or `/me/calendar/events` for the
/// default calendar of a record without a Calendar ID): the documented `/me/events` would not
/// say which of the account's calendars changed.
pub async fn subscribe(
    client: &reqwest::Client,
    graph: &str,
    access: &Secret,
    calendar_id: &str,
    address: &str,
    client_state: &str,
) -> Result<Channel, ProviderError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Request<'a> {
        change_type: &'static str,
        notification_url: &'a str,
        lifecycle_notification_url: &'a str,
        resource: String,
        expiration_date_time: String,
        client_state: &'a str,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Subscription {
        id: Option<String>,
        expiration_date_time: Option<String>,
    }
    let expires = chrono::Utc::now() + chrono::Duration::minutes(SUBSCRIPTION_MINUTES);
    let body = Request {
        change_type: "created,updated,deleted",
        notification_url: address,
        lifecycle_notification_url: address,
        resource: format!("/me/{}/events", calendar_segment(calendar_id, false)),
        expiration_date_time: expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        client_state,
    };
    let request = client.post(format!("{}/subscriptions", graph.trim_end_matches('/'))).bearer_auth(access.expose()).json(&body);
    let made: Subscription = API.once(request, "subscription").await?;
    let expires_at =
        made.expiration_date_time.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.naive_utc()).unwrap_or(expires.naive_utc());
    let id = made.id.ok_or_else(|| ProviderError::new(ErrorKind::Malformed, "Outlook's subscription has no id."))?;
    Ok(Channel { id, resource_id: None, expires_at })
}

/// Deletes a subscription; one Graph no longer knows is gone already.
pub async fn unsubscribe(client: &reqwest::Client, graph: &str, access: &Secret, id: &str) -> Result<(), ProviderError> {
    let answer =
        API.exchange(client.delete(format!("{}/subscriptions/{id}", graph.trim_end_matches('/'))).bearer_auth(access.expose()), http::MAX_ANSWER).await?;
    match answer.status {
        200..=299 | 404 => Ok(()),
        s => Err(refusal(s, answer.retry_after, &answer.body)),
    }
}
