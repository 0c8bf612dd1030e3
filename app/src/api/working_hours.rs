//! Settings → Working hours: a member's weekly hours (a text field per day: "09:00–12:00,
//! 13:00–17:00"), buffers, notice, limits, zone, and date overrides.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub const DAYS: [(&str, &str); 7] =
    [("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"), ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday")];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayHours {
    /// `mon` …
    pub key: String,
    pub label: String,
    /// "09:00–12:00, 13:00–17:00"; empty: not working that day.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverrideView {
    /// `YYYY-MM-DD`
    pub date: String,
    /// "Fri 2027-01-15"
    pub label: String,
    /// "Day off", or the hours.
    pub hours: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkingHoursData {
    pub user: String,
    pub is_admin: bool,
    pub users: Vec<String>,
    pub zones: Vec<String>,
    pub time_zone: String,
    /// No hours set: available at any time.
    pub any_time: bool,
    pub days: Vec<DayHours>,
    pub buffer_before: String,
    pub buffer_after: String,
    pub notice: String,
    pub per_day: String,
    pub per_week: String,
    pub overrides: Vec<OverrideView>,
}

/// Hours as the page writes them.
#[cfg(feature = "ssr")]
fn text_of(hours: &[server::domain::hours::HoursText]) -> String {
    hours.iter().map(|h| format!("{}–{}", h.start, h.end)).collect::<Vec<_>>().join(", ")
}

/// Reads "09:00–12:00, 13:00–17:00" (an end before the start runs into the next day); a piece
/// that is not two times is an error under `field`.
#[cfg(feature = "ssr")]
fn parse_text(field: &str, text: &str, day: Option<&str>, errors: &mut Vec<crate::error::FieldMessage>) -> Vec<server::domain::hours::HoursText> {
    let mut out = Vec::new();
    for piece in text.split([',', ';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let parts: Vec<&str> = piece.split(['–', '—', '-']).map(str::trim).collect();
        let [start, end] = parts.as_slice() else {
            errors.push(crate::error::FieldMessage::new(field, format!("'{piece}' is not hours such as 09:00–17:00.")));
            continue;
        };
        let overnight = end < start && *end != "24:00";
        out.push(server::domain::hours::HoursText {
            days: day.map(|d| vec![d.to_string()]).unwrap_or_default(),
            start: start.to_string(),
            end: end.to_string(),
            overnight,
        });
    }
    out
}

#[server]
pub async fn working_hours(user: Option<String>) -> Result<WorkingHoursData, AppError> {
    use server::domain::working_hours as wh;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let email = user.filter(|u| !u.trim().is_empty()).unwrap_or_else(|| me.email.clone());
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let actor = super::integrations::actor(&me);
    let (member, s) = wh::settings(&mut conn, actor, &email).await?;
    let (_, overrides) = wh::overrides(&mut conn, actor, &email).await?;
    let entries = s.working_hours.clone().unwrap_or_default();
    let days = DAYS
        .iter()
        .map(|(key, label)| {
            let mine: Vec<_> = entries.iter().filter(|h| h.days.iter().any(|d| d.eq_ignore_ascii_case(key))).cloned().collect();
            DayHours { key: key.to_string(), label: label.to_string(), text: text_of(&mine) }
        })
        .collect();
    let today = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    Ok(WorkingHoursData {
        user: member.email,
        is_admin: me.is_admin(),
        users: if me.is_admin() { super::integrations::user_emails(&state).await? } else { Vec::new() },
        zones: super::profile::zone_names(),
        time_zone: s.time_zone,
        any_time: s.working_hours.is_none(),
        days,
        buffer_before: s.buffer_before_minutes.to_string(),
        buffer_after: s.buffer_after_minutes.to_string(),
        notice: s.minimum_notice_minutes.to_string(),
        per_day: s.max_bookings_per_day.map(|n| n.to_string()).unwrap_or_default(),
        per_week: s.max_bookings_per_week.map(|n| n.to_string()).unwrap_or_default(),
        overrides: overrides
            .into_iter()
            .filter(|(d, _)| *d >= today)
            .map(|(d, h)| OverrideView {
                date: d.to_string(),
                label: d.format("%a %Y-%m-%d").to_string(),
                hours: if h.is_empty() { "Day off".into() } else { text_of(&h) },
            })
            .collect(),
    })
}

/// Saves the weekly hours and rules. `any_time` set: no hours (available at any time).
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn save_working_hours(
    user: String,
    time_zone: String,
    any_time: Option<String>,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    buffer_before: String,
    buffer_after: String,
    notice: String,
    per_day: String,
    per_week: String,
) -> Result<String, AppError> {
    use crate::error::FieldMessage;
    use server::domain::working_hours as wh;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut errors = Vec::new();
    // Which day each entry came from, to put the domain's messages under that day's field.
    let mut from_day = Vec::new();
    let mut entries = Vec::new();
    for ((key, _), text) in DAYS.iter().zip([&mon, &tue, &wed, &thu, &fri, &sat, &sun]) {
        for h in parse_text(&format!("hours_{key}"), text, Some(key), &mut errors) {
            from_day.push(*key);
            entries.push(h);
        }
    }
    let mut number = |field: &str, label: &str, v: &str| -> Option<i64> {
        let v = v.trim();
        if v.is_empty() {
            return None;
        }
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldMessage::new(field, format!("{label} must be a whole number.")));
                None
            }
        }
    };
    let settings = wh::Settings {
        time_zone,
        working_hours: if super::integrations::checked(&any_time) { None } else { Some(entries) },
        buffer_before_minutes: number("buffer_before", "Buffer before", &buffer_before).unwrap_or(0),
        buffer_after_minutes: number("buffer_after", "Buffer after", &buffer_after).unwrap_or(0),
        minimum_notice_minutes: number("notice", "Minimum notice", &notice).unwrap_or(0),
        max_bookings_per_day: number("per_day", "Bookings per day", &per_day),
        max_bookings_per_week: number("per_week", "Bookings per week", &per_week),
    };
    if !errors.is_empty() {
        return Err(AppError::Invalid { errors, warnings: Vec::new() });
    }
    let mut pooled = state.pool.get().await?;
    match wh::put_settings(&mut pooled.conn(), super::integrations::actor(&me), &user, settings).await {
        Ok(_) => Ok("Working hours saved.".into()),
        Err(server::domain::Error::Invalid(report)) => {
            let field = |f: Option<String>| -> Option<String> {
                let f = f?;
                let rest = f.strip_prefix("working_hours[")?;
                let i: usize = rest.split(']').next()?.parse().ok()?;
                from_day.get(i).map(|d| format!("hours_{d}"))
            };
            let rename = |f: Option<String>| -> Option<String> {
                match f.as_deref() {
                    Some("buffer_before_minutes") => Some("buffer_before".into()),
                    Some("buffer_after_minutes") => Some("buffer_after".into()),
                    Some("minimum_notice_minutes") => Some("notice".into()),
                    Some("max_bookings_per_day") => Some("per_day".into()),
                    Some("max_bookings_per_week") => Some("per_week".into()),
                    _ => field(f.clone()).or(f),
                }
            };
            let errors = report.errors.into_iter().map(|m| FieldMessage { field: rename(m.field), message: m.message, danger: false }).collect();
            Err(AppError::Invalid { errors, warnings: Vec::new() })
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets a date's hours ("" or "off": a day off).
#[server]
pub async fn add_override(user: String, date: String, hours: String) -> Result<String, AppError> {
    use server::domain::working_hours as wh;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut errors = Vec::new();
    let text = if hours.trim().eq_ignore_ascii_case("off") { String::new() } else { hours };
    let entries = parse_text("override_hours", &text, None, &mut errors);
    if date.trim().is_empty() {
        errors.push(crate::error::FieldMessage::new("override_date", "Date is required."));
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid { errors, warnings: Vec::new() });
    }
    let mut pooled = state.pool.get().await?;
    match wh::put_override(&mut pooled.conn(), super::integrations::actor(&me), &user, &date, entries).await {
        Ok((d, h)) => Ok(if h.is_empty() { format!("{d} is a day off.") } else { format!("{d}: {}.", text_of(&h)) }),
        Err(server::domain::Error::Invalid(report)) => Err(AppError::Invalid {
            errors: report
                .errors
                .into_iter()
                .map(|m| crate::error::FieldMessage::new(if m.field.as_deref() == Some("date") { "override_date" } else { "override_hours" }, m.message))
                .collect(),
            warnings: Vec::new(),
        }),
        Err(e) => Err(e.into()),
    }
}

#[server]
pub async fn remove_override(user: String, date: String) -> Result<String, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    server::domain::working_hours::delete_override(&mut pooled.conn(), super::integrations::actor(&me), &user, &date).await?;
    Ok(format!("The override of {date} is removed: the weekly hours apply."))
}
