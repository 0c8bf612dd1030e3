//! Booking, changing and cancelling: each checks, saves with its history row, and marks the
//! booking's copy to be written (the push queue).
use super::*;

/// The fields history shows of a booking.
#[allow(clippy::too_many_arguments)]
pub(super) fn snapshot(
    title: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
    zone: &str,
    recurrence: &Option<String>,
    description: &Option<String>,
    location: &Option<String>,
    attendees: &str,
    status: &str,
    exceptions: &BTreeMap<String, Occurrence>,
) -> serde_json::Value {
    let mut v = json!({"title": title, "start": start.to_string(), "end": end.to_string(), "time_zone": zone, "recurrence": recurrence, "description": description, "location": location, "attendees": attendees, "status": status});
    if !exceptions.is_empty() {
        v["occurrences"] = json!(exceptions);
    }
    v
}

/// Books a meeting: checks the input, then the member's availability over every occurrence
/// (recurring ones for a year), then saves it with its history row and marks its copy for the
/// member's primary calendar to be written.
pub async fn create(conn: &mut Conn<'_>, actor: Actor, by: &str, new: NewBooking) -> Result<Outcome> {
    Ok(create_with_warnings(conn, actor, by, new).await?.outcome)
}

/// `create`, also answering the member's calendars the booking could not be checked against
/// (Failed, Stale, Never synced). Under fail-open it is booked with a warning for each; an
/// out-of-date fail-closed calendar refuses it (unless the conflict is overridden).
pub async fn create_with_warnings(conn: &mut Conn<'_>, actor: Actor, by: &str, new: NewBooking) -> Result<Answer> {
    if new.team.is_some() {
        return create_for_team(conn, actor, by, new).await;
    }
    let ch = check(conn, actor, &new, None).await?;
    let (found, unchecked) = look(conn, &ch, None, new.allow_conflict).await?;
    if !found.is_empty() {
        return Ok(Answer { outcome: Outcome::Busy(found), unchecked });
    }
    let id = save(conn, by, ch, new.notify_attendees, None).await?;
    Ok(Answer { outcome: Outcome::Booked(get(conn, actor, id).await?), unchecked })
}

pub const MSG_USER_OR_TEAM: &str = "Give either user or team, not both.";
pub const MSG_TEAM_OVERRIDE: &str = "allow_conflict is for a booking of a named user: a team's booking goes to a member who is free.";

/// Books a meeting for a team: the member free for all of it by their rules whose last booking
/// of this team is oldest (never booked first; ties by name). None free: refused, naming why
/// for each member.
pub(super) async fn create_for_team(conn: &mut Conn<'_>, actor: Actor, by: &str, new: NewBooking) -> Result<Answer> {
    let name = new.team.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if new.user.as_deref().is_some_and(|u| !u.trim().is_empty()) {
        errors.push(FieldMessage::new("team", MSG_USER_OR_TEAM));
    }
    if new.allow_conflict {
        errors.push(FieldMessage::new("allow_conflict", MSG_TEAM_OVERRIDE));
    }
    let team = match teams::get(conn, actor, &name).await {
        Err(Error::NotFound) => {
            errors.push(FieldMessage::new("team", format!("There is no team named '{}'.", name.trim())));
            None
        }
        other => Some(other?),
    };
    if team.as_ref().is_some_and(|t| t.members.is_empty()) {
        errors.push(FieldMessage::new("team", format!("The team '{}' has no members to book.", name.trim())));
    }
    let Some(team) = team.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(Report::errors(errors))) };
    // The fields are checked as for the actor; the member is picked next.
    let mut ch = check(conn, actor, &NewBooking { user: None, ..new.clone() }, None).await?;
    let mine = own_occurrences(&ch);
    let (Some(first), Some(last)) = (<[_]>::first(&mine).copied(), <[_]>::last(&mine).copied()) else {
        return Err(Error::invalid("recurrence", "The rule leaves no occurrence to book."));
    };
    let mut members = slots::load(conn, team.members.clone(), first.0, last.1, None).await?;
    slots::by_turn(&mut members, &last_booked(conn, team.id).await?);
    let at = Utc::now();
    let mut refused = Vec::new();
    let mut picked = None;
    for m in members {
        let why = team_reasons(&m, &mine, ch.tz, at);
        if why.is_empty() {
            picked = Some(m);
            break;
        }
        refused.push(Clash {
            start: first.0,
            end: first.1,
            integration: String::new(),
            integration_name: String::new(),
            summary: String::new(),
            message: format!("{}: {}", m.user.email, why.join("; ")),
            kind: "rule",
            rule: None,
        });
    }
    let Some(m) = picked else {
        return Ok(Answer { outcome: Outcome::Busy(refused), unchecked: Vec::new() });
    };
    let (tz, at) = (m.user.tz(), Utc::now());
    let unchecked: Vec<Unchecked> = m.degraded.iter().cloned().map(|d| Unchecked { warning: msg_unchecked(&d, tz, at), calendar: d }).collect();
    ch.member = m.user;
    let id = save(conn, by, ch, new.notify_attendees, Some(team.id)).await?;
    Ok(Answer { outcome: Outcome::Booked(get(conn, Actor::SYSTEM, id).await?), unchecked })
}

