//! A recurring booking's occurrences: expanding its rule, and changing or cancelling one
//! occurrence on its own.
use super::*;

/// Is `original` the start of one of the series' occurrences?
pub(super) fn is_occurrence(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, rule: Option<&str>, original: DateTime<Utc>) -> bool {
    rule.is_some() && occurrences(start, end, tz, rule, original, original + Duration::seconds(1), 4).iter().any(|(s, _)| *s == original)
}

/// The changed occurrences that still name an occurrence of the series as it is now (a series
/// moved or given another rule drops the others; its history keeps them).
pub(super) fn still_occurring(
    exceptions: &BTreeMap<String, Occurrence>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    rule: Option<&str>,
) -> BTreeMap<String, Occurrence> {
    exceptions
        .iter()
        .filter(|(k, _)| parse_occurrence_key(k).is_some_and(|t| is_occurrence(start, end, tz, rule, t)))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect()
}

pub(super) fn exceptions_text(e: &BTreeMap<String, Occurrence>) -> String {
    serde_json::to_string(e).unwrap_or_else(|_| "{}".into())
}

/// The occurrences of a meeting from `start` to `end` in `tz`, recurring by `rule`, that
/// overlap [from, to): through the project's own expander, so DST and RRULE edge cases are
/// read as for any feed.
pub(super) fn occurrences(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    rule: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(rule) = rule else {
        return if start < to && end > from { vec![(start, end)] } else { Vec::new() };
    };
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y%m%dT%H%M%S").to_string();
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:booking\r\nDTSTART;TZID={z}:{s}\r\nDTEND;TZID={z}:{e}\r\n{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        z = tz.name(),
        s = local(start),
        e = local(end),
    );
    let Ok(mut cal) = crate::ical::parse(text.as_bytes()) else { return Vec::new() };
    let expanded = crate::ical::expand::expand(&mut cal, crate::ical::expand::Options { from, to, floating: tz, max_instances: limit });
    expanded.instances.iter().map(|i| (i.start.instant(tz), i.end.instant(tz))).collect()
}

/// A change to one occurrence of a recurring booking, as a caller typed it: `None` leaves a
/// field as the occurrence has it now.
#[derive(Debug, Clone, Default)]
pub struct OccurrenceChanges {
    /// The version of the booking the caller read.
    pub version: i64,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub allow_conflict: bool,
}

pub const MSG_NOT_RECURRING: &str = "This booking does not recur: change the booking itself.";
pub const MSG_OCCURRENCE_CANCELLED: &str = "This occurrence is cancelled already.";
pub const MSG_OCCURRENCE_OVER: &str = "This occurrence is over; it can no longer be changed.";

/// The booking (to change) and the occurrence `key` names, or what is wrong with them.
pub(super) async fn occurrence_of(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, version: Option<i64>) -> Result<(Booking, DateTime<Utc>, String)> {
    let booking = get(conn, actor, id).await?;
    if booking.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED.into()));
    }
    if booking.recurrence.is_none() {
        return Err(Error::invalid("recurrence_id", MSG_NOT_RECURRING));
    }
    let original =
        parse_occurrence_key(key).filter(|t| is_occurrence(booking.start.and_utc(), booking.end.and_utc(), booking.tz(), booking.recurrence.as_deref(), *t));
    let Some(original) = original else {
        let first = occurrence_key(booking.start.and_utc());
        return Err(Error::invalid(
            "recurrence_id",
            format!("'{key}' is not an occurrence of this booking: name one by its original start in UTC, such as {first} (the first)."),
        ));
    };
    if version.is_some_and(|v| v != booking.version) {
        return Err(Error::Conflict(msg_stale(booking.version)));
    }
    Ok((booking, original, occurrence_key(original)))
}

/// Saves a booking's changed occurrences (bumping its version, with a history row) and marks
/// its copy to be written.
pub(super) async fn save_exceptions(
    conn: &mut Conn<'_>,
    booking: &Booking,
    exceptions: BTreeMap<String, Occurrence>,
    action: &'static str,
    by: &str,
) -> Result<()> {
    let (id, version, user_id) = (booking.id, booking.version, booking.user_id);
    let before = booking.snapshot();
    let after = Booking { exceptions: exceptions.clone(), ..booking.clone() }.snapshot();
    let by = by.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let at = now();
            let text = exceptions_text(&exceptions);
            let changed = run!(&mut c, |cc| diesel::update(b::table.find(id).filter(b::version.eq(version)).filter(b::status.eq("confirmed")))
                .set((b::exceptions.eq(&text), b::version.eq(b::version + 1), b::modified_at.eq(at)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(msg_stale(version + 1)));
            }
            record(&mut c, id, action, &by, Some(before.to_string()), Some(after.to_string()), at).await?;
            push_queue::plan(&mut c, id, user_id, false, at).await
        })
    })
    .await
}

