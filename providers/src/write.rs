//! What calsync writes into a calendar (two-way push): a meeting as the booking side holds it,
//! and what the provider answered. Adapters turn a [`Draft`] into their own event body.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{ErrorKind, ProviderError};

/// How far ahead a recurring booking's occurrences are checked and looked up (a year).
pub const CHECK_DAYS: i64 = 366;

/// A meeting to write, in the provider-neutral form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub attendees: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The zone it is shown and recurs in.
    pub time_zone: Tz,
    /// `RRULE:…`
    pub recurrence: Option<String>,
    /// Let the provider email the attendees.
    pub notify: bool,
    /// A back-reference kept with the copy (Google: a private extended property).
    pub marker: String,
    /// The occurrences of a recurring meeting that differ from its series, by original start
    /// (RFC 3339, UTC).
    pub occurrences: BTreeMap<String, Occurrence>,
}

/// One occurrence of a recurring meeting that differs from its series: cancelled, or with
/// its own title or times. Fields left `None` follow the series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
}

impl Occurrence {
    /// The occurrence's title, start and end, given its series' title and length.
    pub fn resolve(&self, original: DateTime<Utc>, title: &str, length: chrono::Duration) -> (String, DateTime<Utc>, DateTime<Utc>) {
        let start = self.start.unwrap_or(original);
        (self.title.clone().unwrap_or_else(|| title.to_string()), start, self.end.unwrap_or(start + length))
    }

    /// What an occurrence looks like against its series: `None` when it follows it.
    pub fn of(
        original: DateTime<Utc>,
        series_title: &str,
        length: chrono::Duration,
        cancelled: bool,
        title: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Option<Occurrence> {
        if cancelled {
            return Some(Occurrence { cancelled: true, ..Occurrence::default() });
        }
        let moved = start != original || end != original + length;
        let o = Occurrence {
            cancelled: false,
            title: (title != series_title).then(|| title.to_string()),
            start: moved.then_some(start),
            end: moved.then_some(end),
        };
        (o != Occurrence::default()).then_some(o)
    }
}

/// An occurrence of a series as the calendar holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub cancelled: bool,
}

/// An occurrence's key: its original start as RFC 3339 in UTC (`2026-12-09T09:00:00Z`).
pub fn occurrence_key(original: DateTime<Utc>) -> String {
    original.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reads an occurrence's key back; also accepts any RFC 3339 offset and the basic form
/// `20261209T090000Z` that Google's instance ids end in.
pub fn parse_occurrence_key(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").ok().map(|t| t.and_utc())
}

/// One write of a copy.
#[derive(Debug, Clone)]
pub struct Put<'a> {
    /// The idempotency key chosen for this copy before its first attempt (Google's event id,
    /// Graph's `transactionId`).
    pub key: &'a str,
    /// The provider's id once a write succeeded; `None`: create it.
    pub external_id: Option<&'a str>,
    /// An earlier attempt may have committed without calsync hearing the answer.
    pub retry: bool,
    /// The version of the copy calsync last wrote or accepted: an update is refused
    /// (`PreconditionFailed`) when the calendar's copy changed since, so no edit made there is
    /// overwritten unseen.
    pub if_match: Option<&'a str>,
    pub draft: &'a Draft,
    /// The copy as calsync last wrote it (`None`: never written): its occurrences that changed
    /// since are written again.
    pub before: Option<Before<'a>>,
    /// The meeting may be in the calendar already under another key (it was written there
    /// before): a create first looks it up by its marker.
    pub look_first: bool,
}

/// What calsync last wrote of a copy (or, before its first confirmed write, last sent).
#[derive(Debug, Clone, Copy)]
pub struct Before<'a> {
    pub title: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub location: Option<&'a str>,
    pub description: Option<&'a str>,
    pub occurrences: &'a BTreeMap<String, Occurrence>,
}

impl Put<'_> {
    /// The occurrences to write, with what each should be now (`None`: as the series makes
    /// it): those changed since the last write, and, when the series was retitled, those that
    /// take the series' title (an exception in the calendar holds a title of its own).
    pub fn occurrences_to_write(&self) -> Vec<(String, Option<&Occurrence>)> {
        let empty = BTreeMap::new();
        let (title, before) = match self.before {
            Some(b) => (Some(b.title), b.occurrences),
            None => (None, &empty),
        };
        let retitled = title.is_some_and(|t| t != self.draft.title);
        let keys: std::collections::BTreeSet<&String> = before.keys().chain(self.draft.occurrences.keys()).collect();
        keys.into_iter()
            .filter_map(|k| {
                let (was, now) = (before.get(k), self.draft.occurrences.get(k));
                let follows_title = now.is_some_and(|o| !o.cancelled && o.title.is_none());
                (was != now || (retitled && follows_title)).then(|| (k.clone(), now))
            })
            .collect()
    }
}

/// What the provider holds after a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The id the copy is known by in the calendar (and in synced events, its uid).
    pub external_id: String,
    /// The provider's version tag (Google's etag, Graph's changeKey).
    pub etag: Option<String>,
}

/// The answer of an adapter that cannot write (iCal feeds).
pub fn read_only() -> ProviderError {
    ProviderError::new(ErrorKind::Forbidden, "This calendar is read-only: calsync cannot write to it.")
}
