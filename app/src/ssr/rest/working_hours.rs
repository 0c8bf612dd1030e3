//! `/api/v1/users/{email}/availability-settings` and `…/date-overrides`: a member's working
//! hours, rules and date overrides (their own, or anyone's for an admin; 404 for someone else's).
use super::{body, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use server::domain::{hours::HoursText, working_hours as wh, FieldMessage};
use utoipa::ToSchema;

/// Hours of a day: `"end"` before `"start"` only with `"overnight": true` (the next day).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursJson {
    /// `mon` … `sun` (weekly hours only).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "days")]
    pub days: Vec<String>,
    /// `09:00`
    #[serde(deserialize_with = "body::de::required")]
    pub start: String,
    /// `17:00`; `24:00` is midnight.
    #[serde(deserialize_with = "body::de::required")]
    pub end: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not", deserialize_with = "overnight")]
    pub overnight: bool,
}

fn days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error;
    Vec::<String>::deserialize(d).map_err(|_| D::Error::custom("must be a list such as [\"mon\", \"tue\"]"))
}

fn overnight<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(body::de::flag(d)?.unwrap_or(false))
}

impl HoursJson {
    fn of(h: HoursText) -> HoursJson {
        HoursJson { days: h.days, start: h.start, end: h.end, overnight: h.overnight }
    }

    fn text(self) -> HoursText {
        HoursText { days: self.days, start: self.start, end: self.end, overnight: self.overnight }
    }
}

/// A member's working hours and rules. `working_hours: null`: available at any time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsJson {
    pub time_zone: String,
    pub working_hours: Option<Vec<HoursJson>>,
    pub buffer_before_minutes: i64,
    pub buffer_after_minutes: i64,
    pub minimum_notice_minutes: i64,
    pub max_bookings_per_day: Option<i64>,
    pub max_bookings_per_week: Option<i64>,
}

impl SettingsJson {
    fn of(s: wh::Settings) -> SettingsJson {
        SettingsJson {
            time_zone: s.time_zone,
            working_hours: s.working_hours.map(|h| h.into_iter().map(HoursJson::of).collect()),
            buffer_before_minutes: s.buffer_before_minutes,
            buffer_after_minutes: s.buffer_after_minutes,
            minimum_notice_minutes: s.minimum_notice_minutes,
            max_bookings_per_day: s.max_bookings_per_day,
            max_bookings_per_week: s.max_bookings_per_week,
        }
    }
}

/// The same fields; each left out takes what a member without settings has.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    #[serde(default, deserialize_with = "body::de::string")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub working_hours: Option<Vec<HoursJson>>,
    #[serde(default, deserialize_with = "body::de::whole")]
    pub buffer_before_minutes: Option<i64>,
    #[serde(default, deserialize_with = "body::de::whole")]
    pub buffer_after_minutes: Option<i64>,
    #[serde(default, deserialize_with = "body::de::whole")]
    pub minimum_notice_minutes: Option<i64>,
    #[serde(default, deserialize_with = "body::de::whole_or_null")]
    pub max_bookings_per_day: Option<i64>,
    #[serde(default, deserialize_with = "body::de::whole_or_null")]
    pub max_bookings_per_week: Option<i64>,
}

