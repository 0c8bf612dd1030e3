//! Google events as iCalendar text, so the project's own reader and recurrence expander turn
//! them into series and instances: `recurrence[]` lines are RFC 5545 already, exceptions are
//! overrides with a RECURRENCE-ID, cancelled exceptions hide one occurrence.
//!
//! Each series' UID is the Google id of its master (or of the single event): unique in the
//! calendar, unlike `iCalUID`, which an imported invitation may share.
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;

use crate::busy::{Response, Show};

/// The fields of an Event resource calsync reads. Unknown fields are ignored; missing ones
/// default, so a deletion (only `id` and `status`) reads too.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleEvent {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub date_time: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
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
    /// The answer as an iCalendar PARTSTAT.
    fn partstat(&self) -> &'static str {
        match self.response_status.as_deref() {
            Some("declined") => Response::Declined,
            Some("tentative") => Response::Tentative,
            Some("accepted") => Response::Accepted,
            _ => Response::Unanswered,
        }
        .as_partstat()
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

    /// `eventType` as Microsoft's busy status, the iCalendar spelling the reader knows.
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

/// TEXT escaping (RFC 5545 §3.3.11); line breaks become `\n`, so a value never adds a line.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A property line for a time: a date, a zoned local time, or UTC. `None` when unreadable.
fn time_line(name: &str, t: &EventTime) -> Option<String> {
    if let Some(d) = &t.date {
        let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
        return Some(format!("{name};VALUE=DATE:{}", d.format("%Y%m%d")));
    }
    let at = DateTime::parse_from_rfc3339(t.date_time.as_deref()?).ok()?;
    if let Some(tz) = t.time_zone.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        return Some(format!("{name};TZID={}:{}", tz.name(), at.with_timezone(&tz).format("%Y%m%dT%H%M%S")));
    }
    Some(format!("{name}:{}", at.to_utc().format("%Y%m%dT%H%M%SZ")))
}

/// One VEVENT; `None` (with the reason) when the event cannot be read.
fn vevent(out: &mut String, e: &GoogleEvent) -> Result<(), String> {
    let uid = text(e.series_id());
    let mut lines = vec![format!("UID:{uid}")];
    if let Some(original) = e.recurring_event_id.as_ref().and(e.original_start_time.as_ref()) {
        lines.push(time_line("RECURRENCE-ID", original).ok_or_else(|| format!("event {}: unreadable originalStartTime", e.id))?);
    }
    if e.is_cancelled() {
        // A cancelled instance: only its original time is known.
        let original = e.original_start_time.as_ref().ok_or_else(|| format!("event {}: a cancelled instance without originalStartTime", e.id))?;
        lines.push(time_line("DTSTART", original).ok_or_else(|| format!("event {}: unreadable originalStartTime", e.id))?);
        lines.push("STATUS:CANCELLED".into());
    } else {
        let start = e.start.as_ref().and_then(|t| time_line("DTSTART", t)).ok_or_else(|| format!("event {}: no readable start", e.id))?;
        lines.push(start);
        if let Some(end) = e.end.as_ref().and_then(|t| time_line("DTEND", t)) {
            lines.push(end);
        }
        if e.recurring_event_id.is_none() {
            for rule in e.recurrence.iter().flatten() {
                // Each entry is one RRULE/EXRULE/RDATE/EXDATE line; nothing may add another.
                let rule: String = rule.chars().filter(|c| !c.is_control()).collect();
                let known = ["RRULE", "EXRULE", "RDATE", "EXDATE"].iter().any(|p| rule.starts_with(p));
                if known {
                    lines.push(rule);
                }
            }
        }
        lines.push(format!("SUMMARY:{}", text(e.summary.as_deref().unwrap_or(""))));
        if let Some(d) = &e.description {
            lines.push(format!("DESCRIPTION:{}", text(d)));
        }
        if let Some(l) = &e.location {
            lines.push(format!("LOCATION:{}", text(l)));
        }
        if e.status.as_deref() == Some("tentative") {
            lines.push("STATUS:TENTATIVE".into());
        }
        if e.transparency.as_deref() == Some("transparent") {
            lines.push("TRANSP:TRANSPARENT".into());
        }
        if let Some(show) = e.busystatus() {
            lines.push(format!("X-MICROSOFT-CDO-BUSYSTATUS:{}", show.as_busystatus()));
        }
        if let Some(email) = e.organizer.as_ref().and_then(|o| o.email.as_deref()) {
            lines.push(format!("ORGANIZER:mailto:{}", text(email)));
        }
        for a in e.attendees.iter().flatten() {
            if let Some(email) = a.email.as_deref() {
                lines.push(format!("ATTENDEE;PARTSTAT={}:mailto:{}", a.partstat(), text(email)));
            }
        }
    }
    lines.push(format!("SEQUENCE:{}", e.sequence.unwrap_or(0)));
    out.push_str("BEGIN:VEVENT\r\n");
    for l in lines {
        let _ = write!(out, "{l}\r\n");
    }
    out.push_str("END:VEVENT\r\n");
    Ok(())
}

