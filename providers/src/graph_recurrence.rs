//! An RRULE as Microsoft Graph's `patternedRecurrence` (`pattern` + `range`), for writing a
//! recurring booking into Outlook. Graph holds daily, weekly, monthly and yearly patterns
//! (absolute or "the 2nd Tuesday"), ending by a date, a count, or never; a rule outside that
//! (BYHOUR, several month days, …) is refused with what Outlook cannot hold.
use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// Graph's `patternedRecurrence`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternedRecurrence {
    pub pattern: Pattern,
    pub range: Range,
}

/// Graph's `recurrencePattern`: only the fields its `type` uses are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pattern {
    #[serde(rename = "type")]
    pub kind: String,
    pub interval: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_of_week: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_day_of_week: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day_of_month: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<u32>,
}

/// Graph's `recurrenceRange`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub start_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_occurrences: Option<u32>,
    pub recurrence_time_zone: &'static str,
}

const DAYS: [(&str, &str); 7] =
    [("MO", "monday"), ("TU", "tuesday"), ("WE", "wednesday"), ("TH", "thursday"), ("FR", "friday"), ("SA", "saturday"), ("SU", "sunday")];
const INDEX: [(i32, &str); 5] = [(1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (-1, "last")];

fn day_name(code: &str) -> Option<&'static str> {
    DAYS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

fn weekday_name(d: Weekday) -> &'static str {
    DAYS[d.num_days_from_monday() as usize].1
}

/// `2TU` → (Some(2), "tuesday"); `TU` → (None, "tuesday").
fn by_day(item: &str) -> Option<(Option<i32>, &'static str)> {
    let split = item.len().checked_sub(2)?;
    let (n, code) = item.split_at(split);
    let name = day_name(code)?;
    if n.is_empty() || n == "+" {
        return Some((None, name));
    }
    Some((Some(n.trim_start_matches('+').parse().ok()?), name))
}

/// The recurrence of a series starting at `start` in `tz`, or why Outlook cannot hold it.
pub fn to_graph(rule: &str, start: DateTime<Utc>, tz: Tz) -> Result<PatternedRecurrence, String> {
    let refuse = |why: &str| format!("Outlook cannot hold the recurrence '{rule}': {why}.");
    let body = rule.trim().strip_prefix("RRULE:").ok_or_else(|| refuse("it is not an RRULE"))?;
    let mut parts: Vec<(String, String)> = Vec::new();
    for p in body.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').ok_or_else(|| refuse("a part has no value"))?;
        parts.push((k.to_ascii_uppercase(), v.to_string()));
    }
    let get = |k: &str| parts.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    if let Some((k, _)) =
        parts.iter().find(|(k, _)| !matches!(k.as_str(), "FREQ" | "INTERVAL" | "COUNT" | "UNTIL" | "BYDAY" | "BYMONTHDAY" | "BYMONTH" | "BYSETPOS" | "WKST"))
    {
        return Err(refuse(&format!("{k} has no Outlook equivalent")));
    }
    let local = start.with_timezone(&tz);
    let interval: i64 = get("INTERVAL").map(|i| i.parse().map_err(|_| refuse("INTERVAL is not a number"))).transpose()?.unwrap_or(1);
    let days: Vec<(Option<i32>, &str)> = match get("BYDAY") {
        Some(list) => list.split(',').map(|d| by_day(d.trim()).ok_or_else(|| refuse(&format!("BYDAY '{d}' is not a day")))).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let set_pos: Option<i32> = get("BYSETPOS").map(|p| p.parse().map_err(|_| refuse("BYSETPOS is not a number"))).transpose()?;
    let month_day: Option<u32> = match get("BYMONTHDAY") {
        Some(d) if d.contains(',') => return Err(refuse("several days of the month")),
        Some(d) => Some(d.parse().ok().filter(|n| (1..=31).contains(n)).ok_or_else(|| refuse("BYMONTHDAY must be one day from 1 to 31"))?),
        None => None,
    };
    let month: Option<u32> = match get("BYMONTH") {
        Some(m) if m.contains(',') => return Err(refuse("several months")),
        Some(m) => Some(m.parse().ok().filter(|n| (1..=12).contains(n)).ok_or_else(|| refuse("BYMONTH must be one month from 1 to 12"))?),
        None => None,
    };
    let first_day = get("WKST").map(|w| day_name(w).ok_or_else(|| refuse("WKST is not a day"))).transpose()?.unwrap_or("monday");
    // "The 2nd Tuesday": BYDAY=2TU, or BYDAY=TU;BYSETPOS=2.
    let relative = || -> Result<(Vec<&str>, &str), String> {
        let index = match (days.as_slice(), set_pos) {
            ([(Some(n), _)], None) => *n,
            (d, Some(p)) if !d.is_empty() && d.iter().all(|(n, _)| n.is_none()) => p,
            _ => return Err(refuse("only one numbered weekday (such as 2TU) is possible")),
        };
        let name = INDEX.iter().find(|(n, _)| *n == index).map(|(_, s)| *s).ok_or_else(|| refuse("the position must be 1 to 4 or -1"))?;
        Ok((days.iter().map(|(_, d)| *d).collect(), name))
    };
    let mut pattern = Pattern { interval, ..Pattern::default() };
    match get("FREQ").unwrap_or("") {
        "DAILY" if days.is_empty() && month_day.is_none() && month.is_none() => {
            pattern.kind = "daily".into();
        }
        "WEEKLY" if month_day.is_none() && month.is_none() && set_pos.is_none() && days.iter().all(|(n, _)| n.is_none()) => {
            let list: Vec<&str> = if days.is_empty() { vec![weekday_name(local.weekday())] } else { days.iter().map(|(_, d)| *d).collect() };
            pattern.kind = "weekly".into();
            pattern.days_of_week = Some(list);
            pattern.first_day_of_week = Some(first_day);
        }
        "MONTHLY" | "YEARLY" if month.is_none() || get("FREQ") == Some("YEARLY") => {
            let yearly = get("FREQ") == Some("YEARLY");
            let kind = if days.is_empty() {
                pattern.day_of_month = Some(month_day.unwrap_or(local.day()));
                "absolute"
            } else if month_day.is_none() {
                let (list, index) = relative()?;
                pattern.days_of_week = Some(list);
                pattern.index = Some(index);
                "relative"
            } else {
                return Err(refuse("a day of the month and a weekday together"));
            };
            if yearly {
                pattern.month = Some(month.unwrap_or(local.month()));
            }
            pattern.kind = format!("{kind}{}", if yearly { "Yearly" } else { "Monthly" });
        }
        other => return Err(refuse(&format!("FREQ={other} with these parts has no Outlook equivalent"))),
    }
    let start_date = local.date_naive().to_string();
    let range = |kind, end_date, number_of_occurrences| Range {
        kind,
        start_date: start_date.clone(),
        end_date,
        number_of_occurrences,
        recurrence_time_zone: tz.name(),
    };
    let range = match (get("COUNT"), get("UNTIL")) {
        (Some(_), Some(_)) => return Err(refuse("COUNT and UNTIL together")),
        (Some(n), None) => {
            let n: u32 = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| refuse("COUNT must be a positive number"))?;
            range("numbered", None, Some(n))
        }
        (None, Some(u)) => {
            let end = until_date(u, tz).ok_or_else(|| refuse("UNTIL is not a date"))?;
            range("endDate", Some(end), None)
        }
        (None, None) => range("noEnd", None, None),
    };
    Ok(PatternedRecurrence { pattern, range })
}