/// Moves or retitles one occurrence of a recurring booking (a cancelled one is brought back).
/// A move is checked for clashes like a booking; an occurrence changed back to what the series
/// says follows the series again.
pub async fn change_occurrence(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, by: &str, changes: OccurrenceChanges) -> Result<Outcome> {
    Ok(change_occurrence_with_warnings(conn, actor, id, key, by, changes).await?.outcome)
}

/// `change_occurrence`, also answering (for a move) the member's calendars it could not be
/// checked against, like `create_with_warnings`.
pub async fn change_occurrence_with_warnings(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, by: &str, changes: OccurrenceChanges) -> Result<Answer> {
    let (booking, original, key) = occurrence_of(conn, actor, id, key, Some(changes.version)).await?;
    let length = booking.end - booking.start;
    let now_ = booking.exceptions.get(&key).filter(|o| !o.cancelled).cloned().unwrap_or_default();
    let (title_was, start_was, end_was) = now_.resolve(original, &booking.title, length);
    let tz = booking.tz();
    let mut errors = Vec::new();
    let title = changes.title.as_deref().map(str::trim).map(str::to_string).unwrap_or(title_was);
    if title.is_empty() {
        errors.push(FieldMessage::new("title", "Title is required."));
    } else if title.chars().count() > TITLE_MAX {
        errors.push(FieldMessage::new("title", format!("Title cannot exceed {TITLE_MAX} characters.")));
    }
    let start = match &changes.start {
        Some(v) => instant("start", "Start", v, tz, &mut errors),
        None => Some(start_was),
    };
    let end = match &changes.end {
        Some(v) => instant("end", "End", v, tz, &mut errors),
        None => Some(end_was),
    };
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            errors.push(FieldMessage::new("end", "The end must be after the start."));
        }
        if s < Utc::now() - Duration::minutes(1) && s != start_was {
            errors.push(FieldMessage::new("start", "An occurrence cannot be moved into the past."));
        }
    }
    if end_was < Utc::now() && (start != Some(start_was) || end != Some(end_was)) {
        errors.push(FieldMessage::new("start", MSG_OCCURRENCE_OVER));
    }
    let (Some(start), Some(end)) = (start, end) else { return Err(Error::Invalid(Report::errors(errors))) };
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    let moved = start != start_was || end != end_was;
    let mut unchecked = Vec::new();
    if moved {
        let member = users::subject(conn, actor, Some(&booking.user), MSG_OWN_ONLY).await?;
        let one = Checked { member, title: title.clone(), tz, start, end, description: None, location: None, attendees: Vec::new(), recurrence: None };
        let (found, degraded) = look(conn, &one, Some(id), changes.allow_conflict).await?;
        if !found.is_empty() {
            return Ok(Answer { outcome: Outcome::Busy(found), unchecked: degraded });
        }
        unchecked = degraded;
    }
    let mut exceptions = booking.exceptions.clone();
    match Occurrence::of(original, &booking.title, length, false, &title, start, end) {
        Some(o) => exceptions.insert(key, o),
        None => exceptions.remove(&key),
    };
    if exceptions != booking.exceptions {
        save_exceptions(conn, &booking, exceptions, "update occurrence", by).await?;
    }
    Ok(Answer { outcome: Outcome::Booked(get(conn, actor, id).await?), unchecked })
}

/// Cancels one occurrence of a recurring booking (the rest of the series stays).
pub async fn cancel_occurrence(conn: &mut Conn<'_>, actor: Actor, id: i64, key: &str, by: &str, version: Option<i64>) -> Result<Booking> {
    let (booking, original, key) = occurrence_of(conn, actor, id, key, version).await?;
    let now_ = booking.exceptions.get(&key).cloned().unwrap_or_default();
    if now_.cancelled {
        return Err(Error::Conflict(MSG_OCCURRENCE_CANCELLED.into()));
    }
    let (_, _, end) = now_.resolve(original, &booking.title, booking.end - booking.start);
    if end < Utc::now() {
        return Err(Error::Conflict(MSG_OCCURRENCE_OVER.into()));
    }
    let mut exceptions = booking.exceptions.clone();
    exceptions.insert(key, Occurrence { cancelled: true, ..Occurrence::default() });
    save_exceptions(conn, &booking, exceptions, "cancel occurrence", by).await?;
    get(conn, actor, id).await
}
