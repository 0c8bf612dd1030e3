//! From VEVENTs to the domain's series and instances inside a window.
//!
//! Recurrence is expanded in wall-clock time (RFC 5545 repeats "9:00 every Monday" in local
//! time, across DST changes) with the rrule crate, then each occurrence is turned into a UTC
//! instant with its zone. EXDATE, RDATE, RECURRENCE-ID overrides (including
//! RANGE=THISANDFUTURE) and STATUS are applied here, because rrule knows none of them by zone.
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::{RRule, RRuleSet, Unvalidated};

use super::values::{parse_date, parse_date_time, TimeValue};
use super::zones::{Zone, ZoneTable};
use super::{Calendar, Event, Warning};
use crate::busy::Kind;
use crate::events::{local_to_utc, Fingerprint, Instance, Series, Status, When};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Instances overlapping [from, to) are kept.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The zone floating times are read in (the calendar owner's).
    pub floating: Tz,
    /// Expansion stops after this many instances in all.
    pub max_instances: usize,
}

/// How many occurrences of one rule are walked at most (rrule cannot seek to the window).
const MAX_STEPS_PER_RULE: usize = 200_000;

/// What expanding one feed may cost in all: occurrences walked (before the window too) and
/// time. Shared by the threads that expand one feed.
#[derive(Debug)]
pub struct Budget {
    steps: std::sync::atomic::AtomicI64,
    total: usize,
    deadline: Option<std::time::Instant>,
    spent: std::sync::atomic::AtomicBool,
    timed_out: std::sync::atomic::AtomicBool,
}

/// Steps a feed may walk by default: a year of a few thousand busy series is well under it;
/// 250,000 `FREQ=SECONDLY` rules from 1900 stop here instead of running for hours.
pub const DEFAULT_STEPS: usize = 5_000_000;

impl Budget {
    pub fn new(steps: usize, deadline: Option<std::time::Instant>) -> Budget {
        Budget {
            steps: std::sync::atomic::AtomicI64::new(steps as i64),
            total: steps,
            deadline,
            spent: std::sync::atomic::AtomicBool::new(false),
            timed_out: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Takes `n` steps; false when the budget or the time is used up.
    fn take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            self.timed_out.store(true, Relaxed);
            return false;
        }
        if self.steps.fetch_sub(n as i64, Relaxed) < n as i64 {
            self.spent.store(true, Relaxed);
            return false;
        }
        true
    }

    fn exhausted(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.spent.load(Relaxed) || self.timed_out.load(Relaxed)
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_STEPS, None)
    }
}

pub struct Expanded {
    pub series: Vec<Series>,
    /// In order: start, uid, recurrence id.
    pub instances: Vec<Instance>,
    pub warnings: Vec<Warning>,
}

/// The zone a series' times are read in.
#[derive(Clone)]
enum Clock {
    Utc,
    Zoned(Zone),
    Floating(Tz),
    AllDay,
}

impl Clock {
    fn to_utc(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Clock::Utc | Clock::AllDay => wall.and_utc(),
            Clock::Zoned(zone) => zone.to_utc(wall),
            Clock::Floating(tz) => local_to_utc(*tz, wall),
        }
    }

    fn to_wall(&self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Clock::Utc | Clock::AllDay => utc,
            Clock::Zoned(zone) => zone.to_local(utc),
            Clock::Floating(tz) => tz.from_utc_datetime(&utc).naive_local(),
        }
    }

    fn is_all_day(&self) -> bool {
        matches!(self, Clock::AllDay)
    }

    fn tzid(&self) -> Option<String> {
        match self {
            Clock::Zoned(zone) => Some(zone.name().to_owned()),
            _ => None,
        }
    }
}

struct Ctx<'a> {
    zones: &'a mut ZoneTable,
    warnings: &'a mut Vec<Warning>,
    opts: Options,
    unknown_zones: HashSet<String>,
    budget: &'a Budget,
}

