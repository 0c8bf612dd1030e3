//! Google events as the iCalendar reader's events, so the project's own recurrence expander
//! turns them into series and instances: `recurrence[]` entries are RFC 5545 lines already
//! (read by the reader's own code for those lines), exceptions are overrides with a
//! recurrence id, cancelled exceptions hide one occurrence. No iCalendar text is written.
//!
//! Each series' UID is the Google id of its master (or of the single event): unique in the
//! calendar, unlike `iCalUID`, which an imported invitation may share.
use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::busy::{Response, Show};
use crate::events::{Fingerprint, Status};
use crate::ical::{self, values::TimeValue, Recurrence};

/// The fields of an Event resource calsync reads. Unknown fields are ignored; missing ones
/// default, so a deletion (only `id` and `status`) reads too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    /// Not part of the event's fingerprint: it changes with fields calsync does not read.
    #[serde(default, skip_serializing)]
    pub etag: Option<String>,
    #[serde(default, rename = "iCalUID")]
    pub ical_uid: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub transparency: Option<String>,
    /// `default`, `outOfOffice`, `focusTime`, `workingLocation`, `fromGmail`, `birthday`.
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub sequence: Option<i64>,
    #[serde(default)]
    pub start: Option<EventTime>,
    #[serde(default)]
    pub end: Option<EventTime>,
    #[serde(default)]
    pub recurrence: Option<Vec<String>>,
    #[serde(default)]
    pub recurring_event_id: Option<String>,
    #[serde(default)]
    pub original_start_time: Option<EventTime>,
    #[serde(default)]
    pub organizer: Option<Person>,
    #[serde(default)]
    pub attendees: Option<Vec<Person>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub date_time: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(default)]
    pub email: Option<String>,
    /// This entry is the calendar the copy of the event is in.
    #[serde(default, rename = "self")]
    pub is_self: bool,
    /// `needsAction`, `declined`, `tentative`, `accepted` (attendees only).
    #[serde(default)]
    pub response_status: Option<String>,
}

impl Person {
    fn response(&self) -> Response {
        match self.response_status.as_deref() {
            Some("declined") => Response::Declined,
            Some("tentative") => Response::Tentative,
            Some("accepted") => Response::Accepted,
            _ => Response::Unanswered,
        }
    }
}

impl GoogleEvent {
    pub fn is_cancelled(&self) -> bool {
        self.status.as_deref() == Some("cancelled")
    }

    /// The series it belongs to: its master's id for an instance, else its own.
    pub fn series_id(&self) -> &str {
        self.recurring_event_id.as_deref().unwrap_or(&self.id)
    }

    /// A deletion of a whole event or series (a cancelled instance only hides one occurrence).
    pub fn is_removal(&self) -> bool {
        self.is_cancelled() && self.recurring_event_id.is_none()
    }

    /// The addresses Google marks as this calendar (`self`) in the event.
    pub fn self_addresses(&self) -> impl Iterator<Item = String> + '_ {
        self.organizer.iter().chain(self.attendees.iter().flatten()).filter(|p| p.is_self).filter_map(|p| p.email.clone())
    }

    /// `eventType` as the busy status the rules know.
    fn busystatus(&self) -> Option<Show> {
        match self.event_type.as_deref() {
            Some("outOfOffice") => Some(Show::OutOfOffice),
            Some("workingLocation") => Some(Show::WorkingElsewhere),
            _ => None,
        }
    }

    pub fn is_recurring(&self) -> bool {
        self.recurring_event_id.is_some() || self.recurrence.as_ref().is_some_and(|r| !r.is_empty())
    }
}

/// A Google time as the reader's: a date, a wall-clock time in its zone, or UTC. `None` when
/// unreadable.
fn time_value(t: &EventTime) -> Option<TimeValue> {
    if let Some(d) = &t.date {
        return NaiveDate::parse_from_str(d, "%Y-%m-%d").ok().map(TimeValue::Date);
    }
    let at = DateTime::parse_from_rfc3339(t.date_time.as_deref()?).ok()?;
    if let Some(tz) = t.time_zone.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        return Some(TimeValue::Zoned(at.with_timezone(&tz).naive_local(), tz.name().to_owned()));
    }
    Some(TimeValue::Utc(at.naive_utc()))
}