/// When each member last got a booking of the team (confirmed ones; by when it was made).
pub(super) async fn last_booked(conn: &mut Conn<'_>, team: i64) -> Result<std::collections::HashMap<i64, NaiveDateTime>> {
    let rows: Vec<(i64, Option<NaiveDateTime>)> = run!(conn, |c| b::table
        .filter(b::team_id.eq(team).and(b::status.eq("confirmed")))
        .group_by(b::user_id)
        .select((b::user_id, diesel::dsl::max(b::created_at)))
        .load(c)
        .await)?;
    Ok(rows.into_iter().filter_map(|(u, t)| Some((u, t?))).collect())
}

/// Saves a checked booking with its history row, and marks its copy for the member's primary
/// calendar to be written.
pub(super) async fn save(conn: &mut Conn<'_>, by: &str, ch: Checked, notify: bool, team: Option<i64>) -> Result<i64> {
    let at = now();
    let by = by.to_string();
    let member_id = ch.member.id;
    let attendees_text = ch.attendees.join("\n");
    let (s, e) = (ch.start.naive_utc(), ch.end.naive_utc());
    let zone = ch.tz.name().to_string();
    let Checked { title, description, location, recurrence, .. } = ch;
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let columns = Columns {
                title: &title,
                description: description.as_deref(),
                location: location.as_deref(),
                attendees: &attendees_text,
                start_at: s,
                end_at: e,
                time_zone: &zone,
                recurrence: recurrence.as_deref(),
                notify_attendees: notify,
                modified_at: at,
                exceptions: "{}",
            };
            let id: i64 = run!(&mut c, |cc| diesel::insert_into(b::table)
                .values((columns, b::user_id.eq(member_id), b::team_id.eq(team), b::created_by.eq(&by), b::created_at.eq(at)))
                .returning(b::id)
                .get_result(cc)
                .await)?;
            let after = snapshot(&title, s, e, &zone, &recurrence, &description, &location, &attendees_text, "confirmed", &BTreeMap::new());
            record(&mut c, id, "create", &by, None, Some(after.to_string()), at).await?;
            push_queue::plan(&mut c, id, member_id, false, at).await?;
            Ok::<i64, Error>(id)
        })
    })
    .await
}

/// A change to a booking, as a caller typed it: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// The version the caller read (a stale one is refused).
    pub version: i64,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub time_zone: Option<String>,
    pub description: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub attendees: Option<Vec<String>>,
    pub recurrence: Option<Option<String>>,
    pub notify_attendees: Option<bool>,
    pub allow_conflict: bool,
}

pub fn msg_stale(version: i64) -> String {
    format!("This booking was changed since you read it (it is at version {version} now). Reload it and try again.")
}

/// Changes a booking (moving it is checked for clashes like booking), bumps its version,
/// records the before and after, and marks its copy to be written again.
pub async fn update(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str, changes: Changes) -> Result<Outcome> {
    Ok(update_with_warnings(conn, actor, id, by, changes).await?.outcome)
}

