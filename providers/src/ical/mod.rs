//! Reading iCalendar feeds: our own tolerant reader (see docs/toolchain.md "Library notes")
//! and recurrence expansion with the rrule crate.
//!
//! `parse` turns bytes into VEVENTs and VTIMEZONEs, skipping broken lines and components with a
//! warning that names the source line; `expand` turns them into the domain's series and
//! instances inside a window.
pub mod expand;
pub mod lines;
pub mod values;
mod windows_zones;
pub mod zones;

use chrono::Duration;

use crate::busy::{Owner, Response, Show, Signals};
use crate::events::{Fingerprint, Status};
use lines::ContentLine;
use values::{parse_duration, parse_time_value, unescape_text, TimeValue};
use zones::{DefinedZone, Observance, ZoneTable};

pub use expand::{expand, expand_within, Budget, Expanded, Options};

/// Something skipped or repaired while reading, with the source line when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The feed could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub line: Option<usize>,
    pub message: String,
    /// The feed stops inside a component: the transfer was incomplete, so what it lacks must
    /// not be taken as deleted.
    pub cut_off: bool,
}

impl ParseError {
    fn new(line: Option<usize>, message: impl Into<String>) -> Self {
        ParseError { line, message: message.into(), cut_off: false }
    }

    fn cut_off(line: usize) -> Self {
        ParseError { line: Some(line), message: format!("The feed ended early (line {line}) — it looks cut off in transfer."), cut_off: true }
    }
}

/// One VEVENT as written.
#[derive(Debug, Clone)]
pub struct Event {
    /// The line of its BEGIN:VEVENT.
    pub line: usize,
    pub uid: String,
    pub recurrence_id: Option<TimeValue>,
    /// RECURRENCE-ID;RANGE=THISANDFUTURE.
    pub this_and_future: bool,
    pub start: TimeValue,
    pub end: Option<TimeValue>,
    pub duration: Option<Duration>,
    /// Every RRULE line: RFC 5545 says SHOULD NOT have several, feeds do; the occurrences
    /// are their union.
    pub rrules: Vec<(usize, String)>,
    pub rdates: Vec<(usize, TimeValue, Option<Duration>)>,
    pub exdates: Vec<(usize, TimeValue)>,
    pub status: Status,
    pub transparent: bool,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub organizer: Option<String>,
    pub attendees: Vec<String>,
    /// Each attendee's answer (PARTSTAT), beside `attendees`.
    pub answers: Vec<Response>,
    /// `X-MICROSOFT-CDO-BUSYSTATUS` (Outlook's and Exchange's exports).
    pub show: Option<Show>,
    /// The calendar owner's answer, once [`Calendar::set_owner`] has looked for them.
    pub response: Option<Response>,
    pub sequence: i64,
    /// The recurrence lines as written, for the stored series.
    pub recurrence_text: String,
    pub source_hash: u64,
}

pub struct Calendar {
    pub events: Vec<Event>,
    pub zones: ZoneTable,
    pub warnings: Vec<Warning>,
    /// `X-WR-TIMEZONE` (Google's and Apple's exports): the zone floating times are meant in.
    pub default_tzid: Option<String>,
}

impl Calendar {
    /// Finds the owner's answer in every event: none when they organise it or are not among
    /// its attendees.
    pub fn set_owner(&mut self, owner: &Owner) {
        for e in &mut self.events {
            let organises = e.organizer.as_deref().is_some_and(|o| owner.is(o));
            e.response = match organises {
                true => None,
                false => e.attendees.iter().position(|a| owner.is(a)).map(|i| e.answers[i]),
            };
        }
    }
}

impl Event {
    /// What classifies it (`crate::busy::Kind::of`).
    pub fn signals(&self) -> Signals {
        Signals {
            response: self.response,
            show: self.show,
            transparent: self.transparent,
            tentative: self.status == Status::Tentative,
            all_day: self.start.is_date(),
        }
    }
}

/// The name of the calendar frame opened for bare components.
const IMPLICIT: &str = "(implicit VCALENDAR)";

