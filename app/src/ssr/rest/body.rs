//! Reading JSON bodies and query strings into the domain's types, with a message per field for
//! anything that cannot be read (422), never a panic and never a silent default.
use super::ApiError;
use serde_json::{Map, Value};
use server::{
    crypto::Secret,
    domain::{integrations::Patch, FieldMessage},
};

/// Fields a client may send back unchanged from a read; they are ignored on write.
const READ_ONLY: &[&str] =
    &["name", "has_access_token", "has_refresh_token", "last_sync", "sync_status", "sync_error_log", "created_at", "modified_at", "warnings", "messages"];

pub fn object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, None, format!("The request body is not valid JSON: {e}.")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, None, "The request body must be a JSON object.")),
    }
}

fn text(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        _ => {
            errors.push(FieldMessage::new(field, format!("{field} must be a string.")));
            None
        }
    }
}

/// A string, and nothing else (not even null).
pub fn string(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            errors.push(FieldMessage::new(field, format!("{field} must be a string.")));
            None
        }
    }
}

/// What a change that needs the version read says when it is missing.
pub const MSG_VERSION_REQUIRED: &str = "version is required: send the version you read, so a change made meanwhile is not overwritten.";

/// Booleans as `true`/`false`, and `0`/`1` (numbers or strings).
pub fn boolean(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::String(s) if s == "0" || s == "false" => Some(false),
        Value::String(s) if s == "1" || s == "true" => Some(true),
        _ => {
            errors.push(FieldMessage::new(field, format!("{field} must be true or false (or 1 or 0).")));
            None
        }
    }
}

/// Numbers pass through as text so the domain's rule gives the message ("must be a whole number").
fn number(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => {
            errors.push(FieldMessage::new(field, format!("{field} must be a number.")));
            None
        }
    }
}

fn secret(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<Option<Secret>> {
    match v {
        Value::String(s) if !s.is_empty() => Some(Some(Secret::new(s.clone()))),
        Value::String(_) | Value::Null => Some(None),
        _ => {
            errors.push(FieldMessage::new(field, format!("{field} must be a string.")));
            None
        }
    }
}

/// A JSON object → a `Patch` (the spec's field names).
pub fn patch(map: &Map<String, Value>) -> Result<Patch, ApiError> {
    let mut p = Patch::default();
    let mut errors = Vec::new();
    for (key, v) in map {
        let e = &mut errors;
        match key.as_str() {
            "user" => p.user = text(key, v, e),
            "integration_type" => p.integration_type = text(key, v, e),
            "integration_name" => p.integration_name = text(key, v, e),
            "is_active" => p.is_active = boolean(key, v, e),
            "is_primary" => p.is_primary = boolean(key, v, e),
            "calendar_id" => p.calendar_id = text(key, v, e),
            "access_token" => p.access_token = secret(key, v, e),
            "refresh_token" => p.refresh_token = secret(key, v, e),
            "token_expiry" => p.token_expiry = text(key, v, e),
            "ical_url" => p.ical_url = text(key, v, e),
            "sync_direction" => p.sync_direction = text(key, v, e),
            "sync_past_days" => p.sync_past_days = number(key, v, e),
            "sync_future_days" => p.sync_future_days = number(key, v, e),
            "auto_sync_enabled" => p.auto_sync_enabled = boolean(key, v, e),
            "sync_interval_minutes" => p.sync_interval_minutes = number(key, v, e),
            "stale_policy" => p.stale_policy = text(key, v, e),
            "conflict_policy" => p.conflict_policy = text(key, v, e),
            "busy_rules" => p.busy_rules = busy_rules(key, v, e),
            "free_title_patterns" => p.free_title_patterns = strings(key, v, e),
            "own_addresses" => p.own_addresses = strings(key, v, e).map(|a| a.join("\n")),
            "version" => match v.as_i64() {
                Some(n) => p.version = Some(n),
                None => e.push(FieldMessage::new(key, "version must be an integer.")),
            },
            k if READ_ONLY.contains(&k) => {}
            other => e.push(FieldMessage::new(other, format!("Unknown field '{other}'."))),
        }
    }
    if (p.busy_rules.is_some() || p.free_title_patterns.is_some()) && p.version.is_none() {
        errors.push(FieldMessage::new("version", MSG_VERSION_REQUIRED));
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(ApiError::invalid(errors))
    }
}

/// `{"kind": "busy"|"free", …}`: the pairs as sent (the domain names a kind or value it
/// cannot read).
fn busy_rules(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<Vec<(String, String)>> {
    let Value::Object(map) = v else {
        errors.push(FieldMessage::new(field, "busy_rules must be an object from kind to \"busy\" or \"free\", e.g. {\"tentative\": \"free\"}."));
        return None;
    };
    Some(map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
}

/// An array of strings.
fn strings(field: &str, v: &Value, errors: &mut Vec<FieldMessage>) -> Option<Vec<String>> {
    match v {
        Value::Array(items) if items.iter().all(Value::is_string) => Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        Value::Null => Some(Vec::new()),
        _ => {
            errors.push(FieldMessage::new(field, format!("{field} must be an array of strings.")));
            None
        }
    }
}

/// Reads a JSON object into `T`, a type derived with serde (the same type the OpenAPI document
/// shows): the first field that cannot be read is 422 naming it ("title must be a string.",
/// "Unknown field 'colour'."); a body that is not a JSON object is 400.
pub fn read<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let object = object(bytes)?;
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        let field = e.path().iter().next().map(|s| s.to_string()).filter(|s| s != "?");
        let (field, message) = said(field, &e.into_inner().to_string());
        ApiError::invalid(vec![FieldMessage { field, message }])
    })
}

