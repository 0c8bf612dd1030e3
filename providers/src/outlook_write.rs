//! Writing copies into an Outlook calendar through Microsoft Graph (two-way push). The copy's
//! idempotency key is the event's `transactionId`: a create repeated after a timeout answers
//! the event the first one made. Graph has no per-request switch for invitations: it emails
//! the attendees it is given. So a booking that does not ask to notify is written without
//! attendees, and names them in the body instead.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::graph_recurrence::PatternedRecurrence;
use super::http;
use super::outlook::{calendar_path, refusal, DateTimeTimeZone, OutlookCalendar, API};
use super::write::{parse_occurrence_key, Before, Draft, Placed, Put, Written};
use super::{ErrorKind, ProviderError};

/// The event body of a draft; `transactionId` only on a create.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<&'a str>,
    pub subject: &'a str,
    pub body: ItemBody,
    pub start: DateTimeTimeZone,
    pub end: DateTimeTimeZone,
    pub location: Location,
    pub attendees: Vec<Attendee<'a>>,
    /// `null` on a single event (a patch that turns a series into one clears it).
    pub recurrence: Option<PatternedRecurrence>,
    pub show_as: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    pub content_type: &'static str,
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee<'a> {
    pub email_address: EmailAddress<'a>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmailAddress<'a> {
    pub address: &'a str,
}

/// What an occurrence is patched to: its subject and times.
#[derive(Serialize)]
struct OccurrenceBody<'a> {
    subject: &'a str,
    start: DateTimeTimeZone,
    end: DateTimeTimeZone,
}

/// A retitle of an exception.
#[derive(Serialize)]
struct SubjectBody<'a> {
    subject: &'a str,
}

/// A `$batch` of creates.
#[derive(Serialize)]
struct Batch<'a> {
    requests: Vec<BatchRequest<'a>>,
}

#[derive(Serialize)]
struct BatchRequest<'a> {
    id: String,
    method: &'static str,
    url: String,
    headers: BTreeMap<&'static str, &'static str>,
    body: EventBody<'a>,
}

/// One answer inside a `$batch` answer.
#[derive(Deserialize)]
struct BatchAnswer {
    id: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Value,
}

#[derive(Deserialize)]
struct BatchAnswers {
    #[serde(default)]
    responses: Vec<BatchAnswer>,
}

/// A time in the draft's zone, as Graph takes it.
fn at(d: &Draft, t: DateTime<Utc>) -> DateTimeTimeZone {
    DateTimeTimeZone { date_time: t.with_timezone(&d.time_zone).format("%Y-%m-%dT%H:%M:%S").to_string(), time_zone: Some(d.time_zone.name().to_owned()) }
}

pub fn body(draft: &Draft) -> Result<EventBody<'_>, ProviderError> {
    let mut text = draft.description.clone().unwrap_or_default();
    let attendees = if draft.notify {
        draft.attendees.iter().map(|a| Attendee { email_address: EmailAddress { address: a }, kind: "required" }).collect()
    } else {
        if !draft.attendees.is_empty() {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&format!("Attendees: {}", draft.attendees.join(", ")));
        }
        Vec::new()
    };
    let recurrence = match &draft.recurrence {
        Some(rule) => Some(super::graph_recurrence::to_graph(rule, draft.start, draft.time_zone).map_err(|m| ProviderError::new(ErrorKind::Invalid, m))?),
        None => None,
    };
    Ok(EventBody {
        transaction_id: None,
        subject: &draft.title,
        body: ItemBody { content_type: "text", content: text },
        start: at(draft, draft.start),
        end: at(draft, draft.end),
        location: Location { display_name: draft.location.clone().unwrap_or_default() },
        attendees,
        recurrence,
        show_as: "busy",
    })
}

/// Graph's limit of requests in one `$batch`.
pub const BATCH_MAX: usize = 20;

fn written(v: &Value, fallback: &str) -> Written {
    Written { external_id: v["id"].as_str().unwrap_or(fallback).to_string(), etag: v["changeKey"].as_str().map(str::to_string) }
}

/// A Graph `dateTimeTimeZone` as an instant (IANA or Windows zone names).
fn instant(t: &Value) -> Option<DateTime<Utc>> {
    let t: super::outlook::DateTimeTimeZone = serde_json::from_value(t.clone()).ok()?;
    super::outlook::when(&t, false).map(|(w, _)| w.instant(chrono_tz::UTC))
}

