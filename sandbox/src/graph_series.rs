//! Recurring events in the Graph sandbox, as the service keeps them: a created or updated
//! `seriesMaster` lays out its `occurrence`s (each with `seriesMasterId` and `originalStart`)
//! from its `recurrence` pattern and range; `GET /me/events/{id}/instances` lists a master's
//! occurrences and exceptions in a window; a changed occurrence becomes an `exception`, a
//! deleted one is gone. Changing the pattern or the times of a master lays them out again
//! (its exceptions are dropped, as Outlook does); other changes reach the occurrences that
//! were not changed on their own. The pattern is read into an RRULE for the rrule crate, not
//! through calsync's own conversion.
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::graph::error;
use super::{SandboxState, Shared};

/// How far a series without an end is laid out.
const HORIZON_DAYS: i64 = 400;
const MAX_OCCURRENCES: u16 = 500;

fn local(t: &Value) -> Option<(NaiveDateTime, chrono_tz::Tz)> {
    let at = NaiveDateTime::parse_from_str(t["dateTime"].as_str()?.get(..19)?, "%Y-%m-%dT%H:%M:%S").ok()?;
    let tz = t["timeZone"].as_str().unwrap_or("UTC").parse().unwrap_or(chrono_tz::UTC);
    Some((at, tz))
}

fn byday(days: &Value) -> String {
    days.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|d| ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].iter().position(|n| n.eq_ignore_ascii_case(d)))
        .map(|i| ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][i])
        .collect::<Vec<_>>()
        .join(",")
}

