//! Writing copies into a Google calendar (two-way push). The copy's idempotency key is its
//! event id (base32hex, chosen before the first attempt): a create that already happened
//! answers 409 `duplicate`, and the retry then updates the event it made — which also brings
//! back a copy that was deleted (a cancelled event keeps its id). The booking is named in a
//! private extended property. `sendUpdates` is `all` only when the booking asks to notify.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::google::{GoogleCalendar, API};
use super::write::{occurrence_key, parse_occurrence_key, Before, Draft, Occurrence, Put, Written};
use super::{ErrorKind, ProviderError};

/// The private extended property naming the booking a copy belongs to.
pub const MARKER: &str = "calsyncBooking";

/// The event body of a draft; `id` only on a create. Absent values are sent as `null`, which
/// a patch takes as "clear it".
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub summary: &'a str,
    pub description: Option<&'a str>,
    pub location: Option<&'a str>,
    pub start: EventDateTime,
    pub end: EventDateTime,
    pub recurrence: Vec<&'a str>,
    pub attendees: Vec<Attendee<'a>>,
    pub extended_properties: ExtendedProperties<'a>,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attendee<'a> {
    pub email: &'a str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtendedProperties<'a> {
    /// `MARKER` → the booking's marker.
    pub private: BTreeMap<&'static str, &'a str>,
}

/// A time as Google takes it: the wall clock in the draft's zone, with the zone.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDateTime {
    pub date_time: String,
    pub time_zone: &'static str,
}

/// What an occurrence is patched to: its title and times.
#[derive(Serialize)]
struct OccurrenceBody<'a> {
    summary: &'a str,
    start: EventDateTime,
    end: EventDateTime,
    status: &'static str,
}

/// A retitle of an exception.
#[derive(Serialize)]
struct TitleBody<'a> {
    summary: &'a str,
}

pub fn body(draft: &Draft) -> EventBody<'_> {
    EventBody {
        id: None,
        summary: &draft.title,
        description: draft.description.as_deref(),
        location: draft.location.as_deref(),
        start: when(draft, draft.start),
        end: when(draft, draft.end),
        recurrence: draft.recurrence.iter().map(String::as_str).collect(),
        attendees: draft.attendees.iter().map(|a| Attendee { email: a }).collect(),
        extended_properties: ExtendedProperties { private: BTreeMap::from([(MARKER, draft.marker.as_str())]) },
        status: "confirmed",
    }
}

/// An `EventDateTime`'s instant (`dateTime` carries its offset).
fn instant(t: &Value) -> Option<DateTime<Utc>> {
    t["dateTime"].as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.to_utc())
}

fn when(d: &Draft, t: DateTime<Utc>) -> EventDateTime {
    EventDateTime { date_time: t.with_timezone(&d.time_zone).to_rfc3339(), time_zone: d.time_zone.name() }
}

/// Does an instance hold what calsync last wrote of it (or, never changed by calsync, what the
/// series makes)? Its title may already be the series' new one.
fn as_written(item: &Value, before: Before<'_>, key: &str, original: DateTime<Utc>, length: chrono::Duration, new_title: &str) -> bool {
    let was = before.occurrences.get(key).cloned().unwrap_or_default();
    let cancelled = item["status"] == "cancelled";
    if was.cancelled || cancelled {
        return was.cancelled == cancelled;
    }
    let (title, start, end) = was.resolve(original, before.title, length);
    let summary = item["summary"].as_str().unwrap_or_default();
    instant(&item["start"]) == Some(start) && instant(&item["end"]) == Some(end) && (summary == title || (was.title.is_none() && summary == new_title))
}

/// Does a live event hold what calsync sent?
fn holds(e: &Value, sent: Before<'_>) -> bool {
    e["status"] != "cancelled"
        && e["summary"].as_str() == Some(sent.title)
        && instant(&e["start"]) == Some(sent.start)
        && instant(&e["end"]) == Some(sent.end)
        && e["location"].as_str().filter(|l| !l.is_empty()) == sent.location
        && e["description"].as_str().filter(|d| !d.is_empty()) == sent.description
}

