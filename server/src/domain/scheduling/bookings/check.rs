//! Checking a booking before it is saved: the times and rule as typed, then what is in the
//! way over every occurrence (busy time, working hours, notice, limits) and which calendars
//! could not be checked.
use super::*;

/// A wall-clock time in `tz`, or an RFC 3339 instant. A time the clocks skip is refused.
pub(super) fn instant(field: &str, label: &str, value: &str, tz: Tz, errors: &mut Vec<FieldMessage>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if value.is_empty() {
        errors.push(FieldMessage::new(field, format!("{label} is required.")));
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    let naive =
        ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"].iter().find_map(|f| NaiveDateTime::parse_from_str(value, f).ok());
    let Some(naive) = naive else {
        errors.push(FieldMessage::new(field, format!("{label} '{value}' is not a time such as 2026-12-02 10:00 or 2026-12-02T09:00:00Z.")));
        return None;
    };
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            errors.push(FieldMessage::new(
                field,
                format!("{} does not exist in {}: the clocks go forward then. Choose another time.", naive.format("%Y-%m-%d %H:%M"), tz.name()),
            ));
            None
        }
    }
}

/// Checks a rule the way it will be read: `RRULE:` and what rrule accepts.
pub(super) fn check_rule(rule: &str, start: DateTime<Utc>, errors: &mut Vec<FieldMessage>) -> Option<String> {
    let rule = rule.trim();
    let Some(body) = rule.strip_prefix("RRULE:").filter(|b| !b.trim().is_empty() && !b.contains('\n') && !b.contains('\r')) else {
        errors.push(FieldMessage::new(
            "recurrence",
            format!("'{rule}' is not a recurrence rule: it must start with RRULE: (for example RRULE:FREQ=WEEKLY;COUNT=10)."),
        ));
        return None;
    };
    let text = format!("DTSTART:{}\nRRULE:{body}", start.format("%Y%m%dT%H%M%SZ"));
    match text.parse::<rrule::RRuleSet>() {
        Ok(_) => Some(rule.to_string()),
        Err(e) => {
            errors.push(FieldMessage::new("recurrence", format!("'{rule}' is not a valid recurrence rule: {e}.")));
            None
        }
    }
}

pub(super) fn clash_message(email: &str, tz: Tz, recurring: bool, block: &availability::Block) -> String {
    let (s, e) = (block.start.with_timezone(&tz), block.end.with_timezone(&tz));
    let when = if recurring || e.date_naive() != s.date_naive() {
        format!(
            "{}–{}",
            s.format("%Y-%m-%d %H:%M"),
            if e.date_naive() == s.date_naive() { e.format("%H:%M").to_string() } else { e.format("%Y-%m-%d %H:%M").to_string() }
        )
    } else {
        format!("{}–{}", s.format("%H:%M"), e.format("%H:%M"))
    };
    format!("{email} is busy {when}: '{}' ({})", block.summary, block.integration_name)
}

/// The columns a booking's create and change both write.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = b, treat_none_as_null = true)]
pub(super) struct Columns<'a> {
    pub(super) title: &'a str,
    pub(super) description: Option<&'a str>,
    pub(super) location: Option<&'a str>,
    pub(super) attendees: &'a str,
    pub(super) start_at: NaiveDateTime,
    pub(super) end_at: NaiveDateTime,
    pub(super) time_zone: &'a str,
    pub(super) recurrence: Option<&'a str>,
    pub(super) notify_attendees: bool,
    pub(super) modified_at: NaiveDateTime,
    pub(super) exceptions: &'a str,
}

/// A booking's fields as checked.
pub(super) struct Checked {
    pub(super) member: users::User,
    pub(super) title: String,
    pub(super) tz: Tz,
    pub(super) start: DateTime<Utc>,
    pub(super) end: DateTime<Utc>,
    pub(super) description: Option<String>,
    pub(super) location: Option<String>,
    pub(super) attendees: Vec<String>,
    pub(super) recurrence: Option<String>,
}