/// The field and the message of a serde refusal, in the API's wording.
fn said(field: Option<String>, inner: &str) -> (Option<String>, String) {
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_owned);
    if let Some(name) = inner.strip_prefix("unknown field ").and_then(quoted) {
        let message = format!("Unknown field '{name}'.");
        return (Some(name), message);
    }
    if let Some(name) = inner.strip_prefix("missing field ").and_then(quoted) {
        let message = format!("{name} is required.");
        return (Some(name), message);
    }
    match field {
        // The field readers below say what the value must be.
        Some(f) if inner.starts_with("must ") => (Some(f.clone()), format!("{f} {inner}.")),
        Some(f) => (Some(f.clone()), format!("{f} could not be read ({inner}).")),
        None => (None, format!("The request body could not be read ({inner}).")),
    }
}

/// Field readers for serde's `deserialize_with`, accepting what the hand-written API always
/// accepted and refusing the rest in its words.
pub mod de {
    use serde::{de::Error, Deserialize, Deserializer};
    use serde_json::Value;

    /// A string; `null` reads as not given.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            _ => Err(D::Error::custom("must be a string")),
        }
    }

    /// A string, and nothing else (not even `null`): a change to a field that cannot be empty.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Some(s)),
            _ => Err(D::Error::custom("must be a string")),
        }
    }

    /// In a change: a string sets the field, `null` clears it (absent: left as it is).
    pub fn clearable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Some(Some(s))),
            Value::Null => Ok(Some(None)),
            _ => Err(D::Error::custom("must be a string or null")),
        }
    }

    /// `true`/`false`, and `1`/`0` (numbers or strings).
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Some(b)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Some(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Some(true)),
            Value::String(s) if s == "0" || s == "false" => Ok(Some(false)),
            Value::String(s) if s == "1" || s == "true" => Ok(Some(true)),
            _ => Err(D::Error::custom("must be true or false (or 1 or 0)")),
        }
    }

    /// A list of email addresses; `null` reads as not given.
    pub fn addresses<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Array(items) => items
                .into_iter()
                .map(|i| if let Value::String(s) = i { Ok(s) } else { Err(()) })
                .collect::<Result<_, _>>()
                .map(Some)
                .map_err(|_| D::Error::custom("must be a list of email addresses")),
            _ => Err(D::Error::custom("must be a list of email addresses")),
        }
    }

    /// The `version` a client read.
    pub fn version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Value::deserialize(d)?.as_i64().map(Some).ok_or_else(|| D::Error::custom("must be the number you read"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[serde(default, deserialize_with = "de::text")]
        title: Option<String>,
        #[serde(default, deserialize_with = "de::flag")]
        notify: Option<bool>,
    }

    fn refusal(body: &str) -> (Option<String>, String) {
        let e = read::<Sample>(body.as_bytes()).unwrap_err();
        let m = e.body.errors.into_iter().next().unwrap();
        (m.field, m.message)
    }

    #[test]
    fn each_refusal_names_its_field_in_the_apis_words() {
        assert_eq!(refusal(r#"{"title": 5}"#), (Some("title".into()), "title must be a string.".into()));
        assert_eq!(refusal(r#"{"notify": "maybe"}"#), (Some("notify".into()), "notify must be true or false (or 1 or 0).".into()));
        assert_eq!(refusal(r#"{"colour": "red"}"#), (Some("colour".into()), "Unknown field 'colour'.".into()));
        let ok = read::<Sample>(br#"{"title": null, "notify": 1}"#).unwrap();
        assert_eq!((ok.title, ok.notify), (None, Some(true)));
    }
}
