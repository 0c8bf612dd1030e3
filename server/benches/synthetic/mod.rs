//! The synthetic feed the benchmarks share (server/benches/sync.rs, app/benches/operations.rs).
use chrono::{Duration as Days, Utc};

pub const ZONES: [&str; 3] = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"];
pub const PAST_DAYS: i64 = 30;
pub const FUTURE_DAYS: i64 = 340;

/// A deterministic feed: `events` VEVENTs from 30 days ago over the next 330 days; every
/// fifth is weekly until the end of that span, every tenth of those has two EXDATEs and every
/// twentieth an override; times in three zones.
pub fn synthetic_feed(events: usize, span_days: i64, recurring_every: usize) -> String {
    let start = Utc::now().date_naive() - Days::days(PAST_DAYS);
    let end = start + Days::days(span_days);
    let mut out = String::with_capacity(events * 260);
    out.push_str("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync bench//EN\r\n");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    for i in 0..events {
        let zone = ZONES[i % 3];
        let day = start + Days::days(next(span_days as u64) as i64);
        let hour = 7 + next(11);
        let minute = [0, 15, 30, 45][next(4) as usize];
        let local = format!("{}T{hour:02}{minute:02}00", day.format("%Y%m%d"));
        let length = 30 + 15 * next(6);
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:bench-{i}@calsync\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID={zone}:{local}\r\nDURATION:PT{length}M\r\n\
             SUMMARY:Synthetic meeting {i}\r\nLOCATION:Room {}\r\nDESCRIPTION:Generated for the sync benchmark\\, event {i}.\r\n",
            next(40)
        ));
        let recurring = recurring_every > 0 && i % recurring_every == 0;
        if recurring {
            out.push_str(&format!("RRULE:FREQ=WEEKLY;UNTIL={}T235959Z\r\n", end.format("%Y%m%d")));
            if i % (recurring_every * 10) == 0 {
                let ex1 = day + Days::days(7);
                let ex2 = day + Days::days(21);
                out.push_str(&format!(
                    "EXDATE;TZID={zone}:{}T{hour:02}{minute:02}00,{}T{hour:02}{minute:02}00\r\n",
                    ex1.format("%Y%m%d"),
                    ex2.format("%Y%m%d")
                ));
            }
        }
        out.push_str("END:VEVENT\r\n");
        if recurring && i % (recurring_every * 20) == 0 {
            let original = day + Days::days(14);
            out.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:bench-{i}@calsync\r\nRECURRENCE-ID;TZID={zone}:{}T{hour:02}{minute:02}00\r\nDTSTART;TZID={zone}:{}T{:02}{minute:02}00\r\n\
                 DURATION:PT{length}M\r\nSUMMARY:Synthetic meeting {i} (moved)\r\nEND:VEVENT\r\n",
                original.format("%Y%m%d"),
                original.format("%Y%m%d"),
                (hour + 1).min(23)
            ));
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}