/// Does an event hold what calsync sent? (Its body holds the notes and maybe the attendees:
/// not compared.)
fn holds(e: &Value, sent: Before<'_>) -> bool {
    e["isCancelled"] != true
        && e["subject"].as_str() == Some(sent.title)
        && instant(&e["start"]) == Some(sent.start)
        && instant(&e["end"]) == Some(sent.end)
        && e["location"]["displayName"].as_str().filter(|l| !l.is_empty()) == sent.location
}

/// Does an occurrence hold what calsync last wrote of it (or, never changed by calsync, what
/// the series makes)? `None`: deleted there. Its subject may already be the series' new one.
fn as_written(item: Option<&Value>, before: Before<'_>, key: &str, original: DateTime<Utc>, length: chrono::Duration, new_title: &str) -> bool {
    let was = before.occurrences.get(key).cloned().unwrap_or_default();
    let Some(item) = item else { return was.cancelled };
    if was.cancelled {
        return false;
    }
    let (title, start, end) = was.resolve(original, before.title, length);
    let subject = item["subject"].as_str().unwrap_or_default();
    instant(&item["start"]) == Some(start) && instant(&item["end"]) == Some(end) && (subject == title || (was.title.is_none() && subject == new_title))
}

impl OutlookCalendar {
    fn event_url(&self, id: &str) -> String {
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        format!("{}/me/events/{id}", self.graph.trim_end_matches('/'))
    }

    async fn patch(&self, id: &str, body: &impl Serialize) -> Result<Written, ProviderError> {
        let url = self.event_url(id);
        let v: Value = API.paced(&self.pacer, || self.client.patch(&url).bearer_auth(self.access_token.expose()).json(body), "answer").await?;
        Ok(written(&v, id))
    }

    pub(super) async fn put_event(&self, put: &Put<'_>) -> Result<Written, ProviderError> {
        let written = self.put_master(put).await?;
        if put.draft.recurrence.is_some() {
            self.put_occurrences(&written.external_id, put).await?;
        }
        Ok(written)
    }

