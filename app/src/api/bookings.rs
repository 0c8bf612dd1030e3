//! The Bookings page: a member's upcoming meetings, booking one (checked against their
//! availability first), cancelling one.
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingView {
    pub id: i64,
    pub title: String,
    /// "2026-12-02 10:00–10:30 (Europe/Berlin)"
    pub when: String,
    /// "Weekly, 10 times" style text of the rule, or None.
    pub recurrence: Option<String>,
    pub location: Option<String>,
    pub attendees: String,
    pub cancelled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingsPage {
    pub user: String,
    pub is_admin: bool,
    pub users: Vec<String>,
    /// The member's zone, the form's default.
    pub time_zone: String,
    pub zones: Vec<String>,
    pub items: Vec<BookingView>,
}

/// What "Book" answered: the booking, or what is in the way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BookResult {
    Booked(String),
    Busy(Vec<String>),
}

#[server]
pub async fn list_bookings(user: Option<String>) -> Result<BookingsPage, AppError> {
    use server::domain::{availability as av, bookings as bk};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let member = av::subject(&mut conn, super::integrations::actor(&me), user.as_deref()).await?;
    let from = chrono::Utc::now() - chrono::Duration::days(1);
    let items = bk::list(&mut conn, super::integrations::actor(&me), Some(&member.email), from, from + chrono::Duration::days(366)).await?;
    Ok(BookingsPage {
        user: member.email.clone(),
        is_admin: me.is_admin(),
        users: if me.is_admin() { super::integrations::user_emails(&state).await? } else { Vec::new() },
        time_zone: member.time_zone.clone(),
        zones: super::profile::zone_names(),
        items: items
            .into_iter()
            .map(|b| {
                let tz = b.tz();
                let (s, e) = (b.start.and_utc().with_timezone(&tz), b.end.and_utc().with_timezone(&tz));
                let end = if s.date_naive() == e.date_naive() { e.format("%H:%M").to_string() } else { e.format("%Y-%m-%d %H:%M").to_string() };
                BookingView {
                    id: b.id,
                    title: b.title.clone(),
                    when: format!("{}–{end} ({})", s.format("%a %Y-%m-%d %H:%M"), tz.name()),
                    recurrence: b.recurrence.clone(),
                    location: b.location.clone(),
                    attendees: b.attendees.join(", "),
                    cancelled: b.status == "cancelled",
                }
            })
            .collect(),
    })
}

/// Books a meeting. `attendees`: emails separated by commas or lines.
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn create_booking(
    user: Option<String>,
    title: String,
    start: String,
    end: String,
    time_zone: String,
    location: Option<String>,
    attendees: Option<String>,
    recurrence: Option<String>,
    allow_conflict: Option<String>,
) -> Result<BookResult, AppError> {
    use server::domain::bookings as bk;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let new = bk::NewBooking {
        user: user.filter(|u| !u.trim().is_empty()),
        title,
        start,
        end,
        time_zone,
        location,
        attendees: attendees.unwrap_or_default().split([',', '\n']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect(),
        recurrence: recurrence.filter(|r| !r.trim().is_empty()),
        allow_conflict: matches!(allow_conflict.as_deref(), Some("on" | "true" | "1")),
        ..bk::NewBooking::default()
    };
    let mut pooled = state.pool.get().await?;
    Ok(match bk::create(&mut pooled.conn(), super::integrations::actor(&me), &me.email, new).await? {
        bk::Outcome::Booked(b) => BookResult::Booked(format!("Booked '{}' for {}.", b.title, b.user)),
        bk::Outcome::Busy(clashes) => BookResult::Busy(clashes.into_iter().map(|c| c.message).collect()),
    })
}

#[server]
pub async fn cancel_booking(id: i64) -> Result<(), AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    server::domain::bookings::cancel(&mut pooled.conn(), super::integrations::actor(&me), id, &me.email).await?;
    Ok(())
}
