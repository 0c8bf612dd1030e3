//! The three-way merge of a booking and its copy in a calendar: base (the fields as calsync
//! last wrote them), local (the booking now) and remote (the calendar's copy now). A field
//! changed on one side only is taken from that side; a field changed on both sides to
//! different values is a conflict, which goes to the side `later` names. A recurring
//! meeting's occurrences merge one by one: each occurrence that differs from its series
//! (moved, retitled, cancelled) is a field of its own, `occurrence:<original start>`.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::providers::write::Occurrence;

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
    /// Email addresses, lower case, in the order written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<String>,
    /// The occurrences that differ from the series, by original start (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub occurrences: BTreeMap<String, Occurrence>,
    /// A series' rule (`RRULE:…` lines, as `rule` writes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<String>,
}

/// A recurrence rule as the merge compares it: its lines trimmed, empty ones left out.
pub fn rule(text: Option<&str>) -> Option<String> {
    let lines: Vec<&str> = text?.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Every field of the meeting itself, in the order people read them.
pub const NAMES: [&str; 6] = ["title", "start", "end", "location", "description", "attendees"];
/// A series' rule, in a list of known fields (before its occurrences, which read against it).
pub const RULE: &str = "recurrence";
/// In a list of known fields: each occurrence is compared too.
pub const OCCURRENCES: &str = "occurrences";
/// The field name of one occurrence: this, then its original start.
pub const OCCURRENCE: &str = "occurrence:";

/// The field names `known` stands for over these versions: its own, with `occurrences`
/// replaced by each occurrence any of them holds.
pub fn names(known: &[&str], versions: &[&Fields]) -> Vec<String> {
    let mut out: Vec<String> = known.iter().filter(|n| **n != OCCURRENCES).map(|n| n.to_string()).collect();
    if known.contains(&OCCURRENCES) {
        let keys: BTreeSet<&String> = versions.iter().flat_map(|v| v.occurrences.keys()).collect();
        out.extend(keys.into_iter().map(|k| format!("{OCCURRENCE}{k}")));
    }
    out
}

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
            RULE => self.recurrence.clone().into(),
            "attendees" => {
                // Compared as a set: the calendar may list them in another order.
                let mut a = self.attendees.clone();
                a.sort();
                a.dedup();
                a.into()
            }
            _ => match name.strip_prefix(OCCURRENCE).and_then(|k| self.occurrences.get(k)) {
                Some(o) => serde_json::to_value(o).unwrap_or_default(),
                None => serde_json::Value::Null,
            },
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
            "attendees" => self.attendees = other.attendees.clone(),
            RULE => self.recurrence = other.recurrence.clone(),
            _ => {
                if let Some(key) = name.strip_prefix(OCCURRENCE) {
                    match other.occurrences.get(key) {
                        Some(o) => self.occurrences.insert(key.to_string(), o.clone()),
                        None => self.occurrences.remove(key),
                    };
                }
            }
        }
    }

    /// The fields where `self` and `other` differ, among `known`.
    pub fn differing(&self, other: &Fields, known: &[&str]) -> Vec<String> {
        names(known, &[self, other]).into_iter().filter(|f| self.get(f) != other.get(f)).collect()
    }
}

/// What a merge made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub result: Fields,
    /// The fields taken from the remote side.
    pub from_remote: Vec<String>,
    /// The fields changed on both sides to different values.
    pub conflicting: Vec<String>,
    /// The fields changed locally that the remote side does not have yet.
    pub from_local: Vec<String>,
}

/// The parts of one field the merge compares one by one: the field itself; for an
/// occurrence, whether it is cancelled, its title and its times, as they read against the
/// version's own series (so a series retitled on one side and one occurrence moved on the
/// other keep both changes).
fn parts(f: &Fields, name: &str) -> Vec<serde_json::Value> {
    match name.strip_prefix(OCCURRENCE).and_then(|k| Some((k, crate::providers::write::parse_occurrence_key(k)?))) {
        Some((key, original)) => {
            let o = f.occurrences.get(key).cloned().unwrap_or_default();
            let (title, start, end) = o.resolve(original, &f.title, f.end - f.start);
            vec![o.cancelled.into(), title.into(), serde_json::json!([start, end])]
        }
        None => vec![f.get(name)],
    }
}