/// The events as one iCalendar document, with a warning for each one that could not be read
/// (it is left out, not guessed at). Deletions of whole events are not written.
pub fn to_ical<'a>(events: impl IntoIterator<Item = &'a GoogleEvent>) -> (String, Vec<String>) {
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync//Google Calendar//EN\r\n");
    let mut warnings = Vec::new();
    for e in events.into_iter().filter(|e| !e.is_removal()) {
        let mut one = String::new();
        match vevent(&mut one, e) {
            Ok(()) => out.push_str(&one),
            Err(w) => warnings.push(format!("Skipped {w}.")),
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> GoogleEvent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn zoned_all_day_and_utc_times_and_escaped_text() {
        let e = read(r#"{"id":"a1","summary":"Plan; review, then\nship","start":{"dateTime":"2030-03-31T09:00:00+02:00","timeZone":"Europe/Berlin"},"end":{"dateTime":"2030-03-31T10:00:00+02:00","timeZone":"Europe/Berlin"},"transparency":"transparent"}"#);
        let (ics, warnings) = to_ical([&e]);
        assert!(warnings.is_empty());
        assert!(ics.contains("DTSTART;TZID=Europe/Berlin:20300331T090000\r\n"), "{ics}");
        assert!(ics.contains("SUMMARY:Plan\\; review\\, then\\nship\r\n"));
        assert!(ics.contains("TRANSP:TRANSPARENT"));
        let d = read(r#"{"id":"d","start":{"date":"2030-01-01"},"end":{"date":"2030-01-02"}}"#);
        assert!(to_ical([&d]).0.contains("DTSTART;VALUE=DATE:20300101\r\nDTEND;VALUE=DATE:20300102\r\n"));
        let u = read(r#"{"id":"u","start":{"dateTime":"2030-01-01T09:00:00-05:00"},"end":{"dateTime":"2030-01-01T10:00:00-05:00"}}"#);
        assert!(to_ical([&u]).0.contains("DTSTART:20300101T140000Z\r\n"));
    }

    #[test]
    fn a_recurrence_line_cannot_smuggle_another_property_and_unreadable_events_are_skipped() {
        let e = read(r#"{"id":"r","start":{"dateTime":"2030-01-01T09:00:00Z"},"end":{"dateTime":"2030-01-01T10:00:00Z"},"recurrence":["RRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:evil","X-THING:1"]}"#);
        let (ics, _) = to_ical([&e]);
        assert!(ics.contains("RRULE:FREQ=DAILY;COUNT=2SUMMARY:evil\r\n"));
        assert!(!ics.contains("X-THING"));
        let broken = read(r#"{"id":"b","start":{"dateTime":"yesterday"}}"#);
        let (ics, warnings) = to_ical([&broken]);
        assert!(!ics.contains("UID:b"));
        assert_eq!(warnings.len(), 1);
    }
}
