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
    pub copies: Vec<CopyLine>,
    /// The coming occurrences of a recurring booking.
    pub occurrences: Vec<super::occurrences::OccurrenceLine>,
    /// What the edit form starts from: the version read, and the times as the booking's zone
    /// shows them (`YYYY-MM-DDTHH:MM`).
    pub version: i64,
    pub time_zone: String,
    pub start_input: String,
    pub end_input: String,
}

/// A booking's copy in one calendar, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopyLine {
    pub calendar: String,
    pub state: vocab::CopyState,
    /// The error, the note, or when the next try is.
    pub detail: Option<String>,
}

/// What the booking form needs (it does not change when a booking is made).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BookingFormData {
    pub user: String,
    pub is_admin: bool,
    pub users: Vec<String>,
    /// The member's zone, the form's default.
    pub time_zone: String,
    pub zones: Vec<String>,
}

/// What "Book" answered: the booking, with a warning per calendar of the member's it could not
/// be checked against ("Booked, but 'Work' has not synced since 09:12 — a clash there would not
/// be seen"); or what is in the way (an out-of-date fail-closed calendar too, saying why).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BookResult {
    Booked(String, Vec<String>),
    Busy(Vec<String>),
}

#[server]
pub async fn booking_form(user: Option<String>) -> Result<BookingFormData, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let member = {
        let mut pooled = state.pool.get().await?;
        server::domain::availability::subject(&mut pooled.conn(), super::integrations::actor(&me), user.as_deref()).await?
    };
    Ok(BookingFormData {
        user: member.email.clone(),
        is_admin: me.is_admin(),
        users: if me.is_admin() { super::integrations::user_emails(&state).await? } else { Vec::new() },
        time_zone: member.time_zone.clone(),
        zones: super::profile::zone_names(),
    })
}

/// The member's bookings from yesterday on, for a year.
#[server]
pub async fn list_bookings(user: Option<String>) -> Result<Vec<BookingView>, AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let from = chrono::Utc::now() - chrono::Duration::days(1);
    let mut conn = pooled.conn();
    let items = server::domain::bookings::list(&mut conn, super::integrations::actor(&me), user.as_deref(), from, from + chrono::Duration::days(366)).await?;
    let ids: Vec<i64> = items.iter().map(|b| b.id).collect();
    let copies = server::domain::push_queue::of(&mut conn, &ids).await?;
    Ok(items
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
                copies: copies.iter().filter(|c| c.booking_id == b.id).map(copy_line).collect(),
                occurrences: super::occurrences::lines(&b, from),
                version: b.version,
                time_zone: tz.name().to_string(),
                start_input: s.format("%Y-%m-%dT%H:%M").to_string(),
                end_input: e.format("%Y-%m-%dT%H:%M").to_string(),
            }
        })
        .collect())
}

#[cfg(feature = "ssr")]
fn copy_line(c: &server::domain::push_queue::CopyView) -> CopyLine {
    let retry = c.due_at.filter(|_| c.state == vocab::CopyState::Failed).map(|t| format!(" Next try at {} UTC.", t.format("%Y-%m-%d %H:%M")));
    let detail = match (&c.error, &c.note) {
        (_, Some(note)) => Some(note.clone()),
        (Some(e), None) => Some(format!("{e}{}", retry.unwrap_or_default())),
        (None, None) => None,
    };
    CopyLine { calendar: c.calendar.clone(), state: c.state, detail }
}

/// Books a meeting. `attendees`: emails separated by commas or lines.
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn create_booking(
    user: Option<String>,
    team: Option<String>,
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
    let team = team.filter(|t| !t.trim().is_empty());
    let new = bk::NewBooking {
        user: user.filter(|u| !u.trim().is_empty() && team.is_none()),
        team,
        title,
        start,
        end,
        time_zone,
        location,
        attendees: attendees.unwrap_or_default().split([',', '\n']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect(),
        recurrence: recurrence.filter(|r| !r.trim().is_empty()),
        allow_conflict: super::integrations::checked(&allow_conflict),
        ..bk::NewBooking::default()
    };
    let answer = {
        let mut pooled = state.pool.get().await?;
        bk::create_with_warnings(&mut pooled.conn(), super::integrations::actor(&me), &me.email, new).await?
    };
    Ok(pushed(&state, answer, |b| match &b.team {
        Some(t) => format!("Booked '{}' for {} (team {t}).", b.title, b.user),
        None => format!("Booked '{}' for {}.", b.title, b.user),
    })
    .await)
}

/// A booking made or changed, its copies briefly waited for, and said with `say`, with the
/// warnings of the calendars it could not be checked against; or what is in the way.
#[cfg(feature = "ssr")]
pub(super) async fn pushed(
    state: &crate::ssr::AppState,
    answer: server::domain::bookings::Answer,
    say: impl Fn(&server::domain::bookings::Booking) -> String,
) -> BookResult {
    let warnings: Vec<String> = answer.unchecked.into_iter().map(|u| u.warning).collect();
    match answer.outcome {
        server::domain::bookings::Outcome::Booked(b) => {
            state.engine.settled(b.id).await;
            BookResult::Booked(say(&b), warnings)
        }
        server::domain::bookings::Outcome::Busy(clashes) => BookResult::Busy(clashes.into_iter().map(|c| c.message).collect()),
    }
}

#[server]
pub async fn cancel_booking(id: i64) -> Result<(), AppError> {
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    {
        let mut pooled = state.pool.get().await?;
        server::domain::bookings::cancel(&mut pooled.conn(), super::integrations::actor(&me), id, &me.email).await?;
    }
    state.engine.settled(id).await;
    Ok(())
}

/// Changes a booking (checked like booking it; its copy follows).
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn update_booking(
    id: i64,
    version: i64,
    title: String,
    start: String,
    end: String,
    time_zone: String,
    location: Option<String>,
    allow_conflict: Option<String>,
) -> Result<BookResult, AppError> {
    use server::domain::bookings as bk;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let changes = bk::Changes {
        version,
        title: Some(title),
        start: Some(start),
        end: Some(end),
        time_zone: Some(time_zone),
        location: Some(location.filter(|l| !l.trim().is_empty())),
        allow_conflict: super::integrations::checked(&allow_conflict),
        ..bk::Changes::default()
    };
    let answer = {
        let mut pooled = state.pool.get().await?;
        bk::update_with_warnings(&mut pooled.conn(), super::integrations::actor(&me), id, &me.email, changes).await?
    };
    Ok(pushed(&state, answer, |b| format!("Saved '{}'.", b.title)).await)
}
