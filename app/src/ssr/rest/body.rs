//! Reading JSON bodies and query strings into the domain's types, with a message per field for
//! anything that cannot be read (422), never a panic and never a silent default.
use super::ApiError;
use serde_json::{Map, Value};
use server::domain::FieldMessage;

pub fn object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, None, format!("The request body is not valid JSON: {e}.")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, None, "The request body must be a JSON object.")),
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

/// Reads a JSON object into `T`, a type derived with serde (the same type the OpenAPI document
/// shows): the first field that cannot be read is 422 naming it ("title must be a string.",
/// "Unknown field 'colour'."); a body that is not a JSON object is 400.
pub fn read<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    read_except(bytes, &[])
}

/// The same, with `ignored` fields dropped first (what a client may send back unchanged from
/// a read).
pub fn read_except<T: serde::de::DeserializeOwned>(bytes: &[u8], ignored: &[&str]) -> Result<T, ApiError> {
    let mut object = object(bytes)?;
    object.retain(|k, _| !ignored.contains(&k.as_str()));
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        // `working_hours[0].start`; nothing for the body itself.
        let path = e.path().to_string();
        let field = Some(path).filter(|p| !p.is_empty() && p != "." && !p.contains('?'));
        let (field, message) = said(field, &e.into_inner().to_string());
        ApiError::invalid(vec![FieldMessage { field, message }])
    })
}

/// The field and the message of a serde refusal, in the API's wording.
fn said(field: Option<String>, inner: &str) -> (Option<String>, String) {
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_owned);
    // A field named in the message, under the object the path reached.
    let under = |name: &str| match &field {
        Some(p) if p == name || p.ends_with(&format!(".{name}")) => p.clone(),
        Some(p) => format!("{p}.{name}"),
        None => name.to_owned(),
    };
    if let Some(name) = inner.strip_prefix("unknown field ").and_then(quoted) {
        let message = format!("Unknown field '{name}'.");
        return (Some(under(&name)), message);
    }
    if let Some(name) = inner.strip_prefix("missing field ").and_then(quoted) {
        let message = format!("{name} is required.");
        return (Some(under(&name)), message);
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

    /// A string; `null` reads as empty (which clears the field).
    pub fn emptied<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Some(text(d)?.unwrap_or_default()))
    }

    /// A number (or a string) as text, so the domain's rule gives the message ("… must be a
    /// whole number").
    pub fn number_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::String(s) => Ok(Some(s)),
            _ => Err(D::Error::custom("must be a number")),
        }
    }

    /// An array of strings; `null` reads as empty.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        Ok(Some(list(d, "must be an array of strings")?.unwrap_or_default()))
    }

    /// A list of strings, `null` for none; anything else is refused with `message`.
    fn list<'de, D: Deserializer<'de>>(d: D, message: &str) -> Result<Option<Vec<String>>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Array(items) => items
                .into_iter()
                .map(|i| if let Value::String(s) = i { Ok(s) } else { Err(()) })
                .collect::<Result<_, _>>()
                .map(Some)
                .map_err(|_| D::Error::custom(message)),
            _ => Err(D::Error::custom(message)),
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
        list(d, "must be a list of email addresses")
    }

    /// A list of calendar record names; `null` reads as not given.
    pub fn record_names<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        list(d, "must be a list of calendar record names")
    }

    /// A string that must be there (serde says when it is missing).
    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        string(d)?.ok_or_else(|| D::Error::custom("must be a string"))
    }

    /// A whole number (not `null`).
    pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Value::deserialize(d)?.as_i64().map(Some).ok_or_else(|| D::Error::custom("must be a whole number"))
    }

    /// A whole number, or `null` for none.
    pub fn whole_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => v.as_i64().map(Some).ok_or_else(|| D::Error::custom("must be a whole number or null")),
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

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        #[serde(deserialize_with = "de::required")]
        start: String,
    }

    fn refusal_of_outer(body: &str) -> (Option<String>, String) {
        let e = read::<Outer>(body.as_bytes()).unwrap_err();
        let m = e.body.errors.into_iter().next().unwrap();
        (m.field, m.message)
    }

    #[test]
    fn a_nested_refusal_names_the_whole_path() {
        assert_eq!(
            refusal_of_outer(r#"{"items": [{"start": "9"}, {"start": 5}]}"#),
            (Some("items[1].start".into()), "items[1].start must be a string.".into())
        );
        assert_eq!(refusal_of_outer(r#"{"items": [{}]}"#), (Some("items[0].start".into()), "start is required.".into()));
        assert_eq!(refusal_of_outer(r#"{"items": [{"start": "9", "colour": 1}]}"#), (Some("items[0].colour".into()), "Unknown field 'colour'.".into()));
    }

    #[test]
    fn readable_bodies_still_read() {
        let ok = read::<Sample>(br#"{"title": null, "notify": 1}"#).unwrap();
        assert_eq!((ok.title, ok.notify), (None, Some(true)));
    }
}