impl Ctx<'_> {
    fn clock(&mut self, value: &TimeValue, line: usize) -> Clock {
        match value {
            TimeValue::Date(_) => Clock::AllDay,
            TimeValue::Utc(_) => Clock::Utc,
            TimeValue::Floating(_) => Clock::Floating(self.opts.floating),
            TimeValue::Zoned(_, tzid) => match self.zones.resolve(tzid) {
                Some(zone) => Clock::Zoned(zone),
                None => {
                    if self.unknown_zones.insert(tzid.clone()) {
                        self.warnings.push(Warning {
                            line: Some(line),
                            message: format!("unknown time zone \"{tzid}\"; its times are read as floating ({})", self.opts.floating.name()),
                        });
                    }
                    Clock::Floating(self.opts.floating)
                }
            },
        }
    }

    /// A value as a point in time: instants in UTC, dates as dates.
    fn when(&mut self, value: &TimeValue, line: usize) -> When {
        match value {
            TimeValue::Date(d) => When::Date(*d),
            TimeValue::Utc(t) => When::At(t.and_utc()),
            TimeValue::Zoned(t, _) | TimeValue::Floating(t) => When::At(self.clock(value, line).to_utc(*t)),
        }
    }
}

/// Start and end of one event's own times.
fn span(ctx: &mut Ctx<'_>, event: &Event) -> (When, When) {
    let start = ctx.when(&event.start, event.line);
    let end = match (&start, &event.end, event.duration) {
        (When::Date(d), Some(TimeValue::Date(e)), _) if e > d => When::Date(*e),
        (When::Date(d), None, Some(dur)) if dur.num_days() >= 1 => When::Date(*d + Duration::days(dur.num_days())),
        (When::Date(d), _, _) => When::Date(*d + Duration::days(1)),
        (When::At(s), Some(e), _) => match ctx.when(e, event.line) {
            When::At(e) if e >= *s => When::At(e),
            _ => When::At(*s),
        },
        (When::At(s), None, Some(dur)) if dur >= Duration::zero() => When::At(*s + dur),
        (When::At(s), _, _) => When::At(*s),
    };
    (start, end)
}

fn shift(w: When, by: Duration) -> When {
    match w {
        When::At(t) => When::At(t + by),
        When::Date(d) => When::Date(d + Duration::days(by.num_days())),
    }
}

fn length(start: When, end: When) -> Duration {
    match (start, end) {
        (When::At(s), When::At(e)) => e - s,
        (When::Date(s), When::Date(e)) => Duration::days((e - s).num_days()),
        _ => Duration::zero(),
    }
}

/// Occurrence starts of an RRULE in wall-clock time, from `start` and inside [lo, hi), with
/// what was dropped from the rule to read it. `until` turns the rule's UNTIL (time, is_utc)
/// into wall-clock time.
pub fn wall_occurrences(
    rule: &str,
    start: NaiveDateTime,
    lo: NaiveDateTime,
    hi: NaiveDateTime,
    cap: usize,
    until: &dyn Fn(NaiveDateTime, bool) -> NaiveDateTime,
    budget: Option<&Budget>,
) -> Result<(Vec<NaiveDateTime>, Vec<String>), String> {
    let mut dropped = Vec::new();
    // rrule reads UNTIL in the zone of DTSTART and refuses mismatched forms: give it the
    // wall-clock UNTIL as UTC, with DTSTART as UTC wall time too.
    let mut parts = Vec::new();
    for part in rule.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("UNTIL") => {
                let wall = match parse_date_time(v.trim()) {
                    Some((t, utc)) => until(t, utc),
                    None => match parse_date(v.trim()) {
                        Some(d) => d.and_hms_opt(23, 59, 59).unwrap_or_default(),
                        None => return Err(format!("UNTIL \"{v}\" is not a date or date-time")),
                    },
                };
                parts.push(format!("UNTIL={}", wall.format("%Y%m%dT%H%M%SZ")));
            }
            // Vendor extensions (X-EVOLUTION-ENDDATE=…) are not rule parts rrule knows.
            Some((k, _)) if k.trim().to_ascii_uppercase().starts_with("X-") => {}
            // An invalid count or interval beside the rest (`COUNT=-1` next to an UNTIL): the
            // part is dropped and the rule kept, as calendar apps do, rather than collapsing
            // the series to its first instance.
            Some((k, v)) if (k.eq_ignore_ascii_case("COUNT") || k.eq_ignore_ascii_case("INTERVAL")) && !v.trim().parse::<u32>().is_ok_and(|n| n > 0) => {
                dropped.push(format!("{} is not a positive number; that part was ignored", part.to_ascii_uppercase()));
            }
            _ => parts.push(part.to_ascii_uppercase()),
        }
    }
    let text = parts.join(";");
    let rule = RRule::<Unvalidated>::from_str(&text).map_err(|e| e.to_string())?;
    let dt_start = rrule::Tz::UTC.from_utc_datetime(&start);
    let validated = rule.validate(dt_start).map_err(|e| e.to_string())?;
    let set = RRuleSet::new(dt_start).rrule(validated).limit();
    let mut out = Vec::new();
    const BATCH: usize = 1024;
    for (steps, occurrence) in (&set).into_iter().enumerate() {
        let wall = occurrence.naive_utc();
        if wall >= hi || steps >= MAX_STEPS_PER_RULE || out.len() >= cap {
            break;
        }
        if steps % BATCH == 0 && budget.is_some_and(|b| !b.take(BATCH)) {
            return Err("the feed's expansion budget is used up".into());
        }
        if wall >= lo {
            out.push(wall);
        }
    }
    Ok((out, dropped))
}