/// Which component the lines currently belong to.
enum Open<'a> {
    Calendar,
    Event(Vec<ContentLine<'a>>),
    Timezone(Vec<ContentLine<'a>>, Vec<Observance>),
    Observance(Vec<ContentLine<'a>>),
    /// Anything we do not read (VTODO, VALARM, X-…): its lines are dropped.
    Other,
}

struct Frame<'a> {
    name: String,
    line: usize,
    open: Open<'a>,
}

/// How many warnings a feed keeps (a hostile feed can have a million broken lines).
const MAX_WARNINGS: usize = 1000;

/// How deep components may nest (VCALENDAR › VEVENT › VALARM is three): anything deeper is
/// skipped whole, so every line costs the same however a feed nests.
const MAX_DEPTH: usize = 16;

/// Warnings, at most [`MAX_WARNINGS`] kept, the rest counted.
#[derive(Default)]
struct Notes {
    list: Vec<Warning>,
    dropped: usize,
}

impl Notes {
    fn add(&mut self, w: Warning) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.dropped += 1;
        }
    }

    fn into_list(mut self) -> Vec<Warning> {
        if self.dropped > 0 {
            self.list.push(Warning { line: None, message: format!("… and {} more warnings", self.dropped) });
        }
        self.list
    }
}

/// Reads a feed; see the module's notes.
pub fn parse(bytes: &[u8]) -> Result<Calendar, ParseError> {
    parse_until(bytes, None)
}

/// The feed took longer than the reader may spend on it.
pub const MSG_TOO_SLOW: &str = "reading took longer than allowed";

