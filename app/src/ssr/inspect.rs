//! `calsync ical inspect`: which instances a feed yields in a window, as a table or JSON,
//! each with its kind and whether it blocks time under the default rules. What a support
//! person runs when a user asks "why am I busy?".
use std::io::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use server::config::Config;
use server::events::{Instance, When};
use server::ical;
use server::providers::fetch::{FeedClient, Fetched, Validators};

use super::cli::Failure;

pub struct Inspect {
    pub source: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: String,
    pub json: bool,
    /// The owner's addresses, for invitations' answers.
    pub me: Vec<String>,
}

/// What the table and the JSON judge by: the rules every calendar starts with.
static DEFAULTS: std::sync::LazyLock<server::busy::Rules> = std::sync::LazyLock::new(server::busy::Rules::default);

fn usage(message: String) -> Failure {
    Failure { code: 2, message }
}

fn work(message: String) -> Failure {
    Failure { code: 1, message }
}

/// A date (midnight in `tz`) or an RFC 3339 instant.
fn instant(arg: &str, value: &str, tz: Tz) -> Result<DateTime<Utc>, Failure> {
    When::parse_bound(value, tz).ok_or_else(|| usage(format!("{arg} {value:?}: expected a date (2026-05-04) or an RFC 3339 instant (2026-05-04T09:00:00Z)")))
}

async fn read_source(config: &Config, source: &str) -> Result<Vec<u8>, Failure> {
    let lower = source.trim().to_ascii_lowercase();
    if ["http://", "https://", "webcal://"].iter().any(|p| lower.starts_with(p)) {
        let client = FeedClient::new(config.sync.feeds.clone());
        return match client.get(source, &Validators::default()).await {
            Ok(Fetched::Body { bytes, .. }) => Ok(bytes),
            Ok(Fetched::NotModified) => Err(work("the server answered 304 Not Modified to an unconditional request".into())),
            Err(e) => Err(work(e.to_string())),
        };
    }
    std::fs::read(source).map_err(|e| work(format!("cannot read {source}: {e}")))
}

pub async fn run(config: Config, args: Inspect) -> Result<(), Failure> {
    let tz: Tz = args.tz.parse().map_err(|_| usage(format!("--tz {:?} is not an IANA time zone such as Europe/Berlin", args.tz)))?;
    // The default sync window, as the engine computes it for a calendar with default settings.
    let default = server::sync::default_window(server::domain::now());
    let from = match &args.from {
        Some(v) => instant("--from", v, tz)?,
        None => default.from,
    };
    let to = match &args.to {
        Some(v) => instant("--to", v, tz)?,
        None => default.to,
    };
    if to <= from {
        return Err(usage("--to must be after --from".into()));
    }
    let bytes = read_source(&config, &args.source).await?;
    let mut calendar = ical::parse(&bytes).map_err(|e| match e.line {
        Some(line) if !e.cut_off => work(format!("line {line}: {}", e.message)),
        _ => work(e.message),
    })?;
    let events = calendar.events.len();
    calendar.set_owner(&server::busy::Owner::new(&args.me));
    let budget = ical::Budget::new(config.sync.max_steps, None);
    let expanded = ical::expand_within(&mut calendar, ical::Options { from, to, floating: tz, max_instances: config.sync.max_instances }, &budget);
    for warning in &expanded.warnings {
        eprintln!("warning: {warning}");
    }
    let failed = |e: std::io::Error| work(format!("cannot write the output: {e}"));
    let mut stdout = std::io::stdout().lock();
    if args.json {
        // The second half is formatted on another thread while the first is written.
        let (first, second) = expanded.instances.split_at(expanded.instances.len() / 2);
        std::thread::scope(|scope| {
            let later = scope.spawn(|| {
                let mut buf = Vec::with_capacity(second.len() * 240);
                write_json_items(&mut buf, second, !first.is_empty()).map(|_| buf)
            });
            stdout.write_all(b"[")?;
            write_json_items(&mut stdout, first, false)?;
            let rest = later.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?;
            stdout.write_all(&rest)?;
            stdout.write_all(b"\n]\n")
        })
        .map_err(failed)?;
    } else {
        let mut out = String::new();
        write_table(&mut out, &expanded.instances, tz);
        out.push_str(&format!(
            "\n{} instance(s) of {events} event(s) from {} to {} (times in {})\n",
            expanded.instances.len(),
            from.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            to.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            tz.name()
        ));
        stdout.write_all(out.as_bytes()).map_err(failed)?;
    }
    stdout.flush().map_err(failed)?;
    // The process ends now: freeing a feed's worth of small allocations one by one would only
    // delay the exit.
    std::mem::forget(expanded);
    std::mem::forget(calendar);
    std::mem::forget(bytes);
    Ok(())
}