/// Sets field `name` of `result` to the merged parts (occurrences against `result`'s series,
/// which is merged first).
fn put(result: &mut Fields, name: &str, merged: &[serde_json::Value], remote: &Fields) {
    let Some((key, original)) = name.strip_prefix(OCCURRENCE).and_then(|k| Some((k, crate::providers::write::parse_occurrence_key(k)?))) else {
        result.take(name, remote);
        return;
    };
    let times: Option<(DateTime<Utc>, DateTime<Utc>)> = serde_json::from_value(merged[2].clone()).ok();
    let (start, end) = times.unwrap_or((original, original + (result.end - result.start)));
    let o = Occurrence::of(original, &result.title, result.end - result.start, merged[0] == true, merged[1].as_str().unwrap_or_default(), start, end);
    match o {
        Some(o) => result.occurrences.insert(key.to_string(), o),
        None => result.occurrences.remove(key),
    };
}

/// Merges `local` and `remote` from `base`, over the fields the calendar reports (`known`;
/// the others stay as they are locally). Conflicting fields go to `later`.
pub fn merge(base: &Fields, local: &Fields, remote: &Fields, known: &[&str], later: Side) -> Merge {
    let mut result = local.clone();
    let (mut from_remote, mut conflicting, mut from_local) = (Vec::new(), Vec::new(), Vec::new());
    // The series' own fields come first: occurrences read against the merged series.
    for f in names(known, &[base, local, remote]) {
        let (l, r, b) = (parts(local, &f), parts(remote, &f), parts(base, &f));
        let mut merged = l.clone();
        let (mut remote_taken, mut local_kept, mut clash) = (false, false, false);
        for i in 0..b.len() {
            match (l[i] != b[i], r[i] != b[i]) {
                (false, true) => {
                    merged[i] = r[i].clone();
                    remote_taken = true;
                }
                (true, false) => local_kept = true,
                (true, true) if l[i] != r[i] => {
                    clash = true;
                    match later {
                        Side::Remote => {
                            merged[i] = r[i].clone();
                            remote_taken = true;
                        }
                        Side::Local => local_kept = true,
                    }
                }
                _ => {}
            }
        }
        // A cancellation on one side and any change of the same occurrence on the other do
        // not combine: the occurrence goes whole to one side.
        let changed = |x: &Vec<serde_json::Value>| x != &b;
        let cancelled_apart = b.len() > 1 && l != r && ((l[0] != b[0] && changed(&r)) || (r[0] != b[0] && changed(&l)));
        if cancelled_apart {
            clash = true;
            match later {
                Side::Remote => {
                    merged[0] = r[0].clone();
                    remote_taken = true;
                }
                Side::Local => {
                    merged[0] = l[0].clone();
                    local_kept = true;
                    if merged[0] == true {
                        // Cancelled here: nothing of the calendar's change is taken.
                        remote_taken = false;
                    }
                }
            }
        }
        if remote_taken {
            put(&mut result, &f, &merged, remote);
            from_remote.push(f.clone());
        }
        if clash {
            conflicting.push(f.clone());
        }
        if local_kept {
            from_local.push(f);
        }
    }
    Merge { result, from_remote, conflicting, from_local }
}

