//! Find a time: the free slots of a team or a member over a week, in the viewer's zone, each
//! with who is free, and a link that books it.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// `team:Sales` or `user:ana@example.com`
    pub value: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlotView {
    /// "09:00–09:30"
    pub label: String,
    /// Who is free: "Ana Able, Bob Baker" (an email for a member without a name).
    pub members: String,
    /// The booking form, filled in.
    pub book: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayView {
    /// "Mon 14 Dec"
    pub label: String,
    pub slots: Vec<SlotView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindTimeData {
    pub choices: Vec<Choice>,
    pub who: String,
    pub mode: String,
    pub duration: String,
    /// The week's Monday, `YYYY-MM-DD`, and the weeks either side.
    pub week: String,
    pub previous: String,
    pub next: String,
    /// "14–20 Dec 2026 (Europe/Berlin)"
    pub heading: String,
    pub time_zone: String,
    pub days: Vec<DayView>,
    /// What the search could not trust ("'Work' of ana@example.com has not synced since …").
    pub warnings: Vec<String>,
}

pub const DURATIONS: [&str; 5] = ["15", "30", "45", "60", "90"];

#[server]
pub async fn find_time(who: Option<String>, mode: Option<String>, duration: Option<String>, week: Option<String>) -> Result<FindTimeData, AppError> {
    use chrono::{Datelike, Duration, NaiveDate};
    use server::domain::{hours, slots, teams};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let actor = super::integrations::actor(&me);
    let tz = me.tz();
    let teams = {
        let mut pooled = state.pool.get().await?;
        teams::list(&mut pooled.conn(), actor).await?
    };
    let users = if me.is_admin() { super::integrations::user_emails(&state).await? } else { vec![me.email.clone()] };
    let mut choices: Vec<Choice> =
        teams.iter().map(|t| Choice { value: format!("team:{}", t.name), label: format!("Team {} ({} members)", t.name, t.members.len()) }).collect();
    choices.extend(users.iter().map(|u| Choice { value: format!("user:{u}"), label: if *u == me.email { format!("{u} (you)") } else { u.clone() } }));
    let who = who.filter(|w| choices.iter().any(|c| c.value == *w)).or_else(|| choices.first().map(|c| c.value.clone())).unwrap_or_default();
    let mode = if mode.as_deref() == Some("all") { "all".to_string() } else { "any".to_string() };
    let duration = duration.filter(|d| DURATIONS.contains(&d.as_str())).unwrap_or_else(|| "30".into());
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let day = week.and_then(|w| NaiveDate::parse_from_str(w.trim(), "%Y-%m-%d").ok()).unwrap_or(today);
    let monday = hours::week_of(day);
    let sunday = monday + Duration::days(6);
    let (team, user) = match who.split_once(':') {
        Some(("team", t)) => (Some(t.to_string()), None),
        Some((_, u)) => (None, Some(u.to_string())),
        None => (None, Some(me.email.clone())),
    };
    let step = duration.parse::<i64>().unwrap_or(30).min(30);
    let query = slots::Query {
        user: user.clone(),
        team: team.clone(),
        mode: Some(mode.clone()),
        from: Some(monday.to_string()),
        to: Some((monday + Duration::days(7)).to_string()),
        duration: Some(duration.clone()),
        step: Some(step.to_string()),
    };
    let found = {
        let mut pooled = state.pool.get().await?;
        slots::find(&mut pooled.conn(), actor, &query).await?
    };
    let mut days: Vec<DayView> = Vec::new();
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz);
    for s in &found.slots {
        let (a, b) = (local(s.start), local(s.end));
        let label = a.format("%a %-d %b").to_string();
        if days.last().map(|d| d.label != label).unwrap_or(true) {
            days.push(DayView { label: label.clone(), slots: Vec::new() });
        }
        let members: Vec<&str> = s.members.iter().map(|k| found.members[*k].display_name()).collect();
        let target = match (&team, &user) {
            (Some(t), _) => format!("team={}", super::query_escape(t)),
            (_, Some(u)) => format!("user={}", super::query_escape(u)),
            _ => String::new(),
        };
        let book = format!(
            "/bookings?{target}&start={}&end={}&time_zone={}",
            super::query_escape(&a.format("%Y-%m-%dT%H:%M").to_string()),
            super::query_escape(&b.format("%Y-%m-%dT%H:%M").to_string()),
            super::query_escape(tz.name())
        );
        let end = if a.date_naive() == b.date_naive() { b.format("%H:%M").to_string() } else { b.format("%a %H:%M").to_string() };
        if let Some(d) = days.last_mut() {
            d.slots.push(SlotView { label: format!("{}–{end}", a.format("%H:%M")), members: members.join(", "), book });
        }
    }
    let at = chrono::Utc::now();
    let warnings = found
        .degraded
        .iter()
        .map(|d| {
            let policy = if d.stale_policy == "fail-closed" { "its member counts as busy all week" } else { "a clash there would not be seen" };
            format!("'{}' of {} {}: {policy}.", d.integration_name, d.user, server::domain::bookings::out_of_date(d, tz, at))
        })
        .collect();
    let heading = if monday.month() == sunday.month() {
        format!("{}–{} ({})", monday.format("%-d"), sunday.format("%-d %b %Y"), tz.name())
    } else {
        format!("{}–{} ({})", monday.format("%-d %b"), sunday.format("%-d %b %Y"), tz.name())
    };
    Ok(FindTimeData {
        choices,
        who,
        mode,
        duration,
        week: monday.to_string(),
        previous: (monday - Duration::days(7)).to_string(),
        next: (monday + Duration::days(7)).to_string(),
        heading,
        time_zone: tz.name().to_string(),
        days,
        warnings,
    })
}
