//! Where a server function sends a browser that posted a plain form (no JavaScript): the
//! messages travel in the address.
use crate::ssr::query_escape;

/// `/calendars?notice=…&warning=…&danger=…`: where a successful save lands, with what to say.
pub fn notice_url(path: &str, result: &super::integrations::ActionResult) -> String {
    let mut parts: Vec<String> = result.messages.iter().map(|m| format!("notice={}", query_escape(m))).collect();
    for w in &result.warnings {
        let key = if w.danger { "danger" } else { "warning" };
        parts.push(format!("{key}={}", query_escape(&w.message)));
    }
    if parts.is_empty() { path.to_string() } else { format!("{path}?{}", parts.join("&")) }
}

/// Back to a form after a refusal without JavaScript: the values typed and the messages travel
/// in the address (`err.FIELD`, `warn.FIELD`), so nothing typed is lost.
pub fn failure_url(path: &str, values: &[(&str, Option<String>)], err: &crate::error::AppError) -> String {
    let mut parts = vec!["failed=1".to_string()];
    for (k, v) in values {
        if let Some(v) = v {
            parts.push(format!("{k}={}", query_escape(v)));
        }
    }
    match err {
        crate::error::AppError::Invalid { errors, warnings } => {
            for e in errors {
                parts.push(format!("err.{}={}", e.field.as_deref().unwrap_or("_"), query_escape(&e.message)));
            }
            for w in warnings {
                parts.push(format!("warn.{}={}", w.field.as_deref().unwrap_or("_"), query_escape(&w.message)));
            }
        }
        other => parts.push(format!("err._={}", query_escape(&other.to_string()))),
    }
    format!("{path}?{}", parts.join("&"))
}