/// One event as the reader's, with what its recurrence lines had that could not be read; the
/// reason when the event cannot be read. `line`: its place in the answer, which the
/// expander's warnings name.
fn event(e: &GoogleEvent, line: usize) -> Result<(ical::Event, Vec<String>), String> {
    let unreadable = |what: &str| format!("event {}: {what}", e.id);
    let recurrence_id = match e.recurring_event_id.as_ref().and(e.original_start_time.as_ref()) {
        Some(original) => Some(time_value(original).ok_or_else(|| unreadable("unreadable originalStartTime"))?),
        None => None,
    };
    let mut hash = Fingerprint::new();
    hash.add(&serde_json::to_vec(e).unwrap_or_default());
    let mut out = ical::Event {
        line,
        uid: e.series_id().to_owned(),
        recurrence_id,
        this_and_future: false,
        start: TimeValue::Date(NaiveDate::MIN),
        end: None,
        duration: None,
        rrules: Vec::new(),
        rdates: Vec::new(),
        exdates: Vec::new(),
        status: Status::Confirmed,
        transparent: false,
        summary: None,
        description: None,
        location: None,
        organizer: None,
        attendees: Vec::new(),
        answers: Vec::new(),
        show: None,
        response: None,
        sequence: e.sequence.unwrap_or(0),
        recurrence_text: String::new(),
        source_hash: hash.value(),
    };
    if e.is_cancelled() {
        // A cancelled instance: only its original time is known.
        let original = e.original_start_time.as_ref().ok_or_else(|| unreadable("a cancelled instance without originalStartTime"))?;
        out.start = time_value(original).ok_or_else(|| unreadable("unreadable originalStartTime"))?;
        out.status = Status::Cancelled;
        return Ok((out, Vec::new()));
    }
    out.start = e.start.as_ref().and_then(time_value).ok_or_else(|| unreadable("no readable start"))?;
    out.end = e.end.as_ref().and_then(time_value);
    let mut notes = Vec::new();
    if e.recurring_event_id.is_none() {
        let (recurrence, unread) = Recurrence::of_lines(e.recurrence.iter().flatten().map(String::as_str));
        notes = unread.into_iter().map(|w| format!("Event {}: {w}.", e.id)).collect();
        (out.rrules, out.rdates, out.exdates, out.recurrence_text) = (recurrence.rrules, recurrence.rdates, recurrence.exdates, recurrence.text);
    }
    out.summary = Some(e.summary.clone().unwrap_or_default());
    out.description = e.description.clone();
    out.location = e.location.clone();
    if e.status.as_deref() == Some("tentative") {
        out.status = Status::Tentative;
    }
    out.transparent = e.transparency.as_deref() == Some("transparent");
    out.show = e.busystatus();
    out.organizer = e.organizer.as_ref().and_then(|o| o.email.clone());
    for a in e.attendees.iter().flatten() {
        if let Some(email) = &a.email {
            out.attendees.push(email.clone());
            out.answers.push(a.response());
        }
    }
    Ok((out, notes))
}