/// For a conflict's outcome: which side each differing field took.
pub fn outcome(differing: &[String], from_remote: &[String]) -> BTreeMap<String, String> {
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
        Fields {
            title: title.into(),
            start: at(h),
            end: at(h + 1),
            location: location.map(str::to_string),
            description: None,
            attendees: Vec::new(),
            occurrences: BTreeMap::new(),
            recurrence: None,
        }
    }

    fn with(mut f: Fields, key: &str, o: Occurrence) -> Fields {
        f.occurrences.insert(key.into(), o);
        f
    }

    const ALL: [&str; 7] = ["title", "start", "end", "location", "description", "attendees", OCCURRENCES];

    #[test]
    fn occurrences_merge_one_by_one() {
        let base = fields("Standup", 9, None);
        let moved = Occurrence { start: Some(at(11)), end: Some(at(12)), ..Occurrence::default() };
        let cancelled = Occurrence { cancelled: true, ..Occurrence::default() };
        // The series retitled here, one occurrence moved there, another cancelled here.
        let local = with(fields("Daily standup", 9, None), "2026-12-09T09:00:00Z", cancelled.clone());
        let remote = with(base.clone(), "2026-12-10T09:00:00Z", moved.clone());
        let m = merge(&base, &local, &remote, &ALL, Side::Local);
        assert!(m.conflicting.is_empty());
        assert_eq!(m.result.title, "Daily standup");
        assert_eq!(m.result.occurrences.len(), 2);
        assert_eq!(m.result.occurrences["2026-12-10T09:00:00Z"], moved);
        assert_eq!(m.from_remote, vec!["occurrence:2026-12-10T09:00:00Z"]);
        // The moved occurrence takes the series' new title: both changes kept.
        assert_eq!(m.from_local, vec!["title", "occurrence:2026-12-09T09:00:00Z", "occurrence:2026-12-10T09:00:00Z"]);
        // The same occurrence changed differently on both sides is a conflict of its own.
        let remote = with(base.clone(), "2026-12-09T09:00:00Z", moved.clone());
        let m = merge(&base, &local, &remote, &ALL, Side::Remote);
        assert_eq!(m.conflicting, vec!["occurrence:2026-12-09T09:00:00Z"]);
        assert_eq!(m.result.occurrences["2026-12-09T09:00:00Z"], moved);
        assert_eq!(outcome(&m.conflicting, &m.from_remote)["occurrence:2026-12-09T09:00:00Z"], "remote");
        // Without `occurrences` among the known fields, they stay as they are locally.
        let m = merge(&base, &local, &remote, &NAMES, Side::Remote);
        assert_eq!(m.result.occurrences["2026-12-09T09:00:00Z"], cancelled);
    }

    #[test]
    fn an_occurrence_reads_against_its_series() {
        let len = chrono::Duration::hours(1);
        assert_eq!(Occurrence::of(at(9), "Standup", len, false, "Standup", at(9), at(10)), None);
        let o = Occurrence::of(at(9), "Standup", len, false, "Standup", at(11), at(12)).unwrap();
        assert_eq!((o.start, o.end, o.title.as_deref()), (Some(at(11)), Some(at(12)), None));
        assert_eq!(o.resolve(at(9), "Anything", len), ("Anything".to_string(), at(11), at(12)));
        assert!(Occurrence::of(at(9), "Standup", len, true, "x", at(9), at(10)).unwrap().cancelled);
        assert_eq!(crate::providers::write::parse_occurrence_key("20261202T090000Z"), Some(at(9)));
        assert_eq!(crate::providers::write::parse_occurrence_key("2026-12-02T10:00:00+01:00"), Some(at(9)));
        assert_eq!(crate::providers::write::occurrence_key(at(9)), "2026-12-02T09:00:00Z");
    }

    #[test]
    fn one_sided_changes_are_taken_from_their_side() {
        let base = fields("Review", 9, Some("Room 1"));
        let local = fields("Design review", 9, Some("Room 1"));
        let remote = fields("Review", 11, Some("Room 1"));
        let m = merge(&base, &local, &remote, &NAMES, Side::Local);
        assert_eq!(m.result, fields("Design review", 11, Some("Room 1")));
        assert_eq!((m.from_remote, m.conflicting, m.from_local), (vec!["start".to_string(), "end".into()], vec![], vec!["title".to_string()]));
    }

    #[test]
    fn a_field_changed_on_both_sides_goes_to_the_later_side() {
        let base = fields("Review", 9, None);
        let local = fields("Local title", 9, None);
        let remote = fields("Remote title", 9, Some("Room 2"));
        let m = merge(&base, &local, &remote, &NAMES, Side::Remote);
        assert_eq!(m.conflicting, vec!["title"]);
        assert_eq!(m.result, fields("Remote title", 9, Some("Room 2")));
        // The outcome says the title went to the calendar's side.
        assert_eq!(outcome(&["title".to_string(), "location".to_string()], &m.from_remote)["title"], "remote");
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