/// Reads a feed, giving up (with [`MSG_TOO_SLOW`]) when `deadline` passes.
pub fn parse_until(bytes: &[u8], deadline: Option<std::time::Instant>) -> Result<Calendar, ParseError> {
    let decoded = lines::decode(bytes);
    let mut warnings = Notes::default();
    // Skipped components nested deeper than MAX_DEPTH: their ENDs close them.
    let mut too_deep = 0usize;
    if let Some(line) = decoded.invalid_utf8_line {
        warnings.add(Warning { line: Some(line), message: "invalid UTF-8; the unreadable bytes were replaced with \u{FFFD}".into() });
    }
    let text: &str = &decoded.text;
    if text.trim().is_empty() {
        return Err(ParseError::new(None, "the feed is empty"));
    }

    let mut stack: Vec<Frame> = Vec::new();
    let mut events = Vec::new();
    let mut zones = ZoneTable::default();
    let mut calendars = 0;
    let mut first_line: Option<(usize, String)> = None;
    let mut default_tzid = None;
    let mut last_line = 0;
    // Whether the last line was an END that closed nothing (`END:VCALENDARD`, or an
    // `END:VCAL` whose line was cut): the writer got to its closing line.
    let mut ended_unmatched = false;

    for (n, item) in lines::content_lines(text).enumerate() {
        if n % 4096 == 0 && deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(ParseError::new(None, MSG_TOO_SLOW));
        }
        let line = match item {
            Ok(line) => {
                last_line = line.line;
                ended_unmatched = false;
                line
            }
            Err(bad) => {
                last_line = bad.line;
                ended_unmatched = false;
                if !stack.is_empty() {
                    warnings.add(Warning { line: Some(bad.line), message: format!("{}; line skipped", bad.message) });
                } else if first_line.is_none() {
                    first_line = Some((bad.line, bad.message));
                }
                continue;
            }
        };
        match &*line.name {
            "BEGIN" => {
                let name = line.value.trim().to_ascii_uppercase();
                if too_deep > 0 || stack.len() >= MAX_DEPTH {
                    if too_deep == 0 {
                        warnings.add(Warning { line: Some(line.line), message: format!("components nested more than {MAX_DEPTH} deep; skipped") });
                    }
                    too_deep += 1;
                    continue;
                }
                if stack.is_empty() && matches!(name.as_str(), "VEVENT" | "VTIMEZONE") {
                    // A bare component without its calendar: read it as if it were wrapped.
                    warnings.add(Warning { line: Some(line.line), message: format!("BEGIN:{name} outside a VCALENDAR; read as if inside one") });
                    calendars += 1;
                    stack.push(Frame { name: IMPLICIT.into(), line: line.line, open: Open::Calendar });
                }
                if matches!(name.as_str(), "VEVENT" | "VTIMEZONE") {
                    // These only live directly in a calendar: whatever is open above it was
                    // never closed (a cut-off component); skip it and start the new one.
                    if let Some(depth) = stack.iter().rposition(|f| matches!(f.open, Open::Calendar)) {
                        while stack.len() > depth + 1 {
                            let frame = stack.pop().expect("depth is below the stack length");
                            warnings.add(Warning {
                                line: Some(frame.line),
                                message: format!("BEGIN:{} is never closed (BEGIN:{name} at line {} comes first); component skipped", frame.name, line.line),
                            });
                        }
                    }
                }
                let parent = stack.last().map(|f| &f.open);
                let open = match (name.as_str(), parent) {
                    ("VCALENDAR", None) => {
                        calendars += 1;
                        Open::Calendar
                    }
                    ("VEVENT", Some(Open::Calendar)) => Open::Event(Vec::new()),
                    ("VTIMEZONE", Some(Open::Calendar)) => Open::Timezone(Vec::new(), Vec::new()),
                    ("STANDARD" | "DAYLIGHT", Some(Open::Timezone(..))) => Open::Observance(Vec::new()),
                    _ => Open::Other,
                };
                if stack.is_empty() && name != "VCALENDAR" && first_line.is_none() {
                    first_line = Some((line.line, format!("found BEGIN:{name}")));
                }
                stack.push(Frame { name, line: line.line, open });
            }
            "END" => {
                if too_deep > 0 {
                    too_deep -= 1;
                    continue;
                }
                let name = line.value.trim().to_ascii_uppercase();
                let Some(depth) = stack.iter().rposition(|f| f.name == name) else {
                    ended_unmatched = true;
                    warnings.add(Warning { line: Some(line.line), message: format!("END:{name} without a matching BEGIN; line skipped") });
                    continue;
                };
                // Components left open inside the one being closed are broken: skip them.
                while stack.len() > depth + 1 {
                    let frame = stack.pop().expect("depth is below the stack length");
                    warnings.add(Warning {
                        line: Some(frame.line),
                        message: format!("BEGIN:{} is never closed (END:{name} at line {} comes first); component skipped", frame.name, line.line),
                    });
                }
                let frame = stack.pop().expect("depth is within the stack");
                match frame.open {
                    Open::Event(props) => events.extend(build_event(frame.line, props, &mut warnings)),
                    Open::Observance(props) => {
                        let observance = build_observance(frame.line, &props, &mut warnings);
                        if let (Some(obs), Some(Frame { open: Open::Timezone(_, list), .. })) = (observance, stack.last_mut()) {
                            list.push(obs);
                        }
                    }
                    Open::Timezone(props, observances) => {
                        let tzid = props.iter().find(|p| p.name == "TZID").map(|p| p.value.trim().to_owned());
                        let location = props.iter().find(|p| p.name == "X-LIC-LOCATION").map(|p| p.value.trim().to_owned());
                        match tzid {
                            Some(tzid) => {
                                zones.defined.insert(tzid, DefinedZone { location, observances });
                            }
                            None => warnings.add(Warning { line: Some(frame.line), message: "VTIMEZONE without TZID; skipped".into() }),
                        }
                    }
                    Open::Calendar | Open::Other => {}
                }
            }
            _ => match stack.last_mut().map(|f| &mut f.open) {
                Some(Open::Event(props) | Open::Observance(props)) => props.push(line),
                Some(Open::Timezone(props, _)) => props.push(line),
                Some(Open::Calendar) if line.name == "X-WR-TIMEZONE" && default_tzid.is_none() => {
                    default_tzid = Some(line.value.trim().to_owned()).filter(|v| !v.is_empty());
                }
                Some(_) => {}
                None => {
                    if first_line.is_none() {
                        first_line = Some((line.line, format!("found {}", line.name)));
                    }
                }
            },
        }
    }

    // Ending inside a calendar or a component means the rest never arrived (a dropped
    // connection, a proxy that truncates, a generator that stopped): reading only the part that
    // came would delete every event after the cut. A bare component file that ends cleanly
    // leaves only its implicit calendar open, which is complete.
    // The one exception: only calendars are open and the last line is an END that closed
    // nothing — every component arrived, and the closing line was misspelled or cut.
    let component_open = too_deep > 0 || stack.iter().any(|f| !matches!(f.open, Open::Calendar));
    let calendar_open = stack.iter().any(|f| f.name != IMPLICIT);
    if calendars > 0 && (component_open || (calendar_open && !ended_unmatched)) {
        return Err(ParseError::cut_off(last_line));
    }
    for frame in stack.iter().filter(|f| f.name != IMPLICIT) {
        warnings.add(Warning { line: Some(frame.line), message: format!("BEGIN:{} is never closed properly; read to the end", frame.name) });
    }

    if calendars == 0 {
        let looks_like_html = text.trim_start().starts_with('<');
        let message = if looks_like_html {
            "not an iCalendar feed: this is HTML (a web page), not BEGIN:VCALENDAR".to_owned()
        } else {
            match &first_line {
                Some((_, what)) => format!("not an iCalendar feed: no BEGIN:VCALENDAR ({what})"),
                None => "not an iCalendar feed: no BEGIN:VCALENDAR".to_owned(),
            }
        };
        return Err(ParseError::new(first_line.map(|(l, _)| l), message));
    }
    Ok(Calendar { events, zones, warnings: warnings.into_list(), default_tzid })
}