/// Checks what a caller typed; `was`: the start a booking has now (an unchanged start of a
/// meeting under way is not "in the past").
pub(super) async fn check(conn: &mut Conn<'_>, actor: Actor, new: &NewBooking, was: Option<DateTime<Utc>>) -> Result<Checked> {
    let member = users::subject(conn, actor, new.user.as_deref(), MSG_OWN_ONLY).await?;
    let mut errors = Vec::new();
    if member.disabled {
        errors.push(FieldMessage::new("user", format!("{} is inactive and cannot be booked.", member.email)));
    }
    let title = new.title.trim().to_string();
    if title.is_empty() {
        errors.push(FieldMessage::new("title", "Title is required."));
    } else if title.chars().count() > TITLE_MAX {
        errors.push(FieldMessage::new("title", format!("Title cannot exceed {TITLE_MAX} characters.")));
    }
    let zone_name = new.time_zone.trim();
    let tz: Option<Tz> = match zone_name.parse() {
        Ok(tz) => Some(tz),
        Err(_) => {
            errors.push(FieldMessage::new("time_zone", format!("'{zone_name}' is not a time zone: use an IANA name such as Europe/Berlin.")));
            None
        }
    };
    let times = tz.map(|tz| (instant("start", "Start", &new.start, tz, &mut errors), instant("end", "End", &new.end, tz, &mut errors)));
    let (start, end) = match times {
        Some((Some(s), Some(e))) => (Some(s), Some(e)),
        _ => (None, None),
    };
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            errors.push(FieldMessage::new("end", "The end must be after the start."));
        }
        if s < Utc::now() - Duration::minutes(1) && was != Some(s) {
            errors.push(FieldMessage::new("start", "A booking cannot start in the past."));
        }
    }
    let recurrence = match (new.recurrence.as_deref().map(str::trim).filter(|r| !r.is_empty()), start) {
        (Some(rule), Some(s)) => check_rule(rule, s, &mut errors),
        _ => None,
    };
    let attendees: Vec<String> = new.attendees.iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect();
    for a in &attendees {
        if users::parse_email(a).is_err() {
            errors.push(FieldMessage::new("attendees", format!("'{a}' is not an email address.")));
        }
    }
    let (Some(tz), Some(start), Some(end)) = (tz, start, end) else {
        return Err(Error::Invalid(Report::errors(errors)));
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    let description = new.description.as_deref().map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    let location = new.location.as_deref().map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
    Ok(Checked { member, title, tz, start, end, description, location, attendees, recurrence })
}

/// What is in the way of a booking, over every occurrence (a year of a recurring one): the
/// member's busy time (widened by their buffers) and their rules (working hours, notice,
/// limits); the booking itself (`except`) does not count. Also the member's calendars that
/// cannot be trusted: a fail-closed one among them is in the way, named with why.
pub(super) async fn clashes(conn: &mut Conn<'_>, ch: &Checked, except: Option<i64>) -> Result<(Vec<Clash>, Vec<health::Item>)> {
    let mine = own_occurrences(ch);
    let (Some(first), Some(last)) = (<[_]>::first(&mine), <[_]>::last(&mine)) else {
        return Ok((Vec::new(), health::degraded(conn, ch.member.id, now()).await?));
    };
    let member = slots::load(conn, vec![ch.member.clone()], first.0, last.1, except).await?.remove(0);
    let found = clashes_of(&member, &mine, ch.tz, ch.recurrence.is_some(), Utc::now());
    Ok((found, member.degraded))
}

/// The occurrences of a checked booking, a year of a recurring one.
pub(super) fn own_occurrences(ch: &Checked) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    occurrences(ch.start, ch.end, ch.tz, ch.recurrence.as_deref(), ch.start, ch.start + Duration::days(CHECK_DAYS), 1000)
}

/// How many occurrences a rule that keeps failing is named for before the rest are counted.
pub(super) const RULE_EXAMPLES: usize = 3;

