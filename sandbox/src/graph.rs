//! Microsoft Graph v1.0, the subset calsync reads: `GET /me`, `GET /me/calendars` and
//! `calendarView/delta` for a window (pages linked by `@odata.nextLink`, a round ending in an
//! `@odata.deltaLink`, deletions and events that left the window as `@removed`, 410
//! `syncStateNotFound` once the delta state is dropped), errors in Graph's shape. The account's
//! default calendar also answers as `/me/calendar` (`GET`, `calendarView/delta`, `events`, a
//! subscription's resource) and its delta at v1.0's documented `/me/calendarView/delta`.
//!
//! The sandbox stores what calendarView answers (single events, occurrences and exceptions,
//! each with its `seriesMasterId`): seeding places each occurrence, as the service would list
//! them; a series created or changed through the API lays its occurrences out from its
//! pattern (`graph_series`).
use std::collections::{BTreeMap, HashMap};

use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::{json, Value};

use super::Shared;

pub struct GraphCalendar {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub hex_color: String,
    pub is_default: bool,
    pub can_edit: bool,
    /// Event id → the event and the change number that last touched it (`None`: deleted).
    pub events: BTreeMap<String, (Option<Value>, u64)>,
    /// Delta links issued before this change number answer 410.
    pub valid_from: u64,
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/graph/v1.0/me", get(me))
        .route("/graph/v1.0/me/calendars", get(calendars))
        .route("/graph/v1.0/me/calendars/{cid}/calendarView/delta", get(delta))
        // The account's default calendar: `/me/calendar/…`, and the documented `/me/…` forms.
        .route("/graph/v1.0/me/calendar", get(default_calendar))
        .route("/graph/v1.0/me/calendar/calendarView/delta", get(default_delta))
        .route("/graph/v1.0/me/calendarView/delta", get(me_delta))
        .route("/graph/v1.0/me/events", axum::routing::post(create_default))
        .route("/graph/v1.0/me/calendar/events", axum::routing::post(create_default))
        .route("/graph/v1.0/me/calendars/{cid}/events", axum::routing::post(create))
        .route("/graph/v1.0/me/events/{id}", get(event).patch(update).delete(remove))
        .route("/graph/v1.0/me/events/{id}/instances", get(super::graph_series::instances))
        .route("/graph/v1.0/$batch", axum::routing::post(batch))
        .route("/graph/v1.0/subscriptions", axum::routing::post(subscribe))
        .route("/graph/v1.0/subscriptions/{id}", axum::routing::delete(unsubscribe))
}

/// `POST /$batch`: at most 20 requests (more, duplicate ids or no list: 400), each carried out
/// as on its own — with the batch's authorization — and answered in `responses` with its own
/// status; the batch itself is 200 even when items fail.
async fn batch(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    use tower::ServiceExt;
    state.lock().unwrap_or_else(|e| e.into_inner()).requests.push("POST $batch".into());
    let Some(items) = body.get("requests").and_then(Value::as_array) else {
        return error(400, "BadRequest", "Invalid batch payload format.");
    };
    if items.len() > 20 {
        return error(400, "BadRequest", "The number of batch requests exceeds the limit of 20.");
    }
    let mut ids: Vec<&str> = items.iter().filter_map(|i| i.get("id").and_then(Value::as_str)).collect();
    ids.sort();
    ids.dedup();
    if ids.len() != items.len() {
        return error(400, "BadRequest", "Each request in a batch needs an id, and ids must be unique.");
    }
    let router = routes().with_state(state.clone());
    let mut responses = Vec::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_default();
        let (Some(method), Some(url)) = (item.get("method").and_then(Value::as_str), item.get("url").and_then(Value::as_str)) else {
            responses.push(json!({"id": id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "A request needs a method and a url."}}}));
            continue;
        };
        let has_body = item.get("body").is_some_and(|b| !b.is_null());
        if has_body && item["headers"].get("Content-Type").or_else(|| item["headers"].get("content-type")).is_none() {
            responses.push(
                json!({"id": id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "A request with a body needs a Content-Type header."}}}),
            );
            continue;
        }
        let mut request = axum::http::Request::builder().method(method).uri(format!("/graph/v1.0/{}", url.trim_start_matches('/')));
        if let Some(auth) = headers.get("authorization") {
            request = request.header("authorization", auth.clone());
        }
        let request =
            request.header("content-type", "application/json").body(axum::body::Body::from(if has_body { item["body"].to_string() } else { String::new() }));
        let Ok(request) = request else {
            responses.push(json!({"id": id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "Invalid request."}}}));
            continue;
        };
        let answer = match router.clone().oneshot(request).await {
            Ok(a) => a,
            Err(never) => match never {},
        };
        let status = answer.status().as_u16();
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        responses.push(json!({"id": id, "status": status, "headers": {"Content-Type": "application/json"}, "body": body}));
    }
    Json(json!({"responses": responses})).into_response()
}