    /// A series' occurrences and exceptions starting between `from` and `to`, every page.
    async fn instances(&self, master: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Value>, ProviderError> {
        let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let first = format!("{}/instances", self.event_url(master));
        let (from, to) = (f(from), f(to));
        let mut page: Value = API
            .paced(
                &self.pacer,
                || {
                    self.client
                        .get(&first)
                        .query(&[("startDateTime", from.as_str()), ("endDateTime", to.as_str()), ("$top", "100")])
                        .bearer_auth(self.access_token.expose())
                },
                "answer",
            )
            .await?;
        let mut out = Vec::new();
        for _ in 0..super::outlook::MAX_PAGES {
            out.extend(page["value"].as_array().cloned().unwrap_or_default());
            let Some(next) = page["@odata.nextLink"].as_str().map(str::to_string) else { return Ok(out) };
            page = API.paced(&self.pacer, || self.client.get(&next).bearer_auth(self.access_token.expose()), "answer").await?;
        }
        Err(ProviderError::new(ErrorKind::Malformed, "Outlook kept answering more pages of a series' occurrences."))
    }

    /// The occurrence or exception of a series that started at `original`, looked for
    /// `reach` either side of it (matched by `originalStart`, which a move keeps); `None`
    /// when it is not there.
    async fn instance(&self, master: &str, original: DateTime<Utc>, reach: chrono::Duration) -> Result<Option<Value>, ProviderError> {
        let at = |i: &Value| i["originalStart"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc());
        Ok(self.instances(master, original - reach, original + reach).await?.into_iter().find(|i| at(i) == Some(original)))
    }

    /// Where an occurrence is now (it may have moved out of the sync window): a year either
    /// side of its original start is looked at; `None` when it is in neither (deleted).
    pub(super) async fn occurrence_now(&self, master: &str, original: DateTime<Utc>) -> Result<Option<Placed>, ProviderError> {
        let Some(item) = self.instance(master, original, chrono::Duration::days(366)).await? else { return Ok(None) };
        let (Some(start), Some(end)) = (instant(&item["start"]), instant(&item["end"])) else {
            return Err(ProviderError::new(ErrorKind::Malformed, "Outlook sent an occurrence without its times."));
        };
        Ok(Some(Placed { title: item["subject"].as_str().unwrap_or_default().to_string(), start, end, cancelled: item["isCancelled"] == true }))
    }

    /// Writes the occurrences that differ from what calsync last wrote: a cancelled one is
    /// deleted, the others are patched to their title and times. One changed or deleted in
    /// Outlook since is not overwritten (`PreconditionFailed`): the next sync merges it.
    async fn put_occurrences(&self, master: &str, put: &Put<'_>) -> Result<(), ProviderError> {
        let d = put.draft;
        let length = d.end - d.start;
        for (key, now) in put.occurrences_to_write() {
            let Some(original) = parse_occurrence_key(&key) else { continue };
            let item = self.instance(master, original, chrono::Duration::days(7)).await?;
            if let Some(before) = put.before {
                if !as_written(item.as_ref(), before, &key, original, length, &d.title) {
                    return Err(ProviderError::new(ErrorKind::PreconditionFailed, format!("The occurrence at {key} changed in Outlook meanwhile.")));
                }
            }
            match (now, item) {
                (Some(o), Some(item)) if o.cancelled => self.remove_event(item["id"].as_str().unwrap_or_default(), d.notify).await?,
                (Some(o), None) if o.cancelled => {}
                (_, None) => {
                    return Err(ProviderError::new(
                        ErrorKind::Invalid,
                        format!("Outlook cannot bring back the occurrence at {key}: it was deleted from the series there."),
                    ))
                }
                (_, Some(item)) => {
                    let (title, start, end) = now.cloned().unwrap_or_default().resolve(original, &d.title, length);
                    self.patch(item["id"].as_str().unwrap_or_default(), &OccurrenceBody { subject: &title, start: at(d, start), end: at(d, end) }).await?;
                }
            }
        }
        match put.before {
            Some(before) if before.title != d.title => self.retitle_exceptions(master, before.title, d).await,
            _ => Ok(()),
        }
    }

    /// A series retitled: its exceptions made in Outlook that still hold the old subject take
    /// the new one (Outlook updates only the occurrences not changed on their own).
    async fn retitle_exceptions(&self, master: &str, old: &str, d: &Draft) -> Result<(), ProviderError> {
        let items = self.instances(master, d.start - chrono::Duration::days(1), d.start + chrono::Duration::days(crate::write::CHECK_DAYS)).await?;
        for item in items.iter().filter(|i| i["type"] == "exception" && i["subject"] == old) {
            self.patch(item["id"].as_str().unwrap_or_default(), &SubjectBody { subject: &d.title }).await?;
        }
        Ok(())
    }

    async fn put_master(&self, put: &Put<'_>) -> Result<Written, ProviderError> {
        let body = body(put.draft)?;
        if let Some(id) = put.external_id {
            // Graph's If-Match on events is not documented: read the copy's changeKey first.
            if let Some(seen) = put.if_match {
                let now = self.get_event(id).await.map_err(|e| match e.kind {
                    ErrorKind::NotFound | ErrorKind::Gone => ProviderError::new(e.kind, "The copy was deleted in Outlook."),
                    _ => e,
                })?;
                if now["changeKey"].as_str() != Some(seen) {
                    return Err(ProviderError::new(ErrorKind::PreconditionFailed, "The event changed in Outlook meanwhile (412)."));
                }
            }
            return self.patch(id, &body).await.map_err(|e| match e.kind {
                ErrorKind::NotFound | ErrorKind::Gone => ProviderError::new(e.kind, "The copy was deleted in Outlook."),
                _ => e,
            });
        }
        let create = EventBody { transaction_id: Some(put.key), ..body.clone() };
        let url = format!("{}/me/{}/events", self.graph.trim_end_matches('/'), calendar_path(&self.calendar_id));
        let v: Value = API.paced(&self.pacer, || self.client.post(&url).bearer_auth(self.access_token.expose()).json(&create), "answer").await?;
        let made = written(&v, "");
        if made.external_id.is_empty() {
            return Err(ProviderError::new(ErrorKind::Malformed, "Outlook made the event but did not say its id."));
        }
        // A repeated create answers the event the first attempt made, as it is now: bring it in
        // line with the booking — unless it was changed in Outlook since what calsync sent
        // (then a sync merges it).
        if put.retry {
            if let Some(sent) = put.before {
                if !holds(&v, sent) {
                    return Err(ProviderError::made_and_changed(&made.external_id, "The event calsync made was changed in Outlook before calsync heard back."));
                }
            }
            return self.patch(&made.external_id, &body).await;
        }
        Ok(made)
    }

    async fn get_event(&self, id: &str) -> Result<Value, ProviderError> {
        let url = self.event_url(id);
        API.paced(&self.pacer, || self.client.get(&url).bearer_auth(self.access_token.expose()), "answer").await
    }

    pub(super) async fn still_there(&self, id: &str) -> Result<bool, ProviderError> {
        match self.get_event(id).await {
            Ok(v) => Ok(v["isCancelled"] != true),
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn updated_at(&self, id: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ProviderError> {
        let v = self.get_event(id).await?;
        Ok(v["lastModifiedDateTime"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc()))
    }

    /// Several puts: the first attempts at creating go out 20 to a `$batch` request (Graph's
    /// limit), each with its `transactionId`; updates and retried creates one by one.
    pub(super) async fn put_batched(&self, puts: &[Put<'_>]) -> Vec<Result<Written, ProviderError>> {
        let mut out: Vec<Option<Result<Written, ProviderError>>> = (0..puts.len()).map(|_| None).collect();
        // A series with changed occurrences goes one by one: they are written after it.
        let fresh: Vec<usize> = (0..puts.len()).filter(|&i| puts[i].external_id.is_none() && !puts[i].retry && puts[i].draft.occurrences.is_empty()).collect();
        let calendar = calendar_path(&self.calendar_id);
        let batch_url = format!("{}/$batch", self.graph.trim_end_matches('/'));
        for group in fresh.chunks(BATCH_MAX) {
            let mut requests = Vec::new();
            for &i in group {
                match body(puts[i].draft) {
                    Ok(b) => requests.push(BatchRequest {
                        id: i.to_string(),
                        method: "POST",
                        url: format!("/me/{calendar}/events"),
                        headers: BTreeMap::from([("Content-Type", "application/json")]),
                        body: EventBody { transaction_id: Some(puts[i].key), ..b },
                    }),
                    Err(e) => out[i] = Some(Err(e)),
                }
            }
            if requests.is_empty() {
                continue;
            }
            let payload = Batch { requests };
            let answers: Result<BatchAnswers, _> =
                API.paced(&self.pacer, || self.client.post(&batch_url).bearer_auth(self.access_token.expose()).json(&payload), "batch answer").await;
            match answers {
                Ok(answers) => {
                    for r in answers.responses {
                        let Some(i) = r.id.parse::<usize>().ok().filter(|i| group.contains(i)) else { continue };
                        let status = r.status.unwrap_or(500);
                        out[i] = Some(if (200..300).contains(&status) {
                            let made = written(&r.body, "");
                            if made.external_id.is_empty() {
                                Err(ProviderError::new(ErrorKind::Malformed, "Outlook made the event but did not say its id."))
                            } else {
                                Ok(made)
                            }
                        } else {
                            // Header names are case-insensitive; Graph spells this one so.
                            let wait = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("retry-after")).and_then(|(_, v)| http::seconds(v));
                            Err(refusal(status, wait, &r.body.to_string()))
                        });
                    }
                }
                Err(e) => {
                    for &i in group {
                        out[i].get_or_insert_with(|| Err(e.clone()));
                    }
                }
            }
        }
        let mut results = Vec::with_capacity(puts.len());
        for (i, done) in out.into_iter().enumerate() {
            results.push(match done {
                Some(r) => r,
                // Not in a batch (an update, a retry), or missing from its answer: on its own.
                None => self.put_event(&puts[i]).await,
            });
        }
        results
    }

    pub(super) async fn remove_event(&self, id: &str, _notify: bool) -> Result<(), ProviderError> {
        let url = self.event_url(id);
        match API.paced::<Value>(&self.pacer, || self.client.delete(&url).bearer_auth(self.access_token.expose()), "answer").await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Gone) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
