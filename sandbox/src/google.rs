//! Google Calendar v3, the subset calsync reads: `users/me/calendarList` and `events.list`
//! with paging, sync tokens (410 `fullSyncRequired` once invalidated) and the documented rules
//! on which parameters combine; errors in Google's shape.
use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::{json, Value};

use super::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/google/calendar/v3/users/me/calendarList", get(calendar_list))
        .route("/google/calendar/v3/calendars/{cid}/events", get(events_list).post(events_insert))
        .route("/google/calendar/v3/calendars/{cid}/events/{eid}", get(events_get).patch(events_patch).delete(events_delete))
        .route("/google/calendar/v3/calendars/{cid}/events/{eid}/instances", get(super::google_instances::instances))
        .route("/google/calendar/v3/calendars/{cid}/events/watch", axum::routing::post(watch))
        .route("/google/calendar/v3/channels/stop", axum::routing::post(stop))
}

/// Channels live a week unless the request asks for less (the default and maximum TTL are
/// undocumented; providers.md [U]).
const CHANNEL_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// `events.watch`: a channel whose notifications really POST to its address; the first is
/// `sync`, and it may arrive before this answer (as Google says it may).
async fn watch(State(state): State<Shared>, Path(cid): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("POST watch {cid}"));
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let cid = if cid == "primary" { email.clone() } else { cid };
    if state.calendars.get(&cid).is_none_or(|c| c.owner != email) {
        return error(404, "notFound", "Not Found");
    }
    let (Some(id), Some(address)) = (body["id"].as_str(), body["address"].as_str()) else {
        return error(400, "required", "Required channel id and address.");
    };
    if !matches!(body["type"].as_str(), Some("web_hook" | "webhook")) {
        return error(400, "invalid", "Invalid channel type.");
    }
    if id.len() > 64 || state.channels.iter().any(|c| c.id == id) {
        return error(400, "channelIdNotUnique", "Channel id not unique.");
    }
    // The sandbox's one documented deviation: http addresses are accepted on loopback only.
    let loopback_http = address.starts_with("http://127.") || address.starts_with("http://localhost") || address.starts_with("http://[::1]");
    if !address.starts_with("https://") && !loopback_http {
        return error(400, "push.webhookUrlNotHttps", "WebHook callback must be HTTPS.");
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let asked = match &body["expiration"] {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let expires_ms = asked.filter(|e| *e > now_ms).unwrap_or(now_ms + CHANNEL_TTL_MS).min(now_ms + CHANNEL_TTL_MS);
    let resource_id = super::state::random_token("res-");
    state.channels.push(super::state::Channel {
        id: id.to_string(),
        resource_id: resource_id.clone(),
        calendar: cid.clone(),
        address: address.to_string(),
        token: body["token"].as_str().map(str::to_owned),
        expires_ms,
        messages: 0,
    });
    state.notify(&cid, "sync");
    Json(json!({
        "kind": "api#channel",
        "id": id,
        "resourceId": resource_id,
        "resourceUri": format!("https://www.googleapis.com/calendar/v3/calendars/{cid}/events"),
        "token": body["token"],
        "expiration": expires_ms.to_string(),
    }))
    .into_response()
}

/// `channels/stop`: only the channel's own account may stop it.
async fn stop(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("POST channels/stop".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let id = body["id"].as_str().unwrap_or("");
    let resource = body["resourceId"].as_str().unwrap_or("");
    let calendars = &state.calendars;
    let found = state.channels.iter().position(|c| c.id == id && c.resource_id == resource && calendars.get(&c.calendar).is_some_and(|cal| cal.owner == email));
    match found {
        Some(i) => {
            state.channels.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(404, "notFound", "Channel not found."),
    }
}

/// `events.get`: the event as stored (a deleted one as its cancelled form).
async fn events_get(State(state): State<Shared>, Path((cid, eid)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("GET event {cid}"));
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let cid = if cid == "primary" { email.clone() } else { cid };
    let found = state
        .calendars
        .get(&cid)
        .filter(|c| c.owner == email)
        .and_then(|c| c.events.get(&eid).map(|(e, _)| e.clone()).or_else(|| super::google_instances::unstored(&c.events, &eid)));
    match found {
        Some(event) => Json(event).into_response(),
        None => error(404, "notFound", "Not Found"),
    }
}

/// The calendar an account may write to, or Google's answer: 404 for another's calendar,
/// 403 `requiredAccessLevel` for one it may only read.
fn writable(state: &super::SandboxState, headers: &HeaderMap, cid: &str) -> Result<String, Response> {
    let email = account(state, headers)?;
    let cid = if cid == "primary" { email.clone() } else { cid.to_string() };
    match state.calendars.get(&cid).filter(|c| c.owner == email) {
        None => Err(error(404, "notFound", "Not Found")),
        Some(c) if !matches!(c.access_role.as_str(), "owner" | "writer") => {
            Err(error(403, "requiredAccessLevel", "You need to have writer access to this calendar."))
        }
        Some(_) => Ok(cid),
    }
}

/// `If-Match` against the stored etag: 412 `conditionNotMet` on a mismatch.
fn precondition(headers: &HeaderMap, event: &Value) -> Result<(), Response> {
    match headers.get("if-match").and_then(|v| v.to_str().ok()) {
        Some(want) if want != "*" && Some(want) != event.get("etag").and_then(Value::as_str) => Err(error(412, "conditionNotMet", "Precondition Failed")),
        _ => Ok(()),
    }
}

/// An event id Google accepts from a client: base32hex (`a-v`, `0-9`), 5 to 1024 characters.
fn valid_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

/// `events.insert`: `start` and `end` required; a client-chosen `id` is kept, and taken twice
/// is 409 `duplicate` (how a retry finds out it already succeeded).
async fn events_insert(
    State(state): State<Shared>,
    Path(cid): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let send = q.get("sendUpdates").cloned().unwrap_or_else(|| "false".into());
    state.requests.push(format!("POST event {cid} sendUpdates={send}"));
    let cid = match writable(&state, &headers, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    for field in ["start", "end"] {
        if !body.get(field).is_some_and(Value::is_object) {
            return error(400, "required", &format!("Missing {field} time."));
        }
    }
    let id = match body.get("id").and_then(Value::as_str) {
        Some(id) if !valid_id(id) => return error(400, "invalid", "Invalid resource id value."),
        Some(id) => id.to_string(),
        None => super::random_id().to_ascii_lowercase().chars().filter(|c| c.is_ascii_digit() || ('a'..='v').contains(c)).collect::<String>() + "00000",
    };
    if state.calendars.get(&cid).is_some_and(|c| c.events.contains_key(&id)) {
        return error(409, "duplicate", "The requested identifier already exists.");
    }
    match state.put_event(&cid, &id, body) {
        Some(event) => Json(event).into_response(),
        None => error(404, "notFound", "Not Found"),
    }
}

/// `events.patch`: the fields sent replace those stored (arrays whole); `If-Match` honoured.
async fn events_patch(State(state): State<Shared>, Path((cid, eid)): Path<(String, String)>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("PATCH event {cid}"));
    let cid = match writable(&state, &headers, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(stored) = stored_or_instance(&state, &cid, &eid) else {
        return error(404, "notFound", "Not Found");
    };
    if let Err(r) = precondition(&headers, &stored) {
        return r;
    }
    let (Some(mut merged), Some(changes)) = (stored.as_object().cloned(), body.as_object()) else {
        return error(400, "invalid", "The body must be an event.");
    };
    for (k, v) in changes {
        if !matches!(k.as_str(), "id" | "etag" | "iCalUID" | "updated" | "kind") {
            merged.insert(k.clone(), v.clone());
        }
    }
    match state.put_event(&cid, &eid, Value::Object(merged)) {
        Some(event) => Json(event).into_response(),
        None => error(404, "notFound", "Not Found"),
    }
}

/// The stored event `eid`, or the instance of a series it names.
fn stored_or_instance(state: &super::SandboxState, cid: &str, eid: &str) -> Option<Value> {
    let events = &state.calendars.get(cid)?.events;
    events.get(eid).map(|(e, _)| e.clone()).or_else(|| super::google_instances::unstored(events, eid))
}

/// `events.delete`: 204; an event deleted already is 410 `deleted`; `If-Match` honoured.
async fn events_delete(State(state): State<Shared>, Path((cid, eid)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("DELETE event {cid}"));
    let cid = match writable(&state, &headers, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(stored) = stored_or_instance(&state, &cid, &eid) else {
        return error(404, "notFound", "Not Found");
    };
    if stored.get("status").and_then(Value::as_str) == Some("cancelled") {
        return error(410, "deleted", "Resource has been deleted");
    }
    if let Err(r) = precondition(&headers, &stored) {
        return r;
    }
    if !state.calendars.get(&cid).is_some_and(|c| c.events.contains_key(&eid)) {
        // An instance the series made: deleting it leaves a cancelled exception.
        state.put_event(&cid, &eid, stored);
    }
    state.delete_event(&cid, &eid);
    StatusCode::NO_CONTENT.into_response()
}

/// Google's error body: `{"error":{"errors":[{domain, reason, message}], code, message}}`.
pub fn error(status: u16, reason: &str, message: &str) -> Response {
    let domain = if reason.ends_with("RateLimitExceeded") || reason == "rateLimitExceeded" { "usageLimits" } else { "global" };
    let body = json!({"error": {"errors": [{"domain": domain, "reason": reason, "message": message}], "code": status, "message": message}});
    (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), Json(body)).into_response()
}

/// The account an `Authorization: Bearer` header names, or Google's 401.
pub(super) fn account(state: &super::SandboxState, headers: &HeaderMap) -> Result<String, Response> {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| state.who(t)) {
        Some(email) => Ok(email.to_string()),
        None => Err(error(401, "authError", "Invalid Credentials")),
    }
}

pub(super) fn number(q: &HashMap<String, String>, name: &str, default: usize, max: usize) -> Result<usize, Response> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(error(400, "invalid", &format!("Invalid value for {name}: {v}"))),
        },
    }
}

