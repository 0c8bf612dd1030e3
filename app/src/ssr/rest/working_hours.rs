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
use serde_json::{Map, Value};
use server::domain::{hours::HoursText, working_hours as wh, FieldMessage};
use utoipa::ToSchema;

/// Hours of a day: `"end"` before `"start"` only with `"overnight": true` (the next day).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HoursJson {
    /// `mon` … `sun` (weekly hours only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
    /// `09:00`
    pub start: String,
    /// `17:00`; `24:00` is midnight.
    pub end: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overnight: bool,
}

impl HoursJson {
    fn of(h: HoursText) -> HoursJson {
        HoursJson { days: h.days, start: h.start, end: h.end, overnight: h.overnight }
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
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct SettingsInput {
    pub time_zone: Option<String>,
    pub working_hours: Option<Vec<HoursJson>>,
    pub buffer_before_minutes: Option<i64>,
    pub buffer_after_minutes: Option<i64>,
    pub minimum_notice_minutes: Option<i64>,
    pub max_bookings_per_day: Option<i64>,
    pub max_bookings_per_week: Option<i64>,
}

/// Reads a list of hours; `at` names it in messages.
fn hours(at: &str, v: &Value, weekly: bool, errors: &mut Vec<FieldMessage>) -> Option<Vec<HoursText>> {
    let Value::Array(items) = v else {
        errors.push(FieldMessage::new(at, format!("{at} must be a list of hours such as {{\"start\":\"09:00\",\"end\":\"17:00\"}}.")));
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = format!("{at}[{i}]");
        let Value::Object(o) = item else {
            errors.push(FieldMessage::new(&name, format!("{name} must be an object with start and end.")));
            continue;
        };
        let mut h = HoursText { days: Vec::new(), start: String::new(), end: String::new(), overnight: false };
        for (k, v) in o {
            let field = format!("{name}.{k}");
            match k.as_str() {
                "start" => h.start = body::string(&field, v, errors).unwrap_or_default(),
                "end" => h.end = body::string(&field, v, errors).unwrap_or_default(),
                "overnight" => h.overnight = body::boolean(&field, v, errors).unwrap_or(false),
                "days" if weekly => match v.as_array().and_then(|d| d.iter().map(|x| x.as_str().map(str::to_string)).collect::<Option<Vec<_>>>()) {
                    Some(days) => h.days = days,
                    None => errors.push(FieldMessage::new(&field, "days must be a list such as [\"mon\", \"tue\"].")),
                },
                other => errors.push(FieldMessage::new(&field, format!("Unknown field '{other}'."))),
            }
        }
        for required in ["start", "end"] {
            if !o.contains_key(required) {
                errors.push(FieldMessage::new(&format!("{name}.{required}"), format!("{required} is required.")));
            }
        }
        out.push(h);
    }
    Some(out)
}

fn integer(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<i64> {
    let n = v.as_i64();
    if n.is_none() {
        errors.push(FieldMessage::new(field, format!("{field} must be a whole number.")));
    }
    n
}

fn read_settings(object: &Map<String, Value>, none: wh::Settings) -> Result<wh::Settings, ApiError> {
    let mut s = none;
    let mut errors = Vec::new();
    for (key, v) in object {
        let e = &mut errors;
        match key.as_str() {
            "time_zone" => s.time_zone = body::string(key, v, e).unwrap_or_default(),
            "working_hours" => s.working_hours = if v.is_null() { None } else { hours(key, v, true, e) },
            "buffer_before_minutes" => s.buffer_before_minutes = integer(key, v, e).unwrap_or(0),
            "buffer_after_minutes" => s.buffer_after_minutes = integer(key, v, e).unwrap_or(0),
            "minimum_notice_minutes" => s.minimum_notice_minutes = integer(key, v, e).unwrap_or(0),
            "max_bookings_per_day" => s.max_bookings_per_day = if v.is_null() { None } else { integer(key, v, e) },
            "max_bookings_per_week" => s.max_bookings_per_week = if v.is_null() { None } else { integer(key, v, e) },
            other => e.push(FieldMessage::new(other, format!("Unknown field '{other}'."))),
        }
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(ApiError::invalid(errors))
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
    let object = body::object(&bytes)?;
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let (user, _) = wh::settings(&mut conn, caller.actor(), &email).await?;
    let new = read_settings(&object, wh::Settings::none(&user))?;
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
#[allow(dead_code)]
#[derive(Debug, Deserialize, ToSchema)]
pub struct OverrideInput {
    pub hours: Vec<HoursJson>,
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
    let object = body::object(&bytes)?;
    let mut errors = Vec::new();
    let mut list = None;
    for (key, v) in &object {
        match key.as_str() {
            "hours" => list = hours(key, v, false, &mut errors),
            other => errors.push(FieldMessage::new(other, format!("Unknown field '{other}'."))),
        }
    }
    if !object.contains_key("hours") {
        errors.push(FieldMessage::new("hours", "hours is required: a list of hours, or [] for a day off."));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let mut pooled = state.pool.get().await?;
    let (day, list) = wh::put_override(&mut pooled.conn(), caller.actor(), &email, &date, list.unwrap_or_default()).await?;
    Ok(Json(OverrideJson { date: day.to_string(), hours: list.into_iter().map(HoursJson::of).collect() }))
}

#[utoipa::path(delete, path = "/api/v1/users/{email}/date-overrides/{date}", operation_id = "delete_date_override", params(("email" = String, Path), ("date" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_override(State(state): State<AppState>, caller: ApiUser, Path((email, date)): Path<(String, String)>) -> Result<Response, ApiError> {
    let mut pooled = state.pool.get().await?;
    wh::delete_override(&mut pooled.conn(), caller.actor(), &email, &date).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