/// One UID: the master (if any), its overrides, and masters it replaced with the same SEQUENCE
/// (a feed that lists a series twice: their EXDATEs still apply), as indexes into the events.
type Group = (Option<usize>, Vec<usize>, Vec<usize>);

/// Groups events by UID (the master with the highest SEQUENCE wins), ordered by UID.
fn group_by_uid(events: &[Event], warnings: &mut Vec<Warning>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_uid: HashMap<&str, usize> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let g = *by_uid.entry(event.uid.as_str()).or_insert_with(|| {
            groups.push((None, Vec::new(), Vec::new()));
            groups.len() - 1
        });
        let group = &mut groups[g];
        if event.recurrence_id.is_some() {
            group.1.push(i);
            continue;
        }
        match group.0 {
            Some(m) if events[m].sequence > event.sequence => warnings.push(Warning {
                line: Some(event.line),
                message: format!("another VEVENT with UID {} and a higher SEQUENCE exists; this one is ignored", event.uid),
            }),
            Some(m) => {
                warnings.push(Warning { line: Some(events[m].line), message: format!("a later VEVENT with UID {} replaces this one", event.uid) });
                if events[m].sequence == event.sequence {
                    group.2.push(m);
                } else {
                    group.2.clear();
                }
                group.0 = Some(i);
            }
            None => group.0 = Some(i),
        }
    }
    let head = |g: &Group| g.0.or(g.1.first().copied()).expect("a group has at least one event");
    groups.sort_by(|a, b| events[head(a)].uid.cmp(&events[head(b)].uid));
    groups
}

/// What one thread expands: its groups' series and instances (each group's in recurrence-id
/// order), and what it had to say.
struct Part {
    series: Vec<Series>,
    instances: Vec<Instance>,
    warnings: Vec<Warning>,
}

fn expand_part(events: &[Event], mut zones: ZoneTable, groups: &[Group], opts: Options, budget: &Budget) -> Part {
    let mut warnings = Vec::new();
    let mut ctx = Ctx { zones: &mut zones, warnings: &mut warnings, opts, unknown_zones: HashSet::new(), budget };
    let mut series = Vec::with_capacity(groups.len());
    let mut instances = Vec::new();
    let mut full = false;
    for (n, (master, overrides, twins)) in groups.iter().enumerate() {
        // Out of time: the caller answers with an error, so stop here.
        if n % 64 == 0 && budget.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            budget.timed_out.store(true, std::sync::atomic::Ordering::Relaxed);
            break;
        }
        let master = master.map(|m| &events[m]);
        let twins: Vec<&Event> = twins.iter().map(|&i| &events[i]).collect();
        let overrides: Vec<&Event> = overrides.iter().map(|&i| &events[i]).collect();
        let head = master.or(overrides.first().copied()).expect("a group has at least one event");
        // Every event keeps its series even past the instance limit: a series missing from a
        // snapshot would be deleted.
        series.push(series_of(&mut ctx, head, master.is_some(), &overrides));
        if full || instances.len() >= opts.max_instances {
            if !full {
                ctx.warnings
                    .push(Warning { line: None, message: format!("stopped after {} instances; the rest of the feed was not expanded", opts.max_instances) });
            }
            full = true;
            continue;
        }
        let first = instances.len();
        expand_group(&mut ctx, master, &twins, &overrides, &mut instances);
        instances[first..].sort_by_key(|i| i.recurrence_id);
    }
    Part { series, instances, warnings }
}