/// One JSON array is `[`, these items, `\n]\n` (written by hand: this is the fast path the
/// benchmark measures). The objects of `instances`, each after a line break (and a comma when `comma_first` or
/// not the first), in pieces of about 256 KB: the whole answer is tens of megabytes, and
/// memory touched once costs more here than the writes.
fn write_json_items(sink: &mut impl Write, instances: &[Instance], comma_first: bool) -> std::io::Result<()> {
    const PIECE: usize = 256 * 1024;
    let mut buf = String::with_capacity(PIECE + 4096);
    let out = &mut buf;
    for (n, i) in instances.iter().enumerate() {
        if n > 0 || comma_first {
            out.push(',');
        }
        if out.len() >= PIECE {
            sink.write_all(out.as_bytes())?;
            out.clear();
        }
        out.push_str("\n{\"uid\":");
        json_str(out, &i.uid);
        out.push_str(",\"recurrence_id\":");
        match &i.recurrence_id {
            Some(r) => quoted(out, r),
            None => out.push_str("null"),
        }
        out.push_str(",\"start\":");
        quoted(out, &i.start);
        out.push_str(",\"end\":");
        quoted(out, &i.end);
        out.push_str(",\"all_day\":");
        out.push_str(if i.start.is_date() { "true" } else { "false" });
        out.push_str(",\"kind\":\"");
        out.push_str(i.kind.as_str());
        out.push_str("\",\"blocks\":");
        out.push_str(if i.blocks(&DEFAULTS) { "true" } else { "false" });
        out.push_str(",\"status\":\"");
        out.push_str(i.status.as_str());
        out.push_str("\",\"summary\":");
        json_str(out, &i.summary);
        out.push_str(",\"tzid\":");
        match &i.tzid {
            Some(z) => json_str(out, z),
            None => out.push_str("null"),
        }
        out.push('}');
    }
    sink.write_all(out.as_bytes())
}

fn quoted(out: &mut String, w: &When) {
    out.push('"');
    w.write(out);
    out.push('"');
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    // Most strings need no escaping: one pass that the compiler can vectorise, then a copy.
    if !s.bytes().fold(false, |any, b| any | (b < 0x20) | (b == b'"') | (b == b'\\')) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn local(w: &When, tz: Tz) -> String {
    match w {
        When::At(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        When::Date(d) => d.format("%Y-%m-%d").to_string(),
    }
}

fn write_table(out: &mut String, instances: &[Instance], tz: Tz) {
    if instances.is_empty() {
        out.push_str("no instances in the window\n");
        return;
    }
    out.push_str(&format!("{:<16}  {:<16}  {:<6}  {:<17}  {:<9}  {:<30}  {}\n", "START", "END", "BLOCKS", "KIND", "STATUS", "SUMMARY", "UID [RECURRENCE-ID]"));
    for i in instances {
        let (start, end) = match (&i.start, &i.end) {
            (When::Date(s), When::Date(e)) => {
                let last = *e - chrono::Duration::days(1);
                (format!("{s} all day"), if last > *s { format!("{last} all day") } else { String::new() })
            }
            _ => (local(&i.start, tz), local(&i.end, tz)),
        };
        let summary: String = i.summary.chars().take(30).collect();
        let rid = i.recurrence_id.map(|r| format!(" [{r}]")).unwrap_or_default();
        out.push_str(&format!(
            "{start:<16}  {end:<16}  {:<6}  {:<17}  {:<9}  {summary:<30}  {}{rid}\n",
            if i.blocks(&DEFAULTS) { "yes" } else { "no" },
            i.kind.as_str(),
            i.status.as_str(),
            i.uid
        ));
    }
}