/// `update`, also answering (for a move) the member's calendars it could not be checked
/// against, like `create_with_warnings`.
pub async fn update_with_warnings(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str, changes: Changes) -> Result<Answer> {
    let current = get(conn, actor, id).await?;
    if current.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED.into()));
    }
    if changes.version != current.version {
        return Err(Error::Conflict(msg_stale(current.version)));
    }
    let utc = |t: NaiveDateTime| t.and_utc().to_rfc3339();
    let new = NewBooking {
        user: Some(current.user.clone()),
        team: None,
        title: changes.title.clone().unwrap_or_else(|| current.title.clone()),
        start: changes.start.clone().unwrap_or_else(|| utc(current.start)),
        end: changes.end.clone().unwrap_or_else(|| utc(current.end)),
        time_zone: changes.time_zone.clone().unwrap_or_else(|| current.time_zone.clone()),
        description: changes.description.clone().unwrap_or_else(|| current.description.clone()),
        location: changes.location.clone().unwrap_or_else(|| current.location.clone()),
        attendees: changes.attendees.clone().unwrap_or_else(|| current.attendees.clone()),
        recurrence: changes.recurrence.clone().unwrap_or_else(|| current.recurrence.clone()),
        allow_conflict: changes.allow_conflict,
        notify_attendees: changes.notify_attendees.unwrap_or(current.notify_attendees),
    };
    let ch = check(conn, actor, &new, Some(current.start.and_utc())).await?;
    let moved =
        ch.start.naive_utc() != current.start || ch.end.naive_utc() != current.end || ch.recurrence != current.recurrence || ch.tz.name() != current.time_zone;
    let (found, unchecked) = if moved { look(conn, &ch, Some(id), changes.allow_conflict).await? } else { (Vec::new(), Vec::new()) };
    if !found.is_empty() {
        return Ok(Answer { outcome: Outcome::Busy(found), unchecked });
    }
    let at = now();
    let by = by.to_string();
    let attendees_text = ch.attendees.join("\n");
    let (s, e) = (ch.start.naive_utc(), ch.end.naive_utc());
    let zone = ch.tz.name().to_string();
    let notify = new.notify_attendees;
    let before = current.snapshot();
    let (user_id, version) = (current.user_id, current.version);
    let exceptions = still_occurring(&current.exceptions, ch.start, ch.end, ch.tz, ch.recurrence.as_deref());
    let Checked { title, description, location, recurrence, .. } = ch;
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let text = exceptions_text(&exceptions);
            let columns = Columns {
                title: &title,
                description: description.as_deref(),
                location: location.as_deref(),
                attendees: &attendees_text,
                start_at: s,
                end_at: e,
                time_zone: &zone,
                recurrence: recurrence.as_deref(),
                notify_attendees: notify,
                modified_at: at,
                exceptions: &text,
            };
            let changed = run!(&mut c, |cc| diesel::update(b::table.find(id).filter(b::version.eq(version)).filter(b::status.eq("confirmed")))
                .set((columns, b::version.eq(b::version + 1)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(msg_stale(version + 1)));
            }
            let after = snapshot(&title, s, e, &zone, &recurrence, &description, &location, &attendees_text, "confirmed", &exceptions);
            record(&mut c, id, "update", &by, Some(before.to_string()), Some(after.to_string()), at).await?;
            push_queue::plan(&mut c, id, user_id, false, at).await
        })
    })
    .await?;
    Ok(Answer { outcome: Outcome::Booked(get(conn, actor, id).await?), unchecked })
}

/// A history row of a booking.
pub(crate) async fn record(
    c: &mut Conn<'_>,
    id: i64,
    action: &'static str,
    actor: &str,
    before: Option<String>,
    after: Option<String>,
    at: NaiveDateTime,
) -> Result<()> {
    run!(c, |cc| diesel::insert_into(ch::table)
        .values((
            ch::integration_id.eq(None::<i64>),
            ch::entity.eq("booking"),
            ch::entity_key.eq(id.to_string()),
            ch::action.eq(action),
            ch::actor.eq(actor),
            ch::before.eq(before),
            ch::after.eq(after),
            ch::at.eq(at),
        ))
        .execute(cc)
        .await)?;
    Ok(())
}

