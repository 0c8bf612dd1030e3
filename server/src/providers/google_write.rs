//! Writing copies into a Google calendar (two-way push). The copy's idempotency key is its
//! event id (base32hex, chosen before the first attempt): a create that already happened
//! answers 409 `duplicate`, and the retry then updates the event it made — which also brings
//! back a copy that was deleted (a cancelled event keeps its id). The booking is named in a
//! private extended property. `sendUpdates` is `all` only when the booking asks to notify.
use serde_json::{json, Value};

use super::google::{error_of, transport, GoogleCalendar};
use super::write::{send, Draft, Put, Written};
use super::{ErrorKind, ProviderError};

/// The private extended property naming the booking a copy belongs to.
pub const MARKER: &str = "calsyncBooking";

/// The event body of a draft (without `id`).
pub fn body(draft: &Draft) -> Value {
    let at = |t: chrono::DateTime<chrono::Utc>| json!({"dateTime": t.with_timezone(&draft.time_zone).to_rfc3339(), "timeZone": draft.time_zone.name()});
    json!({
        "summary": draft.title,
        "description": draft.description,
        "location": draft.location,
        "start": at(draft.start),
        "end": at(draft.end),
        "recurrence": draft.recurrence.iter().collect::<Vec<_>>(),
        "attendees": draft.attendees.iter().map(|a| json!({"email": a})).collect::<Vec<_>>(),
        "extendedProperties": {"private": {MARKER: draft.marker}},
        "status": "confirmed",
    })
}

fn written(v: &Value, fallback: &str) -> Written {
    Written {
        external_id: v["id"].as_str().unwrap_or(fallback).to_string(),
        etag: v["etag"].as_str().map(str::to_string),
    }
}

fn updates(notify: bool) -> &'static str {
    if notify { "all" } else { "none" }
}

impl GoogleCalendar {
    fn event_url(&self, id: &str) -> String {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        format!("{}/{id}", self.events_url())
    }

    async fn patch(&self, id: &str, body: &Value, notify: bool, if_match: Option<&str>) -> Result<Written, ProviderError> {
        let url = self.event_url(id);
        let (_, v) = send(
            &self.pacer,
            "google",
            || {
                let request = self.client.patch(&url).query(&[("sendUpdates", updates(notify))]).bearer_auth(self.access_token.expose()).json(body);
                match if_match {
                    Some(etag) => request.header(reqwest::header::IF_MATCH, etag),
                    None => request,
                }
            },
            |s, w, t| error_of(s, w, t),
            transport,
        )
        .await?;
        Ok(written(&v, id))
    }

    pub(super) async fn put_event(&self, put: &Put<'_>) -> Result<Written, ProviderError> {
        let body = body(put.draft);
        if let Some(id) = put.external_id {
            return self.patch(id, &body, put.draft.notify, put.if_match).await.map_err(|e| match e.kind {
                ErrorKind::NotFound | ErrorKind::Gone => ProviderError::new(e.kind, "The copy was deleted in Google Calendar."),
                _ => e,
            });
        }
        let mut create = body.clone();
        create["id"] = json!(put.key);
        let url = self.events_url();
        let made = send(
            &self.pacer,
            "google",
            || self.client.post(&url).query(&[("sendUpdates", updates(put.draft.notify))]).bearer_auth(self.access_token.expose()).json(&create),
            |s, w, t| error_of(s, w, t),
            transport,
        )
        .await;
        match made {
            Ok((_, v)) => Ok(written(&v, put.key)),
            // An earlier attempt made it: bring that event in line instead of a second one.
            Err(e) if e.kind == ErrorKind::Conflict => self.patch(put.key, &body, put.draft.notify, None).await,
            Err(e) => Err(e),
        }
    }

    async fn get_event(&self, id: &str) -> Result<Value, ProviderError> {
        let url = self.event_url(id);
        send(&self.pacer, "google", || self.client.get(&url).bearer_auth(self.access_token.expose()), |s, w, t| error_of(s, w, t), transport).await.map(|(_, v)| v)
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
        let done = send(
            &self.pacer,
            "google",
            || self.client.delete(&url).query(&[("sendUpdates", updates(notify))]).bearer_auth(self.access_token.expose()),
            |s, w, t| error_of(s, w, t),
            transport,
        )
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