/// What is in the way of `mine` for a member, one message per thing, times in `tz`.
pub(super) fn clashes_of(m: &slots::Member, mine: &[(DateTime<Utc>, DateTime<Utc>)], tz: Tz, recurring: bool, at: DateTime<Utc>) -> Vec<Clash> {
    let email = &m.user.email;
    let mut out: Vec<Clash> = Vec::new();
    let mut rules: Vec<(String, Vec<DateTime<Utc>>)> = Vec::new();
    let rule = |kind: &'static str, message: String, start, end| Clash {
        start,
        end,
        integration: String::new(),
        integration_name: String::new(),
        summary: String::new(),
        message,
        kind,
        rule: None,
    };
    for (s, e) in mine {
        for r in m.reasons(*s, *e, at) {
            let clash = match &r {
                slots::Reason::Inactive => continue,
                slots::Reason::Busy { block, buffer: false } => Clash::of(block, clash_message(email, tz, recurring, block)),
                slots::Reason::Busy { block, buffer: true } => Clash::of(block, format!("{email}: {}", r.text(m, tz))),
                slots::Reason::Closed { block, item } => Clash::of(block, msg_fail_closed(item, m.user.tz(), at)),
                other => {
                    let text = other.text(m, tz);
                    match rules.iter_mut().find(|(t, _)| *t == text) {
                        Some((_, when)) => when.push(*s),
                        None => rules.push((text, vec![*s])),
                    }
                    continue;
                }
            };
            if !out.iter().any(|c| c.message == clash.message) {
                out.push(clash);
            }
        }
    }
    for (text, when) in rules {
        let message = if recurring {
            let named: Vec<String> = when.iter().take(RULE_EXAMPLES).map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()).collect();
            let more = if when.len() > RULE_EXAMPLES { format!(" and {} more", when.len() - RULE_EXAMPLES) } else { String::new() };
            format!("{email}: {text} ({}{more})", named.join(", "))
        } else {
            format!("{email}: {text}")
        };
        out.push(rule("rule", message, when[0], when[0]));
    }
    out
}

impl Clash {
    fn of(b: &availability::Block, message: String) -> Clash {
        Clash {
            start: b.start,
            end: b.end,
            integration: b.integration.to_string(),
            integration_name: b.integration_name.to_string(),
            summary: b.summary.clone(),
            message,
            kind: b.kind,
            rule: b.rule,
        }
    }
}

/// What is in the way of a booking (nothing is looked for when `allow`: it is booked over
/// whatever is there), and the member's calendars it could not be checked against, each with
/// its warning.
pub(super) async fn look(conn: &mut Conn<'_>, ch: &Checked, except: Option<i64>, allow: bool) -> Result<(Vec<Clash>, Vec<Unchecked>)> {
    let (found, degraded) = if allow { (Vec::new(), health::degraded(conn, ch.member.id, now()).await?) } else { clashes(conn, ch, except).await? };
    let (tz, at) = (ch.member.tz(), Utc::now());
    let unchecked: Vec<Unchecked> = degraded.into_iter().map(|d| Unchecked { warning: msg_unchecked(&d, tz, at), calendar: d }).collect();
    Ok((found, unchecked))
}

/// Why a member cannot take a team's meeting, each reason once over all occurrences: what is
/// busy first, then the rules ("busy 10:00–10:30 'Dentist' (Work Google)", "outside working
/// hours"); times in `tz`.
pub(super) fn team_reasons(m: &slots::Member, mine: &[(DateTime<Utc>, DateTime<Utc>)], tz: Tz, at: DateTime<Utc>) -> Vec<String> {
    let (mut busy, mut rules) = (Vec::new(), Vec::new());
    for (s, e) in mine {
        for r in m.reasons(*s, *e, at) {
            let list = if matches!(r, slots::Reason::Busy { .. } | slots::Reason::Closed { .. }) { &mut busy } else { &mut rules };
            let text = r.text(m, tz);
            if !list.contains(&text) {
                list.push(text);
            }
        }
    }
    busy.extend(rules);
    busy
}