/// Feeds with more events than this are expanded on two threads.
const PARALLEL_FROM: usize = 2000;

/// Expands every event of `cal` inside the window, within the default step budget.
pub fn expand(cal: &mut Calendar, opts: Options) -> Expanded {
    expand_within(cal, opts, &Budget::default())
}

/// Expands every event of `cal` inside the window, within `budget` (see
/// [`Budget::timed_out`] for whether it ran out of time).
pub fn expand_within(cal: &mut Calendar, opts: Options, budget: &Budget) -> Expanded {
    let mut warnings = std::mem::take(&mut cal.warnings);
    let mut opts = opts;
    // Google's and Apple's exports name the zone their floating times are meant in.
    if let Some(tzid) = &cal.default_tzid {
        match super::zones::lookup_iana(tzid) {
            Some(tz) => opts.floating = tz,
            None => warnings
                .push(Warning { line: None, message: format!("X-WR-TIMEZONE \"{tzid}\" is unknown; floating times are read in {}", opts.floating.name()) }),
        }
    }
    let groups = group_by_uid(&cal.events, &mut warnings);
    // UIDs are independent: big feeds expand in two halves at once (this machine has 2 cores).
    let parts = if cal.events.len() >= PARALLEL_FROM { 2 } else { 1 };
    let chunk = groups.len().div_ceil(parts).max(1);
    let (events, zones) = (&cal.events, &cal.zones);
    let results: Vec<Part> = if parts == 1 {
        vec![expand_part(events, zones.clone(), &groups, opts, budget)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = groups.chunks(chunk).map(|part| scope.spawn(move || expand_part(events, zones.clone(), part, opts, budget))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    };
    let mut series = Vec::with_capacity(groups.len());
    let mut instances = Vec::new();
    let mut said: HashSet<String> = warnings.iter().map(|w| w.message.clone()).collect();
    for part in results {
        series.extend(part.series);
        // The first part's vector is kept (no copy of it); later ones are appended.
        if instances.is_empty() {
            instances = part.instances;
        } else {
            instances.extend(part.instances);
        }
        // Both halves may warn about the same unknown zone: say it once.
        warnings.extend(part.warnings.into_iter().filter(|w| w.line.is_none() || said.insert(w.message.clone())));
    }
    instances.truncate(opts.max_instances);

    // Instances are in (uid, recurrence id) order already: sorting (start, index) keys is
    // enough, and cheaper than comparing or moving the instances themselves.
    let floating = opts.floating;
    let mut order: Vec<(i64, u32)> = instances.iter().enumerate().map(|(n, i)| (i.start.instant(floating).timestamp(), n as u32)).collect();
    order.sort_unstable();
    let source: Vec<u32> = order.into_iter().map(|(_, n)| n).collect();
    permute(&mut instances, &source);
    Expanded { series, instances, warnings }
}

/// Puts `items[source[i]]` at position `i` for every `i`, in place (following each cycle of
/// the permutation once), instead of building a second vector of the same size.
fn permute<T>(items: &mut [T], source: &[u32]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        let mut at = start;
        while !placed[at] {
            placed[at] = true;
            let from = source[at] as usize;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

fn series_of(ctx: &mut Ctx<'_>, head: &Event, has_master: bool, overrides: &[&Event]) -> Series {
    let (start, end) = match has_master {
        true => {
            let (s, e) = span(ctx, head);
            (Some(s), Some(e))
        }
        false => (None, None),
    };
    let mut hash = Fingerprint::new();
    hash.add(&head.source_hash.to_le_bytes());
    for o in overrides {
        hash.add(&o.source_hash.to_le_bytes());
    }
    let tzid = match &head.start {
        TimeValue::Zoned(_, z) => Some(z.clone()),
        _ => None,
    };
    Series {
        uid: head.uid.clone(),
        summary: head.summary.clone().unwrap_or_default(),
        description: head.description.clone(),
        location: head.location.clone(),
        organizer: head.organizer.clone(),
        attendees: head.attendees.clone(),
        recurrence: if has_master { head.recurrence_text.clone() } else { String::new() },
        tzid,
        status: head.status,
        transparent: head.transparent,
        sequence: head.sequence,
        external_id: None,
        etag: None,
        source_hash: hash.hex(),
        start,
        end,
    }
}

/// What every instance of one event shares, built once per event (cloning an `Arc` per
/// instance instead of three strings).
struct Proto {
    uid: Arc<str>,
    summary: Arc<str>,
    tzid: Option<Arc<str>>,
    status: Status,
    transparent: bool,
    kind: Kind,
}

impl Proto {
    fn of(ctx: &mut Ctx<'_>, event: &Event) -> Proto {
        let tzid = match &event.start {
            TimeValue::Zoned(..) => ctx.clock(&event.start, event.line).tzid().map(Arc::from),
            _ => None,
        };
        Proto {
            uid: Arc::from(event.uid.as_str()),
            summary: Arc::from(event.summary.as_deref().unwrap_or("")),
            tzid,
            status: event.status,
            transparent: event.transparent,
            kind: Kind::of(&event.signals()),
        }
    }

    fn instance(&self, recurrence_id: Option<When>, start: When, end: When) -> Instance {
        Instance {
            uid: self.uid.clone(),
            recurrence_id,
            start,
            end,
            status: self.status,
            transparent: self.transparent,
            kind: self.kind,
            summary: self.summary.clone(),
            tzid: self.tzid.clone(),
        }
    }
}

fn instance_of(ctx: &mut Ctx<'_>, event: &Event, recurrence_id: Option<When>, start: When, end: When) -> Instance {
    Proto::of(ctx, event).instance(recurrence_id, start, end)
}

fn overlaps(opts: &Options, start: When, end: When) -> bool {
    let (s, e) = (start.instant(opts.floating), end.instant(opts.floating));
    // A zero-length event at the window's start still counts.
    s < opts.to && (e > opts.from || (e == s && s >= opts.from))
}

/// Expands one UID. `twins`: masters the winning one replaced with the same SEQUENCE; their
/// EXDATEs apply too, so an exception listed in either copy is applied once.
fn expand_group(ctx: &mut Ctx<'_>, master: Option<&Event>, twins: &[&Event], overrides: &[&Event], out: &mut Vec<Instance>) {
    let opts = ctx.opts;
    let Some(master) = master.filter(|m| !m.rrules.is_empty() || !m.rdates.is_empty()) else {
        // Single events, and overrides of series whose master is absent or not recurring.
        for event in master.into_iter().chain(overrides.iter().copied()) {
            let (start, end) = span(ctx, event);
            let rid = event.recurrence_id.as_ref().map(|r| ctx.when(r, event.line));
            if overlaps(&opts, start, end) {
                let mut instance = instance_of(ctx, event, rid, start, end);
                if master.is_some_and(|m| m.status == Status::Cancelled) {
                    instance.status = Status::Cancelled;
                }
                out.push(instance);
            }
        }
        return;
    };

    let first_of_group = out.len();
    let clock = ctx.clock(&master.start, master.line);
    let proto = Proto::of(ctx, master);
    let (first_start, first_end) = span(ctx, master);
    let duration = length(first_start, first_end);

    // Candidate occurrence starts (original times): the union of every RRULE, and RDATE.
    let mut starts: Vec<When> = Vec::new();
    // A RANGE=THISANDFUTURE override moves later occurrences, also ones from outside the
    // window into it: the walk reaches as far beyond the window as they move (at most a year).
    let (mut later, mut earlier) = (Duration::zero(), Duration::zero());
    for &o in overrides.iter().filter(|o| o.this_and_future) {
        let written = o.recurrence_id.as_ref().expect("overrides have a recurrence id");
        let rid = ctx.when(written, o.line);
        let (o_start, _) = span(ctx, o);
        let by = length(rid, o_start).clamp(-Duration::days(366), Duration::days(366));
        later = later.max(by);
        earlier = earlier.max(-by);
    }
    let margin = Duration::hours(15) + duration.max(Duration::zero()) + later;
    let lo = clock.to_wall((opts.from - margin).naive_utc());
    let hi = clock.to_wall((opts.to + Duration::hours(15) + earlier).naive_utc());
    let mut rdate_lengths: HashMap<When, Duration> = HashMap::new();
    for (line, rule) in &master.rrules {
        let until_clock = clock.clone();
        let to_wall = move |t: NaiveDateTime, utc: bool| if utc { until_clock.to_wall(t) } else { t };
        let cap = opts.max_instances.saturating_sub(out.len()) + 1;
        if ctx.budget.exhausted() {
            // Said once, where it ran out; every later series keeps its first instance.
            continue;
        }
        match wall_occurrences(rule, master.start.wall(), lo, hi, cap, &to_wall, Some(ctx.budget)) {
            Ok((walls, dropped)) => {
                for note in dropped {
                    ctx.warnings.push(Warning { line: Some(*line), message: format!("RRULE \"{rule}\": {note}") });
                }
                starts.extend(walls.into_iter().map(|w| match clock {
                    Clock::AllDay => When::Date(w.date()),
                    _ => When::At(clock.to_utc(w)),
                }));
            }
            Err(_) if ctx.budget.exhausted() => {
                let message = match ctx.budget.timed_out() {
                    true => "reading the feed ran out of time here; later recurring events keep only their first instance".to_owned(),
                    false => format!(
                        "recurrences stopped after {} steps (the feed's expansion budget); this and later recurring events keep only their first instance",
                        ctx.budget.total
                    ),
                };
                ctx.warnings.push(Warning { line: Some(*line), message });
            }
            Err(reason) => {
                ctx.warnings
                    .push(Warning { line: Some(*line), message: format!("RRULE \"{rule}\" cannot be used ({reason}); only the first instance is kept") });
            }
        }
    }
    // DTSTART is always the first occurrence (RFC 5545 3.8.5.3), also when a rule is unusable.
    starts.push(first_start);
    for (line, value, len) in &master.rdates {
        let w = ctx.when(value, *line);
        if let Some(len) = len {
            rdate_lengths.insert(w, *len);
        }
        starts.push(w);
    }

    // EXDATE: instants, or whole dates (a DATE exdate on a timed series removes that day).
    let mut ex_at = HashSet::new();
    let mut ex_dates: HashSet<NaiveDate> = HashSet::new();
    for (line, value) in master.exdates.iter().chain(twins.iter().flat_map(|t| t.exdates.iter())) {
        match ctx.when(value, *line) {
            When::At(t) => {
                ex_at.insert(t);
                if clock.is_all_day() {
                    ex_dates.insert(clock.to_wall(t.naive_utc()).date());
                }
            }
            When::Date(d) => {
                ex_dates.insert(d);
            }
        }
    }
    let excluded = |original: When| match original {
        When::At(t) => ex_at.contains(&t) || ex_dates.contains(&clock.to_wall(t.naive_utc()).date()),
        When::Date(d) => ex_dates.contains(&d),
    };

    starts.sort();
    starts.dedup();

    // Overrides by their RECURRENCE-ID, in the series' form. An all-day series is matched by
    // the date the RECURRENCE-ID names as written (Outlook writes
    // `RECURRENCE-ID;TZID=GMT Standard Time:20200416T000000`, which is the 15th in UTC).
    let mut by_rid: HashMap<When, &Event> = HashMap::new();
    let mut future: Vec<(When, &Event)> = Vec::new();
    for &o in overrides {
        let written = o.recurrence_id.as_ref().expect("overrides have a recurrence id");
        let rid = match (ctx.when(written, o.line), &clock) {
            (When::At(_), Clock::AllDay) => When::Date(written.wall().date()),
            (When::Date(d), c) if !c.is_all_day() => When::At(c.to_utc(d.and_time(master.start.wall().time()))),
            (r, _) => r,
        };
        if o.this_and_future {
            future.push((rid, o));
        } else if by_rid.insert(rid, o).is_some() {
            ctx.warnings.push(Warning { line: Some(o.line), message: format!("a second override of {} for the same RECURRENCE-ID replaces the first", o.uid) });
        }
    }
    // RANGE=THISANDFUTURE, in order: each moves its occurrence and every later one until the
    // next takes over, by the difference between its RECURRENCE-ID and its own DTSTART (RFC
    // 5545 3.8.4.4), taken on the series' wall clock: moved from 09:00 on a winter Monday to
    // 09:00 a week later in summer is a week, and the later occurrences stay at 09:00. The
    // RECURRENCE-ID names the occurrence as the rule made it; one that names no occurrence
    // (where an earlier override had moved it, say) moves the occurrences after that instant
    // and stands as an event of its own, as independent expanders read it (tests/shapes.rs).
    future.sort_by_key(|(rid, _)| *rid);
    let mut shifts: Vec<(When, Duration, &Event)> = Vec::new();
    for (rid, o) in future {
        let (o_start, _) = span(ctx, o);
        shifts.push((rid, wall_offset(&clock, rid, o_start), o));
        by_rid.insert(rid, o);
    }

    let mut used: HashSet<When> = HashSet::new();
    for original in starts {
        if excluded(original) {
            continue;
        }
        let instance = if let Some(&o) = by_rid.get(&original) {
            used.insert(original);
            let (start, end) = span(ctx, o);
            instance_of(ctx, o, Some(original), start, end)
        } else if let (start, Some(o)) = moved(&clock, &shifts, original) {
            // Moved like the override that took over, with its fields and length.
            let (o_start, o_end) = span(ctx, o);
            instance_of(ctx, o, Some(original), start, shift(start, length(o_start, o_end)))
        } else {
            let len = rdate_lengths.get(&original).copied().unwrap_or(duration);
            proto.instance(Some(original), original, shift(original, len))
        };
        if overlaps(&opts, instance.start, instance.end) {
            out.push(instance);
        }
    }
    // Overrides whose RECURRENCE-ID matched no generated instance are still events, unless the
    // master excludes that occurrence: an override of a deleted occurrence is deleted too.
    for (rid, o) in by_rid {
        if used.contains(&rid) || excluded(rid) {
            continue;
        }
        let (start, end) = span(ctx, o);
        if overlaps(&opts, start, end) {
            let instance = instance_of(ctx, o, Some(rid), start, end);
            out.push(instance);
        }
    }
    if master.status == Status::Cancelled {
        for instance in &mut out[first_of_group..] {
            instance.status = Status::Cancelled;
        }
    }
}

/// Where an original occurrence starts after the RANGE=THISANDFUTURE overrides, and the one
/// that moved it. `shifts` are (RECURRENCE-ID, wall-clock offset, override), in order.
fn moved<'e>(clock: &Clock, shifts: &[(When, Duration, &'e Event)], original: When) -> (When, Option<&'e Event>) {
    match shifts.iter().rev().find(|(anchor, ..)| *anchor <= original) {
        Some(&(_, by, o)) => (shift_wall(clock, original, by), Some(o)),
        None => (original, None),
    }
}

/// How far `to` is from `from` on the series' wall clock (a date's days as they are).
fn wall_offset(clock: &Clock, from: When, to: When) -> Duration {
    match (from, to) {
        (When::At(a), When::At(b)) => clock.to_wall(b.naive_utc()) - clock.to_wall(a.naive_utc()),
        _ => length(from, to),
    }
}

/// `w` moved by `by` on the series' wall clock (see [`wall_offset`]).
fn shift_wall(clock: &Clock, w: When, by: Duration) -> When {
    match w {
        When::At(t) => match clock.to_wall(t.naive_utc()).checked_add_signed(by) {
            Some(wall) => When::At(clock.to_utc(wall)),
            None => w,
        },
        When::Date(_) => shift(w, by),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn permute_places_each_item_where_the_order_says() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e', 'f'];
        // Two cycles (0 → 2 → 4 → 0 and 1 → 3 → 1) and a fixed point (5).
        super::permute(&mut items, &[2, 3, 4, 1, 0, 5]);
        assert_eq!(items, ['c', 'd', 'e', 'b', 'a', 'f']);
    }
}
