//! Google's instances of a recurring event, as the sandbox answers them: `events.instances`
//! (`originalStart`, `timeMin`/`timeMax`, `showDeleted`, `maxResults`), and an instance's id
//! (`<master>_<YYYYMMDDTHHMMSSZ>`, the observed form) accepted by get, patch and delete. The
//! first change to an instance makes it an exception: an event of its own with
//! `recurringEventId` and `originalStartTime`, which a deletion leaves as a cancelled tombstone.
//! The recurrence is expanded with the rrule crate, not calsync's own expander.
use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::google::error;
use super::Shared;

type Events = BTreeMap<String, (Value, u64)>;

fn time_of(t: &Value) -> Option<DateTime<Utc>> {
    t.get("dateTime").and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.to_utc())
}

fn zone_of(master: &Value) -> chrono_tz::Tz {
    master["start"]["timeZone"].as_str().and_then(|z| z.parse().ok()).unwrap_or(chrono_tz::UTC)
}

/// The original starts of a timed master's occurrences in [from, to), at most `limit`.
fn starts(master: &Value, from: DateTime<Utc>, to: DateTime<Utc>, limit: u16) -> Vec<DateTime<Utc>> {
    let Some(start) = time_of(&master["start"]) else { return Vec::new() };
    let tz = zone_of(master);
    let mut text = format!("DTSTART;TZID={}:{}", tz.name(), start.with_timezone(&tz).format("%Y%m%dT%H%M%S"));
    for line in master["recurrence"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if ["RRULE:", "EXDATE", "RDATE"].iter().any(|p| line.starts_with(p)) {
            text.push('\n');
            text.push_str(line);
        }
    }
    let Ok(set) = text.parse::<rrule::RRuleSet>() else { return Vec::new() };
    let utc = |t: DateTime<Utc>| t.with_timezone(&rrule::Tz::UTC);
    set.after(utc(from)).before(utc(to - Duration::seconds(1))).all(limit).dates.into_iter().map(|t| t.to_utc()).filter(|t| *t >= from && *t < to).collect()
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn is_series(master: &Value) -> bool {
    master["status"] != "cancelled" && master["recurrence"].as_array().is_some_and(|r| !r.is_empty())
}

/// An instance as the series makes it (no exception stored for it).
fn made(master: &Value, master_id: &str, original: DateTime<Utc>) -> Value {
    let tz = zone_of(master);
    let length = match (time_of(&master["start"]), time_of(&master["end"])) {
        (Some(s), Some(e)) => e - s,
        _ => Duration::zero(),
    };
    let at = |t: DateTime<Utc>| json!({"dateTime": t.with_timezone(&tz).to_rfc3339(), "timeZone": tz.name()});
    let mut v = master.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("recurrence");
        o.insert("id".into(), json!(format!("{master_id}_{}", stamp(original))));
        o.insert("recurringEventId".into(), json!(master_id));
        o.insert("originalStartTime".into(), at(original));
        o.insert("start".into(), at(original));
        o.insert("end".into(), at(original + length));
    }
    v
}

/// The instance `id` names, when it is not stored itself: one the series makes.
pub fn unstored(events: &Events, id: &str) -> Option<Value> {
    let (master_id, when) = id.rsplit_once('_')?;
    let (master, _) = events.get(master_id).filter(|(m, _)| is_series(m))?;
    let original = chrono::NaiveDateTime::parse_from_str(when, "%Y%m%dT%H%M%SZ").ok()?.and_utc();
    starts(master, original, original + Duration::seconds(1), 2).contains(&original).then(|| made(master, master_id, original))
}

/// The stored exceptions of a master, by original start.
fn exceptions<'a>(events: &'a Events, master_id: &str) -> HashMap<DateTime<Utc>, &'a Value> {
    events
        .values()
        .map(|(e, _)| e)
        .filter(|e| e["recurringEventId"].as_str() == Some(master_id))
        .filter_map(|e| Some((time_of(&e["originalStartTime"])?, e)))
        .collect()
}

/// `events.instances`: the instances of a recurring event, exceptions as stored.
pub async fn instances(
    State(state): State<Shared>,
    Path((cid, eid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push(format!("GET instances {cid}"));
    let email = match super::google::account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let cid = if cid == "primary" { email.clone() } else { cid };
    let Some(cal) = state.calendars.get(&cid).filter(|c| c.owner == email) else {
        return error(404, "notFound", "Not Found");
    };
    let Some((master, _)) = cal.events.get(&eid).filter(|(m, _)| m["status"] != "cancelled") else {
        return error(404, "notFound", "Not Found");
    };
    let max = match super::google::number(&q, "maxResults", 250, 2500) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let show_deleted = q.get("showDeleted").map(String::as_str) == Some("true");
    let bound = |name: &str| q.get(name).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc());
    let first = time_of(&master["start"]).unwrap_or_default();
    let originals: Vec<DateTime<Utc>> = if !is_series(master) {
        Vec::new()
    } else if let Some(original) = q.get("originalStart") {
        let Some(t) = DateTime::parse_from_rfc3339(original).ok().map(|t| t.to_utc()) else {
            return error(400, "invalid", "Invalid value for originalStart.");
        };
        starts(master, t, t + Duration::seconds(1), 2)
    } else {
        let from = bound("timeMin").unwrap_or(first);
        let to = bound("timeMax").unwrap_or(first + Duration::days(366));
        starts(master, from, to, u16::try_from(max + 1).unwrap_or(u16::MAX))
    };
    let stored = exceptions(&cal.events, &eid);
    let items: Vec<Value> = originals
        .into_iter()
        .map(|t| stored.get(&t).map(|e| (*e).clone()).unwrap_or_else(|| made(master, &eid, t)))
        .filter(|e| show_deleted || e["status"] != "cancelled")
        .take(max)
        .collect();
    Json(json!({"kind": "calendar#events", "summary": cal.summary, "timeZone": "UTC", "items": items})).into_response()
}
