//! The three-way merge of a booking and its copy in a calendar: base (the fields as calsync
//! last wrote them), local (the booking now) and remote (the calendar's copy now). A field
//! changed on one side only is taken from that side; a field changed on both sides to
//! different values is a conflict, which goes to the side `later` names.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The fields of a meeting that both sides hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields {
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Every field, in the order people read them.
pub const NAMES: [&str; 5] = ["title", "start", "end", "location", "description"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Local,
    Remote,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Local => "local",
            Side::Remote => "remote",
        }
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "local" => Some(Side::Local),
            "remote" => Some(Side::Remote),
            _ => None,
        }
    }
}

impl Fields {
    /// One field as JSON (for comparing and showing).
    pub fn get(&self, name: &str) -> serde_json::Value {
        match name {
            "title" => self.title.clone().into(),
            "start" => self.start.to_rfc3339().into(),
            "end" => self.end.to_rfc3339().into(),
            "location" => self.location.clone().into(),
            "description" => self.description.clone().into(),
            _ => serde_json::Value::Null,
        }
    }

    /// Takes one field from `other`.
    pub fn take(&mut self, name: &str, other: &Fields) {
        match name {
            "title" => self.title = other.title.clone(),
            "start" => self.start = other.start,
            "end" => self.end = other.end,
            "location" => self.location = other.location.clone(),
            "description" => self.description = other.description.clone(),
            _ => {}
        }
    }

    /// The fields where `self` and `other` differ, among `known`.
    pub fn differing(&self, other: &Fields, known: &[&'static str]) -> Vec<&'static str> {
        known.iter().copied().filter(|f| self.get(f) != other.get(f)).collect()
    }
}

/// What a merge made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub result: Fields,
    /// The fields taken from the remote side.
    pub from_remote: Vec<&'static str>,
    /// The fields changed on both sides to different values.
    pub conflicting: Vec<&'static str>,
    /// The fields changed locally that the remote side does not have yet.
    pub from_local: Vec<&'static str>,
}

/// Merges `local` and `remote` from `base`, over the fields the calendar reports (`known`;
/// the others stay as they are locally). Conflicting fields go to `later`.
pub fn merge(base: &Fields, local: &Fields, remote: &Fields, known: &[&'static str], later: Side) -> Merge {
    let mut result = local.clone();
    let (mut from_remote, mut conflicting, mut from_local) = (Vec::new(), Vec::new(), Vec::new());
    for f in known.iter().copied() {
        let (l, r, b) = (local.get(f), remote.get(f), base.get(f));
        match (l != b, r != b) {
            (false, true) => {
                result.take(f, remote);
                from_remote.push(f);
            }
            (true, false) => from_local.push(f),
            (true, true) if l != r => {
                conflicting.push(f);
                match later {
                    Side::Remote => result.take(f, remote),
                    Side::Local => from_local.push(f),
                }
            }
            _ => {}
        }
    }
    Merge { result, from_remote, conflicting, from_local }
}

/// For a conflict's outcome: which side each differing field took.
pub fn outcome(differing: &[&'static str], from_remote: &[&'static str]) -> BTreeMap<String, String> {
    differing.iter().map(|f| (f.to_string(), if from_remote.contains(f) { "remote" } else { "local" }.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, h, 0, 0).unwrap()
    }

    fn fields(title: &str, h: u32, location: Option<&str>) -> Fields {
        Fields { title: title.into(), start: at(h), end: at(h + 1), location: location.map(str::to_string), description: None }
    }

    #[test]
    fn one_sided_changes_are_taken_from_their_side() {
        let base = fields("Review", 9, Some("Room 1"));
        let local = fields("Design review", 9, Some("Room 1"));
        let remote = fields("Review", 11, Some("Room 1"));
        let m = merge(&base, &local, &remote, &NAMES, Side::Local);
        assert_eq!(m.result, fields("Design review", 11, Some("Room 1")));
        assert_eq!((m.from_remote, m.conflicting, m.from_local), (vec!["start", "end"], vec![], vec!["title"]));
    }

    #[test]
    fn a_field_changed_on_both_sides_goes_to_the_later_side() {
        let base = fields("Review", 9, None);
        let local = fields("Local title", 9, None);
        let remote = fields("Remote title", 9, Some("Room 2"));
        let m = merge(&base, &local, &remote, &NAMES, Side::Remote);
        assert_eq!(m.conflicting, vec!["title"]);
        assert_eq!(m.result, fields("Remote title", 9, Some("Room 2")));
        let m = merge(&base, &local, &remote, &NAMES, Side::Local);
        assert_eq!(m.result, fields("Local title", 9, Some("Room 2")));
        // The same change on both sides is no conflict.
        let m = merge(&base, &local, &local, &NAMES, Side::Remote);
        assert!(m.conflicting.is_empty() && m.from_remote.is_empty());
    }

    #[test]
    fn fields_the_calendar_does_not_report_stay_local() {
        let base = fields("Review", 9, Some("Room 1"));
        let local = fields("Review", 9, Some("Room 1"));
        let remote = fields("Review", 9, None);
        let m = merge(&base, &local, &remote, &["title", "start", "end"], Side::Remote);
        assert_eq!(m.result.location.as_deref(), Some("Room 1"));
    }
}