/// The RRULE a Graph pattern and range stand for, or `None` when it cannot be read.
fn rule(recurrence: &Value, tz: chrono_tz::Tz) -> Option<String> {
    let p = &recurrence["pattern"];
    let interval = p["interval"].as_u64().unwrap_or(1).max(1);
    let setpos = match p["index"].as_str().unwrap_or("first") {
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "last" => -1,
        _ => 1,
    };
    let mut r = match p["type"].as_str()? {
        "daily" => format!("FREQ=DAILY;INTERVAL={interval}"),
        "weekly" => format!("FREQ=WEEKLY;INTERVAL={interval};BYDAY={}", byday(&p["daysOfWeek"])),
        "absoluteMonthly" => format!("FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={}", p["dayOfMonth"].as_u64()?),
        "relativeMonthly" => format!("FREQ=MONTHLY;INTERVAL={interval};BYDAY={};BYSETPOS={setpos}", byday(&p["daysOfWeek"])),
        "absoluteYearly" => format!("FREQ=YEARLY;INTERVAL={interval};BYMONTH={};BYMONTHDAY={}", p["month"].as_u64()?, p["dayOfMonth"].as_u64()?),
        "relativeYearly" => format!("FREQ=YEARLY;INTERVAL={interval};BYMONTH={};BYDAY={};BYSETPOS={setpos}", p["month"].as_u64()?, byday(&p["daysOfWeek"])),
        _ => return None,
    };
    let range = &recurrence["range"];
    match range["type"].as_str() {
        Some("numbered") => r.push_str(&format!(";COUNT={}", range["numberOfOccurrences"].as_u64()?)),
        Some("endDate") => {
            let last = chrono::NaiveDate::parse_from_str(range["endDate"].as_str()?, "%Y-%m-%d").ok()?.and_hms_opt(23, 59, 59)?;
            let until = providers::events::local_to_utc(tz, last);
            r.push_str(&format!(";UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
        }
        _ => {}
    }
    Some(r)
}

/// The original starts (UTC) of a master's occurrences.
fn starts(master: &Value) -> Vec<DateTime<Utc>> {
    let Some((start, tz)) = local(&master["start"]) else { return Vec::new() };
    let Some(rule) = rule(&master["recurrence"], tz) else { return Vec::new() };
    let text = format!("DTSTART;TZID={}:{}\nRRULE:{rule}", tz.name(), start.format("%Y%m%dT%H%M%S"));
    let Ok(set) = text.parse::<rrule::RRuleSet>() else { return Vec::new() };
    let first = providers::events::local_to_utc(tz, start);
    let horizon = (first + Duration::days(HORIZON_DAYS)).with_timezone(&rrule::Tz::UTC);
    set.before(horizon).all(MAX_OCCURRENCES).dates.into_iter().map(|t| t.to_utc()).collect()
}

fn is_master(e: &Value) -> bool {
    e["recurrence"].is_object()
}

/// The occurrence of `master` that starts at `original`.
fn occurrence(master: &Value, master_id: &str, original: DateTime<Utc>) -> Value {
    let (start, tz) = local(&master["start"]).unwrap_or_default();
    let (end, _) = local(&master["end"]).unwrap_or((start, tz));
    let length = end - start;
    let begin = original.with_timezone(&tz).naive_local();
    let at = |t: NaiveDateTime| json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": tz.name()});
    let mut o = master.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("recurrence");
        m.remove("transactionId");
        m.insert("type".into(), json!("occurrence"));
        m.insert("seriesMasterId".into(), json!(master_id));
        m.insert("originalStart".into(), json!(original.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        m.insert("start".into(), at(begin));
        m.insert("end".into(), at(begin + length));
    }
    o
}

fn instance_id(master_id: &str, original: DateTime<Utc>) -> String {
    format!("{master_id}-OCC{}", original.format("%Y%m%dT%H%M%SZ"))
}

/// The ids of a master's occurrences and exceptions.
fn instances_of(state: &SandboxState, calendar: &str, master_id: &str) -> Vec<String> {
    state
        .graph
        .get(calendar)
        .map(|c| c.events.iter().filter(|(_, (e, _))| e.as_ref().is_some_and(|e| e["seriesMasterId"] == master_id)).map(|(id, _)| id.clone()).collect())
        .unwrap_or_default()
}

/// Stores a master (as `seriesMaster`) and lays out or refreshes its occurrences. `before`:
/// the master as it was.
pub fn put_master(state: &mut SandboxState, calendar: &str, id: &str, mut master: Value, before: Option<&Value>) -> Option<Value> {
    master["type"] = json!("seriesMaster");
    let stored = state.put_graph_event(calendar, id, master)?;
    let relaid = before.is_none_or(|b| b["recurrence"] != stored["recurrence"] || b["start"] != stored["start"] || b["end"] != stored["end"]);
    let existing = instances_of(state, calendar, id);
    if relaid {
        for i in existing {
            state.delete_graph_event(calendar, &i);
        }
        for original in starts(&stored) {
            state.put_graph_event(calendar, &instance_id(id, original), occurrence(&stored, id, original));
        }
    } else {
        // The series' other fields reach the occurrences not changed on their own.
        for i in existing {
            let Some(o) = state.graph.get(calendar).and_then(|c| c.events.get(&i)).and_then(|(e, _)| e.clone()) else { continue };
            if o["type"] == "occurrence" {
                let original = o["originalStart"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc()).unwrap_or_default();
                state.put_graph_event(calendar, &i, occurrence(&stored, id, original));
            }
        }
    }
    Some(stored)
}

/// A master deleted: its occurrences and exceptions go with it.
pub fn delete_instances(state: &mut SandboxState, calendar: &str, master_id: &str) {
    for i in instances_of(state, calendar, master_id) {
        state.delete_graph_event(calendar, &i);
    }
}

pub fn is_series(e: &Value) -> bool {
    is_master(e)
}

/// `GET /me/events/{id}/instances?startDateTime&endDateTime`: a master's occurrences and
/// exceptions starting in the window (both bounds required).
pub async fn instances(State(state): State<Shared>, Path(id): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests.push("GET instances".into());
    let email = match super::graph::account(&state, &headers) {
        Ok(e) => e,
        Err(r) => return r,
    };
    let bound = |k: &str| {
        q.get(k).and_then(|t| {
            DateTime::parse_from_rfc3339(t).ok().map(|t| t.to_utc()).or_else(|| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S").ok().map(|t| t.and_utc()))
        })
    };
    let (Some(from), Some(to)) = (bound("startDateTime"), bound("endDateTime")) else {
        return error(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        );
    };
    let Some(cal) = state.graph.values().filter(|c| c.owner == email).find(|c| c.events.get(&id).is_some_and(|(e, _)| e.is_some())) else {
        return error(404, "ErrorItemNotFound", "The specified object was not found in the store.");
    };
    let start = |e: &Value| local(&e["start"]).map(|(t, tz)| providers::events::local_to_utc(tz, t));
    let mut value: Vec<Value> = cal
        .events
        .values()
        .filter_map(|(e, _)| e.as_ref())
        .filter(|e| e["seriesMasterId"] == id.as_str())
        .filter(|e| start(e).is_some_and(|at| at >= from && at < to))
        .cloned()
        .collect();
    value.sort_by_key(|e| start(e));
    // Paged as Graph's lists are: `$top` items a page (10 unless asked), `$skip` in the next link.
    let top = q.get("$top").and_then(|t| t.parse::<usize>().ok()).unwrap_or(10).clamp(1, 1000);
    let skip = q.get("$skip").and_then(|t| t.parse::<usize>().ok()).unwrap_or(0);
    let page: Vec<Value> = value.iter().skip(skip).take(top).cloned().collect();
    let mut body = json!({"value": page});
    if skip + top < value.len() {
        let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        body["@odata.nextLink"] = json!(format!(
            "{}/graph/v1.0/me/events/{}/instances?startDateTime={}&endDateTime={}&$top={top}&$skip={}",
            state.base,
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>(),
            f(from),
            f(to),
            skip + top
        ));
    }
    Json(body).into_response()
}