impl SettingsInput {
    fn settings(self, none: wh::Settings) -> wh::Settings {
        wh::Settings {
            time_zone: self.time_zone.unwrap_or(none.time_zone),
            working_hours: self.working_hours.map(|h| h.into_iter().map(HoursJson::text).collect()),
            buffer_before_minutes: self.buffer_before_minutes.unwrap_or(none.buffer_before_minutes),
            buffer_after_minutes: self.buffer_after_minutes.unwrap_or(none.buffer_after_minutes),
            minimum_notice_minutes: self.minimum_notice_minutes.unwrap_or(none.minimum_notice_minutes),
            max_bookings_per_day: self.max_bookings_per_day,
            max_bookings_per_week: self.max_bookings_per_week,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/users/{email}/availability-settings", operation_id = "read_availability_settings", params(("email" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = SettingsJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(State(state): State<AppState>, caller: ApiUser, Path(email): Path<String>) -> Result<Json<SettingsJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let (_, settings) = wh::settings(&mut pooled.conn(), caller.actor(), &email).await?;
    Ok(Json(SettingsJson::of(settings)))
}

#[utoipa::path(put, path = "/api/v1/users/{email}/availability-settings", operation_id = "set_availability_settings", params(("email" = String, Path)), request_body = SettingsInput, security(("bearer" = [])),
    responses((status = 200, body = SettingsJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put(State(state): State<AppState>, caller: ApiUser, Path(email): Path<String>, bytes: Bytes) -> Result<Json<SettingsJson>, ApiError> {
    let input: SettingsInput = body::read(&bytes)?;
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let (user, _) = wh::settings(&mut conn, caller.actor(), &email).await?;
    let new = input.settings(wh::Settings::none(&user));
    Ok(Json(SettingsJson::of(wh::put_settings(&mut conn, caller.actor(), &email, new).await?)))
}

/// One date's hours (`[]`: unavailable that day).
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideJson {
    /// `YYYY-MM-DD`, the member's local date.
    pub date: String,
    pub hours: Vec<HoursJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverridesJson {
    /// The zone the dates and hours are read in (the member's settings').
    pub time_zone: String,
    pub items: Vec<OverrideJson>,
}

/// `{"hours": [{"start": "10:00", "end": "12:00"}]}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    #[serde(default)]
    pub hours: Option<Vec<HoursJson>>,
}

#[utoipa::path(get, path = "/api/v1/users/{email}/date-overrides", operation_id = "list_date_overrides", params(("email" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = OverridesJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn overrides(State(state): State<AppState>, caller: ApiUser, Path(email): Path<String>) -> Result<Json<OverridesJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let (_, settings) = wh::settings(&mut conn, caller.actor(), &email).await?;
    let (_, list) = wh::overrides(&mut conn, caller.actor(), &email).await?;
    Ok(Json(OverridesJson {
        time_zone: settings.time_zone,
        items: list.into_iter().map(|(d, h)| OverrideJson { date: d.to_string(), hours: h.into_iter().map(HoursJson::of).collect() }).collect(),
    }))
}

#[utoipa::path(put, path = "/api/v1/users/{email}/date-overrides/{date}", operation_id = "set_date_override", params(("email" = String, Path), ("date" = String, Path)), request_body = OverrideInput, security(("bearer" = [])),
    responses((status = 200, body = OverrideJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_override(
    State(state): State<AppState>,
    caller: ApiUser,
    Path((email, date)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<OverrideJson>, ApiError> {
    let Some(hours) = body::read::<OverrideInput>(&bytes)?.hours else {
        return Err(ApiError::invalid(vec![FieldMessage::new("hours", "hours is required: a list of hours, or [] for a day off.")]));
    };
    // A date's hours are that date's: days belong to weekly hours only.
    if let Some(i) = hours.iter().position(|h| !h.days.is_empty()) {
        return Err(ApiError::invalid(vec![FieldMessage::new(
            &format!("hours[{i}].days"),
            "days belong to weekly hours; a date override's hours are that date's.",
        )]));
    }
    let list = hours.into_iter().map(HoursJson::text).collect::<Vec<_>>();
    let mut pooled = state.pool.get().await?;
    let (day, list) = wh::put_override(&mut pooled.conn(), caller.actor(), &email, &date, list).await?;
    Ok(Json(OverrideJson { date: day.to_string(), hours: list.into_iter().map(HoursJson::of).collect() }))
}

#[utoipa::path(delete, path = "/api/v1/users/{email}/date-overrides/{date}", operation_id = "delete_date_override", params(("email" = String, Path), ("date" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_override(State(state): State<AppState>, caller: ApiUser, Path((email, date)): Path<(String, String)>) -> Result<Response, ApiError> {
    let mut pooled = state.pool.get().await?;
    wh::delete_override(&mut pooled.conn(), caller.actor(), &email, &date).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