/// Cancels a booking (it stops blocking time); `Conflict` when it is cancelled already.
pub async fn cancel(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &str) -> Result<Booking> {
    let booking = get(conn, actor, id).await?;
    if booking.status == "cancelled" {
        return Err(Error::Conflict(MSG_CANCELLED.into()));
    }
    let by = by.to_string();
    let at = now();
    let user_id = booking.user_id;
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let changed = run!(&mut c, |cc| diesel::update(b::table.find(id).filter(b::status.eq("confirmed")))
                .set((b::status.eq("cancelled"), b::version.eq(b::version + 1), b::modified_at.eq(at)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(MSG_CANCELLED.into()));
            }
            record(&mut c, id, "cancel", &by, Some(json!({"status": "confirmed"}).to_string()), Some(json!({"status": "cancelled"}).to_string()), at).await?;
            push_queue::plan(&mut c, id, user_id, true, at).await
        })
    })
    .await?;
    get(conn, actor, id).await
}

/// A version from elsewhere (the calendar's copy, a conflict's resolution) taken into a booking,
/// inside the caller's transaction: its fields set, its version bumped, the change recorded as
/// `actor`. A booking changed since `b` was read is refused.
pub async fn take_fields(c: &mut Conn<'_>, b: &Booking, f: &crate::domain::merge::Fields, actor: &str) -> Result<()> {
    let at = now();
    let (s, e) = (f.start.naive_utc(), f.end.naive_utc());
    // A series keeps being one (its rule may change); a single meeting stays single.
    let rule = if b.recurrence.is_some() { f.recurrence.clone().or_else(|| b.recurrence.clone()) } else { None };
    // The per-occurrence changes that still fall on the (new) rule are kept.
    let exceptions = still_occurring(&f.occurrences, f.start, f.end, b.tz(), rule.as_deref());
    let text = exceptions_text(&exceptions);
    let attendees = f.attendees.join("\n");
    let changed = run!(c, |cc| diesel::update(b::table.find(b.id).filter(b::version.eq(b.version)))
        .set((
            b::title.eq(&f.title),
            b::start_at.eq(s),
            b::end_at.eq(e),
            b::location.eq(&f.location),
            b::description.eq(&f.description),
            b::attendees.eq(&attendees),
            b::recurrence.eq(&rule),
            b::exceptions.eq(&text),
            b::status.eq("confirmed"),
            b::version.eq(b::version + 1),
            b::modified_at.eq(at)
        ))
        .execute(cc)
        .await)?;
    if changed == 0 {
        return Err(Error::Conflict(msg_stale(b.version + 1)));
    }
    let after = snapshot(&f.title, s, e, &b.time_zone, &rule, &f.description, &f.location, &attendees, "confirmed", &exceptions);
    record(c, b.id, "update", actor, Some(b.snapshot().to_string()), Some(after.to_string()), at).await
}

/// A booking cancelled because its copy was deleted in the calendar (inside the caller's
/// transaction).
pub async fn cancel_from(c: &mut Conn<'_>, b: &Booking, actor: &str) -> Result<()> {
    let at = now();
    let changed = run!(c, |cc| diesel::update(b::table.find(b.id).filter(b::version.eq(b.version)))
        .set((b::status.eq("cancelled"), b::version.eq(b::version + 1), b::modified_at.eq(at)))
        .execute(cc)
        .await)?;
    if changed == 0 {
        return Err(Error::Conflict(msg_stale(b.version + 1)));
    }
    record(c, b.id, "cancel", actor, Some(json!({"status": b.status}).to_string()), Some(json!({"status": "cancelled"}).to_string()), at).await
}

/// Refuses (`Conflict`) when the booking is no longer at `version`: it changed while a merge
/// looked at it (inside the caller's transaction).
pub async fn still(c: &mut Conn<'_>, id: i64, version: i64) -> Result<()> {
    let now: i64 = run!(c, |cc| b::table.find(id).select(b::version).first(cc).await)?;
    if now != version {
        return Err(Error::Conflict(msg_stale(now)));
    }
    Ok(())
}