/// The events as one calendar for the expander, with a warning for each one that could not be
/// read (it is left out, not guessed at). Deletions of whole events are left out.
pub fn to_calendar<'a>(events: impl IntoIterator<Item = &'a GoogleEvent>) -> (ical::Calendar, Vec<String>) {
    let mut calendar = ical::Calendar { events: Vec::new(), zones: Default::default(), warnings: Vec::new(), default_tzid: None };
    let mut warnings = Vec::new();
    for (i, e) in events.into_iter().enumerate().filter(|(_, e)| !e.is_removal()) {
        match event(e, i + 1) {
            Ok((one, notes)) => {
                calendar.events.push(one);
                warnings.extend(notes);
            }
            Err(w) => warnings.push(format!("Skipped {w}.")),
        }
    }
    (calendar, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> GoogleEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn zoned_all_day_and_utc_times_and_text_as_it_came() {
        let e = read(
            r#"{"id":"a1","summary":"Plan; review, then\nship","start":{"dateTime":"2030-03-31T09:00:00+02:00","timeZone":"Europe/Berlin"},"end":{"dateTime":"2030-03-31T10:00:00+02:00","timeZone":"Europe/Berlin"},"transparency":"transparent"}"#,
        );
        let (calendar, warnings) = to_calendar([&e]);
        assert!(warnings.is_empty());
        let one = &calendar.events[0];
        assert_eq!(one.start, TimeValue::Zoned(NaiveDate::from_ymd_opt(2030, 3, 31).unwrap().and_hms_opt(9, 0, 0).unwrap(), "Europe/Berlin".into()));
        assert_eq!(one.summary.as_deref(), Some("Plan; review, then\nship"));
        assert!(one.transparent);
        let d = read(r#"{"id":"d","start":{"date":"2030-01-01"},"end":{"date":"2030-01-02"}}"#);
        let d = &to_calendar([&d]).0.events[0];
        assert_eq!(
            (d.start.clone(), d.end.clone()),
            (TimeValue::Date(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()), Some(TimeValue::Date(NaiveDate::from_ymd_opt(2030, 1, 2).unwrap())))
        );
        let u = read(r#"{"id":"u","start":{"dateTime":"2030-01-01T09:00:00-05:00"},"end":{"dateTime":"2030-01-01T10:00:00-05:00"}}"#);
        assert_eq!(to_calendar([&u]).0.events[0].start, TimeValue::Utc(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap().and_hms_opt(14, 0, 0).unwrap()));
    }

    #[test]
    fn a_recurrence_entry_stays_one_line_and_unreadable_events_are_skipped() {
        let e = read(
            r#"{"id":"r","summary":"Stand-up","start":{"dateTime":"2030-01-01T09:00:00Z"},"end":{"dateTime":"2030-01-01T10:00:00Z"},"recurrence":["RRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:evil","X-THING:1","EXDATE:20300102T090000Z"]}"#,
        );
        let (calendar, warnings) = to_calendar([&e]);
        assert_eq!(warnings, vec!["Event r: recurrence entry 2 is X-THING, not RRULE, RDATE or EXDATE; ignored.".to_string()]);
        let r = &calendar.events[0];
        assert_eq!(r.rrules, vec![(1, "FREQ=DAILY;COUNT=2".to_string())]);
        assert_eq!(r.exdates.len(), 1);
        assert_eq!(r.summary.as_deref(), Some("Stand-up"));
        assert!(!r.recurrence_text.contains("X-THING") && !r.recurrence_text.contains("evil"));
        let broken = read(r#"{"id":"b","start":{"dateTime":"yesterday"}}"#);
        let (calendar, warnings) = to_calendar([&broken]);
        assert!(calendar.events.is_empty());
        assert_eq!(warnings, vec!["Skipped event b: no readable start.".to_string()]);
    }

    #[test]
    fn answers_and_event_types_reach_the_rules() {
        let e = read(
            r#"{"id":"i","eventType":"outOfOffice","start":{"date":"2030-01-01"},"organizer":{"email":"boss@example.com"},"attendees":[{"email":"me@example.com","self":true,"responseStatus":"declined"}]}"#,
        );
        let one = &to_calendar([&e]).0.events[0];
        assert_eq!(one.show, Some(Show::OutOfOffice));
        assert_eq!(
            (one.organizer.as_deref(), one.attendees.clone(), one.answers.clone()),
            (Some("boss@example.com"), vec!["me@example.com".to_string()], vec![Response::Declined])
        );
        let mut changed = e.clone();
        changed.etag = Some("\"2\"".into());
        assert_eq!(to_calendar([&changed]).0.events[0].source_hash, one.source_hash, "the etag alone does not change the fingerprint");
        changed.summary = Some("Away".into());
        assert_ne!(to_calendar([&changed]).0.events[0].source_hash, one.source_hash);
    }
}
