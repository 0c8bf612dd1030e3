//! What the provider benchmarks (google.rs, outlook.rs) share: their figures and how they print.
use std::time::Duration;

/// Resident memory high-water mark of this process, in MB.
pub fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub struct Figures {
    pub label: &'static str,
    pub full_run: Duration,
    pub full_fetch: Duration,
    pub instances: i32,
    pub incremental_fetch: Duration,
    pub incremental_run: Duration,
    pub bare: Duration,
    pub peak_growth: f64,
}

/// The table: `title` heads it, `fetch_label` names the adapter's full fetch.
pub fn print(title: &str, fetch_label: &str, runs: &[Figures]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!();
    println!("| {title} | figure | target | ratio |");
    println!("|---|---|---|---|");
    for f in runs {
        println!(
            "| full sync, claim to close, {} ({} instances stored) | {:.0} ms | ≤ 1,500 ms | {:.2}× |",
            f.label,
            f.instances,
            ms(f.full_run),
            ms(f.full_run) / 1500.0
        );
        println!("| {fetch_label} | {:.0} ms | | |", ms(f.full_fetch));
        println!(
            "| no-change incremental fetch / bare round trip, {} (median of 30) | {:.2} ms / {:.2} ms | ≤ 3× | {:.2}× |",
            f.label,
            ms(f.incremental_fetch),
            ms(f.bare),
            ms(f.incremental_fetch) / ms(f.bare)
        );
        println!(
            "| no-change run, claim to close, {} (median of 30) | {:.1} ms | ≤ 50 ms | {:.2}× |",
            f.label,
            ms(f.incremental_run),
            ms(f.incremental_run) / 50.0
        );
        println!("| peak memory growth during the full sync, {} | {:.0} MB | ≤ 150 MB | {:.2}× |", f.label, f.peak_growth, f.peak_growth / 150.0);
    }
}