/// `POST /subscriptions`: validated first — Graph POSTs `?validationToken=…` to the
/// notification URL and needs the token back as text/plain within 10 s, or creates nothing.
async fn subscribe(State(shared): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let (owner, calendar, url) = {
        let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
        state.requests.push("POST subscriptions".into());
        let email = match account(&state, &headers) {
            Ok(e) => e,
            Err(r) => return r,
        };
        let resource = body["resource"].as_str().unwrap_or("");
        let calendar = match resource.strip_prefix("/me/calendars/").and_then(|r| r.strip_suffix("/events")) {
            Some(id) => id.to_string(),
            None if resource == "/me/events" || resource == "/me/calendar/events" => default_of(&state, &email).unwrap_or_default(),
            None => return error(400, "InvalidRequest", "Unsupported resource."),
        };
        if state.graph.get(&calendar).is_none_or(|c| c.owner != email) {
            return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
        }
        let url = body["notificationUrl"].as_str().unwrap_or("").to_string();
        let loopback_http = url.starts_with("http://127.") || url.starts_with("http://localhost");
        if !url.starts_with("https://") && !loopback_http {
            return error(400, "InvalidRequest", "The Notification Url must be HTTPS.");
        }
        (email, calendar, url)
    };
    let token = super::random_id();
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default();
    let sep = if url.contains('?') { '&' } else { '?' };
    let validated = match client.post(format!("{url}{sep}validationToken={token}")).header("Content-Type", "text/plain").send().await {
        Ok(r) if r.status().as_u16() == 200 => r.text().await.map(|t| t == token).unwrap_or(false),
        _ => false,
    };
    if !validated {
        return error(400, "ValidationError", "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.");
    }
    let now = chrono::Utc::now();
    let asked = body["expirationDateTime"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc());
    let expires = asked.filter(|t| *t > now).unwrap_or(now + chrono::Duration::minutes(4230)).min(now + chrono::Duration::minutes(4230));
    let sub = super::state::Subscription {
        id: super::random_id(),
        calendar,
        owner,
        url: url.clone(),
        client_state: body["clientState"].as_str().map(str::to_owned),
        expires,
    };
    let answer = json!({"id": sub.id, "resource": body["resource"], "changeType": body["changeType"], "clientState": sub.client_state, "notificationUrl": url, "expirationDateTime": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
    shared.lock().unwrap_or_else(|e| e.into_inner()).subscriptions.push(sub);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn unsubscribe(State(shared): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("DELETE subscription".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    match state.subscriptions.iter().position(|s| s.id == id && s.owner == email) {
        Some(i) => {
            state.subscriptions.remove(i);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(404, "ResourceNotFound", "The object was not found."),
    }
}

/// Graph's error body: `{"error":{"code","message","innerError":{…}}}`.
pub fn error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message, "innerError": {"request-id": super::random_id(), "date": chrono::Utc::now().to_rfc3339()}}});
    (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), Json(body)).into_response()
}

pub(super) fn account(state: &super::SandboxState, headers: &HeaderMap) -> Result<String, Response> {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| state.who_at(t, "microsoft")) {
        Some(email) => Ok(email.to_string()),
        None => Err(error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")),
    }
}

