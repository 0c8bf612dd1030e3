//! The availability week view: a user's busy events, day by day, in their time zone.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockView {
    /// Position in the day column, in percent of 24 hours.
    pub top: f64,
    pub height: f64,
    /// Colour slot of its calendar.
    pub color: usize,
    pub calendar: String,
    pub summary: String,
    /// "09:00–10:30"
    pub time: String,
    /// "tentative" or "not answered": it blocks, but may not happen (drawn hatched).
    pub maybe: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayView {
    pub date: String,
    /// "Mon 23"
    pub label: String,
    pub is_today: bool,
    pub all_day: Vec<BlockView>,
    pub blocks: Vec<BlockView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LegendItem {
    pub calendar: String,
    pub color: usize,
}

/// A calendar whose busy time cannot be trusted, for the banner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DegradedView {
    pub calendar: String,
    /// `Failed`, `Stale` or `Never synced`
    pub kind: String,
    /// "last synced 2026-11-29 10:00:00" or "never synced"
    pub last_sync: String,
    /// What availability does meanwhile.
    pub policy: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeekData {
    pub user: String,
    pub is_admin: bool,
    pub users: Vec<String>,
    pub tz: String,
    /// "23 – 29 November 2026"
    pub title: String,
    pub week: String,
    pub prev: String,
    pub next: String,
    pub is_this_week: bool,
    pub days: Vec<DayView>,
    pub legend: Vec<LegendItem>,
    /// "7 h 30 min busy (merged)"
    pub busy_total: String,
    /// Calendars that make this week's busy time incomplete.
    pub degraded: Vec<DegradedView>,
}

/// What a hatched block says it is.
#[cfg(feature = "ssr")]
fn maybe(rule: Option<&str>) -> Option<String> {
    match rule? {
        "tentative" => Some("tentative".into()),
        "unanswered" => Some("not answered".into()),
        _ => None,
    }
}

/// Colour slots in style/main.css (`.cal-c0` … `.cal-c7`).
pub const COLORS: usize = 8;

#[server]
pub async fn week_view(user: Option<String>, week: Option<String>) -> Result<WeekData, AppError> {
    use chrono::{Datelike, Duration, NaiveDate, Timelike};
    use server::domain::availability as av;
    use server::events::When;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let subject = av::subject(&mut conn, super::integrations::actor(&me), user.as_deref()).await?;
    let tz = subject.tz();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let day = week
        .as_deref()
        .map(|w| NaiveDate::parse_from_str(w.trim(), "%Y-%m-%d").map_err(|_| AppError::bad_request(format!("'{w}' is not a date like 2026-11-23."))))
        .transpose()?
        .unwrap_or(today);
    let monday = day - Duration::days(day.weekday().num_days_from_monday() as i64);
    let at = |d: NaiveDate| When::Date(d).instant(tz);
    let (from, to) = (at(monday), at(monday + Duration::days(7)));
    let (blocks, degraded) = av::known(&mut conn, &subject, from, to).await?;
    drop(pooled);
    let degraded = degraded
        .into_iter()
        .map(|d| DegradedView {
            calendar: d.integration_name,
            kind: d.kind.as_str().into(),
            last_sync: d
                .last_sync
                .map(|t| format!("last synced {}", server::domain::integrations::rules::format_datetime(t, tz)))
                .unwrap_or_else(|| "never synced".into()),
            policy: match (d.stale_policy.as_str(), d.last_sync) {
                ("fail-closed", _) => "the whole week counts as busy".into(),
                (_, None) => "none of its busy time is known yet".into(),
                _ => "its last known busy time is shown".into(),
            },
        })
        .collect();

    let mut calendars: Vec<String> = blocks.iter().map(|b| b.integration_name.to_string()).collect();
    calendars.sort();
    calendars.dedup();
    let color = |name: &str| calendars.iter().position(|c| c == name).unwrap_or(0) % COLORS;
    let mut days: Vec<DayView> = (0..7)
        .map(|n| {
            let d = monday + Duration::days(n);
            DayView { date: d.to_string(), label: d.format("%a %-d").to_string(), is_today: d == today, all_day: vec![], blocks: vec![] }
        })
        .collect();
    // Each day's bounds in the user's zone, once.
    let bounds: Vec<_> = (0..7).map(|n| monday + Duration::days(n)).map(|d| (at(d).with_timezone(&tz), at(d + Duration::days(1)).with_timezone(&tz))).collect();
    for b in &blocks {
        let (start, end) = (b.start.with_timezone(&tz), b.end.with_timezone(&tz));
        let mut view = BlockView {
            top: 0.0,
            height: 0.0,
            color: color(&b.integration_name),
            calendar: b.integration_name.to_string(),
            summary: b.summary.clone(),
            time: String::new(),
            maybe: maybe(b.rule),
        };
        for (day, &(day_start, day_end)) in days.iter_mut().zip(&bounds) {
            if start >= day_end || end <= day_start {
                continue;
            }
            if b.all_day || b.kind == av::OUT_OF_DATE {
                day.all_day.push(BlockView { time: "all day".into(), ..view.clone() });
                continue;
            }
            let (s, e) = (start.max(day_start), end.min(day_end));
            let minutes = |t: chrono::DateTime<chrono_tz::Tz>| if t == day_end { 1440.0 } else { (t.hour() * 60 + t.minute()) as f64 };
            view.top = minutes(s) / 14.4;
            view.height = ((minutes(e) - minutes(s)).max(20.0)) / 14.4;
            view.time = format!("{}–{}", start.format("%H:%M"), end.format(if end.date_naive() == start.date_naive() { "%H:%M" } else { "%a %H:%M" }));
            day.blocks.push(view.clone());
        }
    }
    let busy: i64 = av::merge(blocks, from, to).iter().map(|b| (b.end - b.start).num_minutes()).sum();
    let sunday = monday + Duration::days(6);
    Ok(WeekData {
        user: subject.email.clone(),
        is_admin: me.is_admin(),
        users: if me.is_admin() { super::integrations::user_emails(&state).await? } else { Vec::new() },
        tz: tz.name().into(),
        title: if monday.month() == sunday.month() {
            format!("{} – {}", monday.format("%-d"), sunday.format("%-d %B %Y"))
        } else {
            format!("{} – {}", monday.format("%-d %B"), sunday.format("%-d %B %Y"))
        },
        week: monday.to_string(),
        prev: (monday - Duration::days(7)).to_string(),
        next: (monday + Duration::days(7)).to_string(),
        is_this_week: (monday..=sunday).contains(&today),
        days,
        legend: calendars.iter().map(|c| LegendItem { calendar: c.clone(), color: color(c) }).collect(),
        busy_total: if busy == 0 { "No busy time".into() } else { format!("{} h {:02} min busy", busy / 60, busy % 60) },
        degraded,
    })
}