fn text_of(line: &ContentLine<'_>) -> String {
    unescape_text(line.value.trim_end())
}

fn time_of(line: &ContentLine<'_>) -> Option<TimeValue> {
    parse_time_value(&line.value, line.param("VALUE"), line.param("TZID"))
}

fn build_event(begin: usize, props: Vec<ContentLine<'_>>, warnings: &mut Notes) -> Option<Event> {
    let mut warn = |line: usize, message: String| warnings.add(Warning { line: Some(line), message });
    let mut hash = Fingerprint::new();
    let mut uid = None;
    let mut start = None;
    let mut end = None;
    let mut duration = None;
    let mut duration_line = begin;
    let mut recurrence_id = None;
    let mut this_and_future = false;
    let mut recurrence = Recurrence::default();
    let mut status = Status::Confirmed;
    let mut transparent = false;
    let (mut summary, mut description, mut location, mut organizer) = (None, None, None, None);
    let mut attendees = Vec::new();
    let mut answers = Vec::new();
    let mut show = None;
    let mut sequence = 0;

    for p in &props {
        hash.add(p.name.as_bytes());
        hash.add(p.raw_params().as_bytes());
        hash.add(p.value.as_bytes());
        match &*p.name {
            "UID" => uid = Some(p.value.trim().to_owned()),
            "DTSTART" => match time_of(p) {
                Some(t) => start = Some(t),
                None => {
                    warn(p.line, format!("DTSTART \"{}\" is not a date or date-time; event skipped", p.value));
                    return None;
                }
            },
            "DTEND" => match time_of(p) {
                Some(t) => end = Some(t),
                None => warn(p.line, format!("DTEND \"{}\" is not a date or date-time; ignored", p.value)),
            },
            "DURATION" => match parse_duration(&p.value) {
                Some(d) => {
                    duration = Some(d);
                    duration_line = p.line;
                }
                None => warn(p.line, format!("DURATION \"{}\" is not a duration; ignored", p.value)),
            },
            "RECURRENCE-ID" => match time_of(p) {
                Some(t) => {
                    recurrence_id = Some(t);
                    this_and_future = p.param("RANGE").is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"));
                }
                None => {
                    warn(p.line, format!("RECURRENCE-ID \"{}\" is not a date or date-time; event skipped", p.value));
                    return None;
                }
            },
            "RRULE" | "RDATE" | "EXDATE" => recurrence.take(p, &mut warn),
            "STATUS" => match Status::parse(&p.value) {
                Some(s) => status = s,
                None => warn(p.line, format!("STATUS \"{}\" is unknown; read as CONFIRMED", p.value.trim())),
            },
            "TRANSP" => transparent = p.value.trim().eq_ignore_ascii_case("TRANSPARENT"),
            "SUMMARY" => summary = Some(text_of(p)),
            "DESCRIPTION" => description = Some(text_of(p)),
            "LOCATION" => location = Some(text_of(p)),
            "ORGANIZER" => organizer = Some(mailbox(&p.value)),
            "ATTENDEE" => {
                attendees.push(mailbox(&p.value));
                answers.push(Response::of_partstat(p.param("PARTSTAT")));
            }
            "X-MICROSOFT-CDO-BUSYSTATUS" => show = Show::of_busystatus(&p.value),
            "SEQUENCE" => sequence = p.value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }

    let Some(start) = start else {
        warn(begin, "VEVENT without DTSTART; event skipped".into());
        return None;
    };
    // One side a date, the other a date-time: the span the two describe, the date read as
    // midnight in the other side's zone (what calendar apps show). Then an end before its
    // start (an editor that swapped them): the span between the two. Values of different
    // zones are compared after zone resolution, which a swapped pair across zones never gets.
    let mut start = start;
    match (&start, &end) {
        (TimeValue::Date(d), Some(e)) if !e.is_date() => {
            warn(begin, "DTSTART is a date but DTEND has a time; read as from midnight of that date".into());
            start = e.with_wall(d.and_hms_opt(0, 0, 0).unwrap_or_default());
        }
        (s, Some(TimeValue::Date(d))) if !s.is_date() => {
            warn(begin, "DTSTART has a time but DTEND is a date; read as until midnight of that date".into());
            end = Some(s.with_wall(d.and_hms_opt(0, 0, 0).unwrap_or_default()));
        }
        // A date with a DURATION of hours (`PT2H`, `P1DT12H`; RFC 5545 wants whole days for a
        // date): that long from the date's midnight, a floating time, as calendar apps and
        // other expanders read it — not one all-day day. Whole days stay an all-day event.
        (TimeValue::Date(d), None) if duration.is_some_and(|len| len > Duration::zero() && len.num_seconds() % 86_400 != 0) => {
            warn(duration_line, "DTSTART is a date but DURATION is not a whole number of days; read as that long from midnight of that date".into());
            start = TimeValue::Floating(d.and_hms_opt(0, 0, 0).unwrap_or_default());
        }
        _ => {}
    }
    if let Some(e) = &end {
        let same_clock = match (&start, e) {
            (TimeValue::Zoned(_, a), TimeValue::Zoned(_, b)) => a == b,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        };
        if same_clock && e.wall() < start.wall() {
            warn(begin, "DTEND is before DTSTART; read as the span between them".into());
            end = Some(std::mem::replace(&mut start, e.clone()));
        }
    }
    let uid = match uid.filter(|u| !u.is_empty()) {
        Some(uid) => uid,
        None => {
            // RFC 5545 requires UID; without one, the event's own content names it stably.
            let generated = format!("calsync-{}", hash.hex());
            warn(begin, format!("VEVENT without UID; named {generated}"));
            generated
        }
    };
    Some(Event {
        line: begin,
        uid,
        recurrence_id,
        this_and_future,
        start,
        end,
        duration,
        rrules: recurrence.rrules,
        rdates: recurrence.rdates,
        exdates: recurrence.exdates,
        status,
        transparent,
        summary,
        description,
        location,
        organizer,
        attendees,
        answers,
        show,
        response: None,
        sequence,
        recurrence_text: recurrence.text,
        source_hash: hash.value(),
    })
}

/// A series' recurrence lines (RRULE, RDATE, EXDATE), read alike from a VEVENT and from a
/// provider that hands them over as RFC 5545 lines (Google's `recurrence[]`).
#[derive(Debug, Default)]
pub struct Recurrence {
    pub rrules: Vec<(usize, String)>,
    pub rdates: Vec<(usize, TimeValue, Option<Duration>)>,
    pub exdates: Vec<(usize, TimeValue)>,
    /// The lines as written, for the stored series.
    pub text: String,
}

impl Recurrence {
    /// Reads lines given one by one (each stays one line: what it holds after a line break is
    /// not read), with a warning for each part that cannot be read.
    pub fn of_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> (Recurrence, Vec<Warning>) {
        let mut recurrence = Recurrence::default();
        let mut warnings = Notes::default();
        for (i, line) in lines.into_iter().enumerate() {
            let first = line.split(['\r', '\n']).next().unwrap_or_default();
            match lines::content_lines(first).next() {
                Some(Ok(p)) if matches!(&*p.name, "RRULE" | "RDATE" | "EXDATE") => {
                    recurrence.take(&p, &mut |_, message| warnings.add(Warning { line: None, message }));
                }
                Some(Ok(p)) => {
                    warnings.add(Warning { line: None, message: format!("recurrence entry {} is {}, not RRULE, RDATE or EXDATE; ignored", i + 1, p.name) })
                }
                _ => warnings.add(Warning { line: None, message: format!("recurrence entry {} could not be read; ignored", i + 1) }),
            }
        }
        (recurrence, warnings.into_list())
    }

    fn take(&mut self, p: &ContentLine<'_>, warn: &mut impl FnMut(usize, String)) {
        if p.name == "RRULE" {
            self.rrules.push((p.line, p.value.trim().to_owned()));
            self.text.push_str(&format!("RRULE:{}\n", p.value.trim()));
            return;
        }
        let is_rdate = p.name == "RDATE";
        self.text.push_str(&format!("{}{}:{}\n", p.name, p.raw_params(), p.value.trim()));
        for item in p.value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            // PERIOD values (RDATE only): start/end or start/duration.
            let (first, rest) = item.split_once('/').map_or((item, None), |(a, b)| (a, Some(b)));
            match parse_time_value(first, p.param("VALUE").filter(|v| !v.eq_ignore_ascii_case("PERIOD")), p.param("TZID")) {
                Some(t) if is_rdate => {
                    let length = rest.and_then(|r| period_length(&t, r));
                    self.rdates.push((p.line, t, length));
                }
                Some(t) => self.exdates.push((p.line, t)),
                None => warn(p.line, format!("{} value \"{item}\" is not a date or date-time; ignored", p.name)),
            }
        }
    }
}