fn written(v: &Value, fallback: &str) -> Written {
    Written { external_id: v["id"].as_str().unwrap_or(fallback).to_string(), etag: v["etag"].as_str().map(str::to_string) }
}

fn updates(notify: bool) -> &'static str {
    if notify {
        "all"
    } else {
        "none"
    }
}

impl GoogleCalendar {
    fn event_url(&self, id: &str) -> String {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        format!("{}/{id}", self.events_url())
    }

    async fn patch(&self, id: &str, body: &impl Serialize, notify: bool, if_match: Option<&str>) -> Result<Written, ProviderError> {
        let url = self.event_url(id);
        let v: Value = API
            .paced(
                &self.pacer,
                || {
                    let request = self.client.patch(&url).query(&[("sendUpdates", updates(notify))]).bearer_auth(self.access_token.expose()).json(body);
                    match if_match {
                        Some(etag) => request.header(reqwest::header::IF_MATCH, etag),
                        None => request,
                    }
                },
                "answer",
            )
            .await?;
        Ok(written(&v, id))
    }

    pub(super) async fn put_event(&self, put: &Put<'_>) -> Result<Written, ProviderError> {
        let written = self.put_master(put).await?;
        self.put_occurrences(&written.external_id, put).await?;
        Ok(written)
    }

    /// The instance of a series that started at `original` (through `events.instances`,
    /// cancelled ones too).
    async fn instance(&self, master: &str, original: DateTime<Utc>) -> Result<Option<Value>, ProviderError> {
        let url = format!("{}/instances", self.event_url(master));
        let at = original.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let v: Value = API
            .paced(
                &self.pacer,
                || self.client.get(&url).query(&[("originalStart", at.as_str()), ("showDeleted", "true")]).bearer_auth(self.access_token.expose()),
                "answer",
            )
            .await?;
        Ok(v["items"].as_array().and_then(|i| i.first()).cloned())
    }

    /// Writes the occurrences that differ from what calsync last wrote: a cancelled one is
    /// deleted, the others are patched to their title and times (an occurrence that follows
    /// the series again is patched back to it). An occurrence changed in the calendar since
    /// is not overwritten (`PreconditionFailed`): the next sync merges it.
    async fn put_occurrences(&self, master: &str, put: &Put<'_>) -> Result<(), ProviderError> {
        let d = put.draft;
        let length = d.end - d.start;
        let writes = put.occurrences_to_write();
        for (key, now) in &writes {
            let Some(original) = parse_occurrence_key(key) else { continue };
            let Some(item) = self.instance(master, original).await? else {
                return Err(ProviderError::new(ErrorKind::NotFound, format!("Google Calendar has no occurrence of the series at {key}.")));
            };
            if let Some(before) = put.before {
                if !as_written(&item, before, key, original, length, &d.title) {
                    return Err(ProviderError::new(ErrorKind::PreconditionFailed, format!("The occurrence at {key} changed in Google Calendar meanwhile.")));
                }
            }
            let id = item["id"].as_str().unwrap_or_default().to_string();
            match now {
                Some(o) if o.cancelled => self.remove_event(&id, d.notify).await?,
                _ => {
                    let (title, start, end) = now.cloned().unwrap_or_default().resolve(original, &d.title, length);
                    let body = OccurrenceBody { summary: &title, start: when(d, start), end: when(d, end), status: "confirmed" };
                    self.patch(&id, &body, d.notify, None).await?;
                }
            }
        }
        match put.before {
            Some(before) if before.title != d.title && d.recurrence.is_some() => {
                self.retitle_exceptions(master, before.title, &d.title, d.notify, &writes).await
            }
            _ => Ok(()),
        }
    }