/// UNTIL (a date, or a UTC time) as the local date it ends on.
fn until_date(u: &str, tz: Tz) -> Option<String> {
    if u.len() == 8 {
        return chrono::NaiveDate::parse_from_str(u, "%Y%m%d").ok().map(|d| d.to_string());
    }
    let t = chrono::NaiveDateTime::parse_from_str(u.trim_end_matches('Z'), "%Y%m%dT%H%M%S").ok()?;
    Some(t.and_utc().with_timezone(&tz).date_naive().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{json, Value};

    /// What Graph is sent.
    fn to_json(rule: &str, tz: Tz) -> Value {
        serde_json::to_value(to_graph(rule, start(), tz).unwrap()).unwrap()
    }

    fn start() -> DateTime<Utc> {
        // Wednesday 2 December 2026, 10:00 in Berlin.
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
    }

    #[test]
    fn weekly_with_count() {
        let v = to_json("RRULE:FREQ=WEEKLY;COUNT=10", chrono_tz::Europe::Berlin);
        assert_eq!(v["pattern"], json!({"type": "weekly", "interval": 1, "daysOfWeek": ["wednesday"], "firstDayOfWeek": "monday"}));
        assert_eq!(v["range"], json!({"type": "numbered", "startDate": "2026-12-02", "numberOfOccurrences": 10, "recurrenceTimeZone": "Europe/Berlin"}));
    }

    #[test]
    fn relative_monthly_and_until() {
        let v = to_json("RRULE:FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2;UNTIL=20270630T220000Z", chrono_tz::Europe::Berlin);
        assert_eq!(v["pattern"], json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "second"}));
        assert_eq!(v["range"]["endDate"], "2027-07-01");
        let v = to_json("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", chrono_tz::UTC);
        assert_eq!(v["pattern"], json!({"type": "relativeYearly", "interval": 1, "daysOfWeek": ["sunday"], "index": "last", "month": 3}));
        assert_eq!(v["range"]["type"], "noEnd");
    }

    #[test]
    fn daily_and_absolute() {
        assert_eq!(to_json("RRULE:FREQ=DAILY;INTERVAL=2", chrono_tz::UTC)["pattern"], json!({"type": "daily", "interval": 2}));
        assert_eq!(to_json("RRULE:FREQ=MONTHLY", chrono_tz::UTC)["pattern"], json!({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 2}));
    }

    #[test]
    fn refuses_what_outlook_cannot_hold() {
        let e = to_graph("RRULE:FREQ=DAILY;BYHOUR=9,17", start(), chrono_tz::UTC).unwrap_err();
        assert_eq!(e, "Outlook cannot hold the recurrence 'RRULE:FREQ=DAILY;BYHOUR=9,17': BYHOUR has no Outlook equivalent.");
        assert!(to_graph("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", start(), chrono_tz::UTC).unwrap_err().contains("several days of the month"));
        assert!(to_graph("RRULE:FREQ=HOURLY", start(), chrono_tz::UTC).unwrap_err().contains("FREQ=HOURLY"));
    }
}