fn period_length(start: &TimeValue, rest: &str) -> Option<Duration> {
    if let Some(d) = parse_duration(rest) {
        return Some(d);
    }
    let end = parse_time_value(rest, None, None)?;
    match (start, end) {
        (TimeValue::Utc(a) | TimeValue::Zoned(a, _) | TimeValue::Floating(a), TimeValue::Utc(b) | TimeValue::Floating(b)) => Some(b - *a),
        _ => None,
    }
}

pub fn mailbox(value: &str) -> String {
    let v = value.trim();
    v.strip_prefix("mailto:").or_else(|| v.strip_prefix("MAILTO:")).unwrap_or(v).to_owned()
}

fn build_observance(begin: usize, props: &[ContentLine<'_>], warnings: &mut Notes) -> Option<Observance> {
    let get = |name: &str| props.iter().find(|p| p.name == name);
    let start = get("DTSTART").and_then(|p| values::parse_date_time(p.value.trim())).map(|(t, _)| t);
    let from = get("TZOFFSETFROM").and_then(|p| zones::parse_offset(&p.value));
    let to = get("TZOFFSETTO").and_then(|p| zones::parse_offset(&p.value));
    let (Some(start), Some(to)) = (start, to) else {
        warnings.add(Warning { line: Some(begin), message: "time zone observance without a readable DTSTART or TZOFFSETTO; skipped".into() });
        return None;
    };
    let rdates = props
        .iter()
        .filter(|p| p.name == "RDATE")
        .flat_map(|p| p.value.split(',').filter_map(|v| values::parse_date_time(v.trim()).map(|(t, _)| t)).collect::<Vec<_>>())
        .collect();
    Some(Observance { start, offset_from: from.unwrap_or(to), offset_to: to, rrule: get("RRULE").map(|p| p.value.trim().to_owned()), rdates })
}