    /// A series retitled: its exceptions made in the calendar that still hold the old title
    /// (Google keeps an exception's own copy of it) take the new one, as the series' other
    /// occurrences do.
    async fn retitle_exceptions(
        &self,
        master: &str,
        old: &str,
        new: &str,
        notify: bool,
        written: &[(String, Option<&Occurrence>)],
    ) -> Result<(), ProviderError> {
        let uid = self.get_event(master).await?["iCalUID"].as_str().unwrap_or_default().to_string();
        let url = self.events_url();
        let v: Value = API
            .paced(
                &self.pacer,
                || self.client.get(&url).query(&[("iCalUID", uid.as_str()), ("maxResults", "2500")]).bearer_auth(self.access_token.expose()),
                "answer",
            )
            .await?;
        for item in v["items"].as_array().into_iter().flatten() {
            let original =
                item["originalStartTime"]["dateTime"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| occurrence_key(t.to_utc()));
            let stale = item["recurringEventId"] == master && item["status"] != "cancelled" && item["summary"] == old;
            if stale && !written.iter().any(|(k, _)| Some(k) == original.as_ref()) {
                let id = item["id"].as_str().unwrap_or_default();
                self.patch(id, &TitleBody { summary: new }, notify, None).await?;
            }
        }
        Ok(())
    }

    /// The live event that names the booking in its private property, if any.
    async fn marked(&self, marker: &str) -> Result<Option<String>, ProviderError> {
        let url = self.events_url();
        let property = format!("{MARKER}={marker}");
        let v: Value = API
            .paced(
                &self.pacer,
                || self.client.get(&url).query(&[("privateExtendedProperty", property.as_str())]).bearer_auth(self.access_token.expose()),
                "answer",
            )
            .await?;
        Ok(v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["status"] != "cancelled" && e.get("recurringEventId").is_none())
            .and_then(|e| e["id"].as_str())
            .map(str::to_string))
    }

    async fn put_master(&self, put: &Put<'_>) -> Result<Written, ProviderError> {
        let body = body(put.draft);
        let found = match (put.external_id, put.look_first) {
            (None, true) => self.marked(&put.draft.marker).await?,
            _ => None,
        };
        if let Some(id) = put.external_id.or(found.as_deref()) {
            return self.patch(id, &body, put.draft.notify, put.if_match).await.map_err(|e| match e.kind {
                ErrorKind::NotFound | ErrorKind::Gone => ProviderError::new(e.kind, "The copy was deleted in Google Calendar."),
                _ => e,
            });
        }
        let create = EventBody { id: Some(put.key), ..body.clone() };
        let url = self.events_url();
        let made: Result<Value, _> = API
            .paced(
                &self.pacer,
                || self.client.post(&url).query(&[("sendUpdates", updates(put.draft.notify))]).bearer_auth(self.access_token.expose()).json(&create),
                "answer",
            )
            .await;
        match made {
            Ok(v) => Ok(written(&v, put.key)),
            // An earlier attempt made it: bring that event in line instead of a second one —
            // unless it was changed there before calsync heard back (then a sync merges it).
            Err(e) if e.kind == ErrorKind::Conflict => match put.before {
                Some(sent) => {
                    let there = self.get_event(put.key).await?;
                    if !holds(&there, sent) {
                        return Err(ProviderError::made_and_changed(
                            put.key,
                            "The event calsync made was changed in Google Calendar before calsync heard back.",
                        ));
                    }
                    self.patch(put.key, &body, put.draft.notify, there["etag"].as_str()).await
                }
                None => self.patch(put.key, &body, put.draft.notify, None).await,
            },
            Err(e) => Err(e),
        }
    }

    async fn get_event(&self, id: &str) -> Result<Value, ProviderError> {
        let url = self.event_url(id);
        API.paced(&self.pacer, || self.client.get(&url).bearer_auth(self.access_token.expose()), "answer").await
    }

    pub(super) async fn updated_at(&self, id: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
        let v = self.get_event(id).await?;
        Ok(v["updated"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc()))
    }

    /// A deleted event is still answered, as `status: cancelled`.
    pub(super) async fn still_there(&self, id: &str) -> Result<bool, ProviderError> {
        match self.get_event(id).await {
            Ok(v) => Ok(v["status"] != "cancelled"),
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn remove_event(&self, id: &str, notify: bool) -> Result<(), ProviderError> {
        let url = self.event_url(id);
        let done: Result<Value, _> = API
            .paced(&self.pacer, || self.client.delete(&url).query(&[("sendUpdates", updates(notify))]).bearer_auth(self.access_token.expose()), "answer")
            .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