async fn calendar_list(State(state): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("GET calendarList".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let max = match number(&q, "maxResults", 100, 250) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let offset: usize = q.get("pageToken").and_then(|t| t.strip_prefix("cl~")).and_then(|t| t.parse().ok()).unwrap_or(0);
    let mine: Vec<Value> = state
        .calendars
        .values()
        .filter(|c| c.owner == email)
        .map(|c| {
            let mut entry = json!({
                "kind": "calendar#calendarListEntry",
                "etag": format!("\"{}\"", c.id.len()),
                "id": c.id,
                "summary": c.summary,
                "timeZone": "UTC",
                "accessRole": c.access_role,
                "backgroundColor": c.color,
                "foregroundColor": "#000000",
                "selected": true,
            });
            if c.primary {
                entry["primary"] = json!(true);
            }
            entry
        })
        .collect();
    let page: Vec<Value> = mine.iter().skip(offset).take(max).cloned().collect();
    let mut body = json!({"kind": "calendar#calendarList", "etag": "\"list\"", "items": page});
    if offset + max < mine.len() {
        body["nextPageToken"] = json!(format!("cl~{}", offset + max));
    }
    Json(body).into_response()
}

/// Parameters a sync token cannot be combined with (providers.md, events.list).
const NOT_WITH_SYNC_TOKEN: [&str; 8] = ["iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin"];

async fn events_list(State(state): State<Shared>, Path(cid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("GET events {cid}"));
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let cid = if cid == "primary" { email.clone() } else { cid };
    let Some(cal) = state.calendars.get(&cid).filter(|c| c.owner == email) else {
        return error(404, "notFound", "Not Found");
    };
    let max = match number(&q, "maxResults", 250, 2500) {
        Ok(n) => n,
        Err(r) => return r,
    };
    if q.get("singleEvents").map(String::as_str) == Some("true") {
        return error(400, "invalid", "The sandbox does not expand series (singleEvents=true); list masters and exceptions instead.");
    }
    let sync_token = q.get("syncToken");
    if sync_token.is_some() {
        if let Some(p) = NOT_WITH_SYNC_TOKEN.iter().find(|p| q.contains_key(**p)) {
            return error(400, "invalid", &format!("Sync token cannot be used with {p}."));
        }
        if q.get("showDeleted").map(String::as_str) == Some("false") {
            return error(400, "invalid", "Sync token cannot be used with showDeleted=false.");
        }
    }
    // The page token carries the query's snapshot (the change number at its first page) and
    // the offset, so paging is stable while events change.
    let (offset, upto) = match q.get("pageToken") {
        Some(t) => match t.strip_prefix("pg~").and_then(|t| t.split_once('~')).and_then(|(o, u)| Some((o.parse().ok()?, u.parse().ok()?))) {
            Some(p) => p,
            None => return error(400, "invalid", "Invalid page token."),
        },
        None => (0usize, state.change),
    };
    let since = match sync_token {
        None => None,
        Some(t) => match t.strip_prefix("sy~").and_then(|t| t.parse::<u64>().ok()) {
            Some(n) if n >= cal.valid_from => Some(n),
            _ => {
                let body = json!({"error": {"errors": [{"domain": "calendar", "reason": "fullSyncRequired", "message": "Sync token is no longer valid, a full sync is required.", "locationType": "parameter", "location": "syncToken"}], "code": 410, "message": "Sync token is no longer valid, a full sync is required."}});
                return (StatusCode::GONE, Json(body)).into_response();
            }
        },
    };
    let show_deleted = q.get("showDeleted").map(String::as_str) == Some("true");
    let ical_uid = q.get("iCalUID");
    // `privateExtendedProperty=key=value` (how a client finds the copy it made).
    let private = q.get("privateExtendedProperty").and_then(|p| p.split_once('='));
    let time_min = q.get("timeMin").and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let time_max = q.get("timeMax").and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    if let (Some(a), Some(b)) = (time_min, time_max) {
        if b <= a {
            return error(400, "timeRangeEmpty", "The specified time range is empty.");
        }
    }
    let matching: Vec<&Value> = cal
        .events
        .values()
        .filter(|(_, change)| *change <= upto)
        .filter(|(e, change)| match since {
            // Incremental: everything changed since, deletions included.
            Some(s) => *change > s,
            None => {
                let cancelled = e.get("status").and_then(Value::as_str) == Some("cancelled");
                // Cancelled instances of a series come back with singleEvents=false.
                !cancelled || show_deleted || e.get("recurringEventId").is_some()
            }
        })
        .filter(|(e, _)| ical_uid.is_none_or(|u| e.get("iCalUID").and_then(Value::as_str) == Some(u.as_str())))
        .filter(|(e, _)| private.is_none_or(|(k, v)| e["extendedProperties"]["private"][k].as_str() == Some(v)))
        .filter(|(e, _)| in_range(e, time_min, time_max))
        .map(|(e, _)| e)
        .collect();
    let first_empty = state.empty_first_page && !q.contains_key("pageToken");
    let take = if first_empty { 0 } else { max };
    let page: Vec<Value> = matching.iter().skip(offset).take(take).map(|e| (*e).clone()).collect();
    let mut body = json!({
        "kind": "calendar#events",
        "etag": format!("\"{upto}\""),
        "summary": cal.summary,
        "timeZone": "UTC",
        "updated": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "accessRole": cal.access_role,
        "defaultReminders": [],
        "items": page,
    });
    if offset + take < matching.len() {
        body["nextPageToken"] = json!(format!("pg~{}~{upto}", offset + take));
    } else {
        body["nextSyncToken"] = json!(format!("sy~{upto}"));
    }
    Json(body).into_response()
}

/// `timeMin` bounds the end, `timeMax` the start (both exclusive). Series masters are kept
/// whole (their occurrences may fall anywhere).
fn in_range(e: &Value, min: Option<chrono::DateTime<chrono::FixedOffset>>, max: Option<chrono::DateTime<chrono::FixedOffset>>) -> bool {
    if e.get("recurrence").is_some() || (min.is_none() && max.is_none()) {
        return true;
    }
    let at = |k: &str| {
        let t = e.get(k)?;
        if let Some(dt) = t.get("dateTime").and_then(Value::as_str) {
            return chrono::DateTime::parse_from_rfc3339(dt).ok();
        }
        let d = chrono::NaiveDate::parse_from_str(t.get("date")?.as_str()?, "%Y-%m-%d").ok()?;
        Some(d.and_hms_opt(0, 0, 0)?.and_utc().fixed_offset())
    };
    let (Some(start), Some(end)) = (at("start"), at("end")) else { return true };
    min.is_none_or(|m| end > m) && max.is_none_or(|m| start < m)
}