async fn me(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("GET me".into());
    match account(&state, &headers) {
        Ok(email) => Json(
            json!({"id": format!("user-{}", email.len()), "displayName": email.split('@').next().unwrap_or(""), "mail": email, "userPrincipalName": email}),
        )
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /me/events/{id}`: any event of the account's calendars, series masters included.
async fn event(State(state): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("GET event".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let found = state.graph.values().filter(|c| c.owner == email).find_map(|c| c.events.get(&id).and_then(|(e, _)| e.clone()));
    match found {
        Some(e) => Json(e).into_response(),
        None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
    }
}

/// `POST /me/events`: into the account's default calendar.
async fn create_default(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let cid = {
        let st = state.lock().unwrap_or_else(|e| e.into_inner());
        let email = match account(&st, &headers) {
            Ok(e) => e,
            Err(r) => return r,
        };
        match default_of(&st, &email) {
            Some(id) => id,
            None => return error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
        }
    };
    create(State(state), Path(cid), headers, Json(body)).await
}

/// The id of the account's default calendar (what `/me/calendar` names).
fn default_of(state: &super::SandboxState, email: &str) -> Option<String> {
    state.graph.values().find(|c| c.owner == email && c.is_default).map(|c| c.id.clone())
}

/// A calendar as `GET /me/calendars` and `GET /me/calendar` answer it.
fn calendar_json(c: &GraphCalendar, email: &str) -> Value {
    json!({"id": c.id, "name": c.name, "color": "auto", "hexColor": c.hex_color, "isDefaultCalendar": c.is_default, "canEdit": c.can_edit, "canShare": c.can_edit, "canViewPrivateItems": true, "isRemovable": !c.is_default, "owner": {"name": email, "address": email}})
}

/// `GET /me/calendar`: the account's default calendar.
async fn default_calendar(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("GET calendar".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    match state.graph.values().find(|c| c.owner == email && c.is_default) {
        Some(c) => Json(calendar_json(c, &email)).into_response(),
        None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
    }
}

/// `POST /me/calendars/{id}/events` → 201. `start` and `end` are required; a calendar the
/// account cannot edit is 403 `ErrorAccessDenied`. A `transactionId` already used in the
/// calendar answers the event it made instead of making a second one.
async fn create(State(state): State<Shared>, Path(cid): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("POST event {cid}"));
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Some(cal) = state.graph.get(&cid).filter(|c| c.owner == email) else {
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    };
    if !cal.can_edit {
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    }
    for field in ["start", "end"] {
        if !body.get(field).is_some_and(|v| v.get("dateTime").is_some() && v.get("timeZone").is_some()) {
            return error(400, "ErrorInvalidRequest", &format!("The event's {field} needs a dateTime and a timeZone."));
        }
    }
    if let Some(tx) = body.get("transactionId").and_then(Value::as_str) {
        let made = cal.events.values().filter_map(|(e, _)| e.as_ref()).find(|e| e.get("transactionId").and_then(Value::as_str) == Some(tx));
        if let Some(e) = made {
            return (StatusCode::CREATED, Json(e.clone())).into_response();
        }
    }
    let id = format!("AAMk{}", super::random_id());
    let made = if super::graph_series::is_series(&body) {
        super::graph_series::put_master(&mut state, &cid, &id, body, None)
    } else {
        state.put_graph_event(&cid, &id, body)
    };
    match made {
        Some(e) => (StatusCode::CREATED, Json(e)).into_response(),
        None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
    }
}

/// The calendar holding one of the account's events, and the event.
fn owned(state: &super::SandboxState, email: &str, id: &str) -> Option<(String, Value)> {
    state.graph.values().filter(|c| c.owner == email).find_map(|c| c.events.get(id).and_then(|(e, _)| e.clone()).map(|e| (c.id.clone(), e)))
}

/// `PATCH /me/events/{id}` → 200 with the event; the fields sent replace those stored.
async fn update(State(state): State<Shared>, Path(id): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("PATCH event".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Some((cid, stored)) = owned(&state, &email, &id) else {
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    };
    if !state.graph.get(&cid).is_some_and(|c| c.can_edit) {
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    }
    let (Some(mut merged), Some(changes)) = (stored.as_object().cloned(), body.as_object()) else {
        return error(400, "ErrorInvalidRequest", "The body must be an event.");
    };
    for (k, v) in changes {
        if !matches!(k.as_str(), "id" | "changeKey" | "@odata.etag" | "lastModifiedDateTime" | "type") {
            merged.insert(k.clone(), v.clone());
        }
    }
    // A changed occurrence is an exception from then on; a master lays its occurrences out.
    let made = if super::graph_series::is_series(&stored) {
        super::graph_series::put_master(&mut state, &cid, &id, Value::Object(merged), Some(&stored))
    } else {
        if stored["type"] == "occurrence" {
            merged.insert("type".into(), json!("exception"));
        }
        state.put_graph_event(&cid, &id, Value::Object(merged))
    };
    match made {
        Some(e) => Json(e).into_response(),
        None => error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
    }
}

/// `DELETE /me/events/{id}` → 204; gone already is 404.
async fn remove(State(state): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("DELETE event".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Some((cid, stored)) = owned(&state, &email, &id) else {
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    };
    if !state.graph.get(&cid).is_some_and(|c| c.can_edit) {
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    }
    if super::graph_series::is_series(&stored) {
        super::graph_series::delete_instances(&mut state, &cid, &id);
    }
    state.delete_graph_event(&cid, &id);
    StatusCode::NO_CONTENT.into_response()
}

async fn calendars(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("GET calendars".into());
    let email = match account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let value: Vec<Value> = state.graph.values().filter(|c| c.owner == email).map(|c| calendar_json(c, &email)).collect();
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/calendars", "value": value})).into_response()
}

/// When an event is, for the window test: Graph's `dateTimeTimeZone` read as UTC when the zone
/// is UTC, else as written (the sandbox's events are seeded in UTC).
fn span(e: &Value) -> Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)> {
    let read = |k: &str| chrono::NaiveDateTime::parse_from_str(e[k]["dateTime"].as_str()?.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok();
    Some((read("start")?, read("end")?))
}

/// The state a link carries: (offset, snapshot change, window start, window end, since).
fn link_state(s: &str) -> Option<(usize, u64, String, String, u64)> {
    let mut p = s.split('~');
    Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.to_string(), p.next()?.to_string(), p.next()?.parse().ok()?))
}

/// `GET /me/calendars/{id}/calendarView/delta`.
async fn delta(State(state): State<Shared>, Path(cid): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let at = format!("me/calendars/{cid}");
    delta_in(&state, Some(cid), &at, &headers, &q)
}

/// `GET /me/calendar/calendarView/delta`: the account's default calendar.
async fn default_delta(State(state): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    delta_in(&state, None, "me/calendar", &headers, &q)
}

/// `GET /me/calendarView/delta`: the primary calendar, as v1.0 documents it.
async fn me_delta(State(state): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    delta_in(&state, None, "me", &headers, &q)
}

/// A delta page of calendar `cid` (`None`: the account's default calendar). `at`: the path the
/// round was asked at, under which its links stay.
fn delta_in(shared: &Shared, cid: Option<String>, at: &str, headers: &HeaderMap, q: &HashMap<String, String>) -> Response {
    let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("GET delta {}", cid.as_deref().unwrap_or(at)));
    let email = match account(&state, headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let cid = match cid.or_else(|| default_of(&state, &email)) {
        Some(id) => id,
        None => return error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
    };
    let Some(cal) = state.graph.get(&cid).filter(|c| c.owner == email) else {
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    };
    // A round starts with the window; its links carry the window and the paging state.
    let (offset, upto, from, to, since) = if let Some(t) = q.get("$skiptoken").or_else(|| q.get("$deltatoken")) {
        match link_state(t) {
            Some((o, _, f, t2, s)) if q.contains_key("$deltatoken") => {
                if s < cal.valid_from {
                    return error(410, "syncStateNotFound", "The sync state generation is not found.");
                }
                (o, state.change, f, t2, s)
            }
            Some(st) => st,
            None => return error(400, "BadRequest", "Invalid token."),
        }
    } else {
        match (q.get("startDateTime"), q.get("endDateTime")) {
            (Some(f), Some(t)) => (0, state.change, f.clone(), t.clone(), 0),
            _ => {
                return error(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                )
            }
        }
    };
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.naive_utc())
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(s.get(..19).unwrap_or(s), "%Y-%m-%dT%H:%M:%S"))
    };
    let (Ok(win_from), Ok(win_to)) = (parse(&from), parse(&to)) else {
        return error(400, "ErrorInvalidParameter", "StartDateTime and EndDateTime must be ISO 8601.");
    };
    let in_window = |e: &Value| span(e).is_some_and(|(s, en)| en > win_from && s < win_to);
    // What this round lists, by reference: only the page's items are copied out.
    let items: Vec<(&String, Option<&Value>)> = cal
        .events
        .iter()
        .filter(|(_, (_, change))| *change <= upto && *change > since)
        // Series masters are not listed: calendarView answers occurrences.
        .filter(|(_, (event, _))| !event.as_ref().is_some_and(|e| e["type"] == "seriesMaster"))
        .filter_map(|(id, (event, _))| match event {
            Some(e) if in_window(e) => Some((id, Some(e))),
            // Deleted, or moved out of the window: removed, when the round already told of it.
            _ if since > 0 => Some((id, None)),
            _ => None,
        })
        .collect();
    let size = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|p| p.split(',').find_map(|x| x.trim().strip_prefix("odata.maxpagesize=")?.parse::<usize>().ok()))
        .unwrap_or(10)
        .clamp(1, 1000);
    let page: Vec<Value> = items
        .iter()
        .skip(offset)
        .take(size)
        .map(|(id, e)| match e {
            Some(e) => (*e).clone(),
            None => json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}}),
        })
        .collect();
    let base = format!("{}/graph/v1.0/{at}/calendarView/delta", state.base);
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)", "value": page});
    if offset + size < items.len() {
        body["@odata.nextLink"] = json!(format!("{base}?$skiptoken={}~{upto}~{from}~{to}~{since}", offset + size));
    } else {
        body["@odata.deltaLink"] = json!(format!("{base}?$deltatoken=0~{upto}~{from}~{to}~{upto}"));
    }
    Json(body).into_response()
}
