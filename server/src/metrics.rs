//! Prometheus metrics: counters and histograms this process keeps (sync runs, provider
//! requests, pushes of bookings' copies, exports, sign-in failures) and gauges read from the
//! database at each scrape (calendars by status, the scheduler's queue and lag, bookings'
//! copies by state, conflicts by state), so every process reports the same.
use std::sync::LazyLock;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use prometheus::{Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::db::schema::{booking_copies as bc, calendar_integrations as ci, conflicts as cf, sync_states as ss};
use crate::db::Conn;
use crate::domain::{integrations::IntegrationType, now, Result};
use crate::run;

struct Metrics {
    registry: Registry,
    runs: IntCounterVec,
    run_seconds: HistogramVec,
    events: IntCounterVec,
    throttled_seconds: prometheus::CounterVec,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    pushes: IntCounterVec,
    exports: IntCounterVec,
    sign_in_failures: IntCounter,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("metric");
    r.register(Box::new(c.clone())).expect("register");
    c
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("metric");
    r.register(Box::new(h.clone())).expect("register");
    h
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let r = Registry::new();
    let throttled =
        prometheus::CounterVec::new(Opts::new("calsync_sync_throttled_seconds_total", "Time sync runs waited for provider rate limits."), &["provider"])
            .expect("metric");
    r.register(Box::new(throttled.clone())).expect("register");
    let sign_in_failures =
        IntCounter::new("calsync_sign_in_failures_total", "Sign-ins refused: wrong credentials, disabled accounts, throttled attempts.").expect("metric");
    r.register(Box::new(sign_in_failures.clone())).expect("register");
    Metrics {
        runs: counter(&r, "calsync_sync_runs_total", "Finished sync runs by provider and outcome (success, failed, held).", &["provider", "outcome"]),
        run_seconds: histogram(&r, "calsync_sync_run_duration_seconds", "How long sync runs took.", &["provider"], vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]),
        events: counter(&r, "calsync_sync_events_total", "Event instances changed by sync runs.", &["provider", "change"]),
        throttled_seconds: throttled,
        requests: counter(&r, "calsync_provider_requests_total", "Requests to providers and feed hosts by answer status (\"error\": no answer).", &["provider", "status"]),
        request_seconds: histogram(&r, "calsync_provider_request_duration_seconds", "Time to a provider's answer.", &["provider"], vec![0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        pushes: counter(&r, "calsync_push_requests_total", "Writes of bookings' copies into calendars by provider and outcome (written, deleted, failed, changed: refused because the copy changed in the calendar).", &["provider", "outcome"]),
        exports: counter(&r, "calsync_export_requests_total", "Requests for .ics export feeds by kind and result (served, not_modified, not_found).", &["kind", "result"]),
        sign_in_failures,
        registry: r,
    }
});

/// The short provider label of a calendar type.
pub fn provider_label(t: IntegrationType) -> &'static str {
    match t {
        IntegrationType::Google => "google",
        IntegrationType::Outlook => "outlook",
        IntegrationType::Ical => "ical",
    }
}

/// A run ended: its outcome, duration, changes and time spent waiting for rate limits.
pub fn run_finished(t: IntegrationType, run: &crate::sync::Run) {
    let m = &*METRICS;
    let provider = provider_label(t);
    let outcome = if run.held {
        "held"
    } else if run.status == crate::sync::runs::RUN_SUCCESS {
        "success"
    } else {
        "failed"
    };
    m.runs.with_label_values(&[provider, outcome]).inc();
    if let Some(ms) = run.duration_ms {
        m.run_seconds.with_label_values(&[provider]).observe(ms as f64 / 1000.0);
    }
    for (change, n) in [("created", run.created_count), ("updated", run.updated_count), ("deleted", run.deleted_count)] {
        if n > 0 {
            m.events.with_label_values(&[provider, change]).inc_by(n as u64);
        }
    }
    if run.throttled_ms > 0 {
        m.throttled_seconds.with_label_values(&[provider]).inc_by(run.throttled_ms as f64 / 1000.0);
    }
}

/// One request to a provider or feed host: its status (`None`: no answer) and latency.
/// Makes the provider side report its requests here (idempotent).
pub fn install() {
    crate::providers::observe::set(provider_request);
}

pub fn provider_request(provider: &str, status: Option<u16>, elapsed: Duration) {
    let m = &*METRICS;
    let status = status.map(|s| s.to_string());
    m.requests.with_label_values(&[provider, status.as_deref().unwrap_or("error")]).inc();
    m.request_seconds.with_label_values(&[provider]).observe(elapsed.as_secs_f64());
}

/// `calsync_booking_copies{state="left"}`: copies no longer kept up to date (their note says
/// why).
pub const COPY_LEFT: &str = "left";

/// The outcomes of a push, as `calsync_push_requests_total` labels them.
pub const PUSH_OUTCOMES: [&str; 4] = ["written", "deleted", "failed", "changed"];

/// A write of a booking's copy into a calendar ended (`outcome`: one of [`PUSH_OUTCOMES`]).
pub fn push_request(t: IntegrationType, outcome: &str) {
    METRICS.pushes.with_label_values(&[provider_label(t), outcome]).inc();
}

pub fn export_request(kind: &str, result: &str) {
    METRICS.exports.with_label_values(&[kind, result]).inc();
}

pub fn sign_in_failed() {
    METRICS.sign_in_failures.inc();
}

/// The scrape: this process's metrics and the database's gauges, in Prometheus text format.
pub async fn render(conn: &mut Conn<'_>) -> Result<String> {
    let at = now();
    let gauges = Registry::new();
    let calendars =
        IntGaugeVec::new(Opts::new("calsync_calendars", "Calendars by provider and sync status (inactive ones as \"Inactive\")."), &["provider", "status"])
            .expect("metric");
    let queue =
        IntGauge::new("calsync_scheduler_queue_length", "Calendars waiting to sync: queued by hand or push, or due and not yet started.").expect("metric");
    let lag = Gauge::new("calsync_scheduler_lag_seconds", "How late the most overdue waiting calendar is.").expect("metric");
    let copies = IntGaugeVec::new(Opts::new("calsync_booking_copies", "Copies of bookings in calendars by the calendar's provider (\"removed\": its record was removed) and state (pending, written, failed; \"left\": no longer kept up to date, the copy's note says why)."), &["provider", "state"]).expect("metric");
    let conflicts = IntGaugeVec::new(
        Opts::new("calsync_conflicts", "Conflicts between bookings and their copies by state (open: waiting for a person, decided, resolved)."),
        &["state"],
    )
    .expect("metric");
    for m in [
        Box::new(calendars.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(queue.clone()),
        Box::new(lag.clone()),
        Box::new(copies.clone()),
        Box::new(conflicts.clone()),
    ] {
        gauges.register(m).expect("register");
    }
    let rows: Vec<(String, String, bool, i64)> = run!(conn, |c| ci::table
        .group_by((ci::integration_type, ci::sync_status, ci::is_active))
        .select((ci::integration_type, ci::sync_status, ci::is_active, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    for (t, status, active, n) in rows {
        let provider = IntegrationType::parse(&t).map(provider_label).unwrap_or("other");
        let status = if active { status.as_str() } else { "Inactive" };
        calendars.with_label_values(&[provider, status]).add(n);
    }
    let queued: i64 = run!(conn, |c| ss::table.filter(ss::queued_at.is_not_null()).count().get_result(c).await)?;
    let waiting = || ss::scheduled.eq(true).and(ss::lease_until.is_null()).and(ss::queued_at.is_null()).and(ss::due_at.is_null().or(ss::due_at.le(at)));
    let due: i64 = run!(conn, |c| ss::table.filter(waiting()).count().get_result(c).await)?;
    let oldest: Option<chrono::NaiveDateTime> = run!(conn, |c| ss::table.filter(waiting()).select(diesel::dsl::min(ss::due_at)).first(c).await)?;
    let oldest_queued: Option<chrono::NaiveDateTime> = run!(conn, |c| ss::table.select(diesel::dsl::min(ss::queued_at)).first(c).await)?;
    queue.set(queued + due);
    let late = [oldest, oldest_queued].into_iter().flatten().min().map(|t| (at - t).num_milliseconds().max(0) as f64 / 1000.0).unwrap_or(0.0);
    lag.set(late);

    // Bookings' copies: counted per calendar and state in one table, then named by provider
    // (the calendars written to are few: one per member at most). A copy with a note is no
    // longer kept up to date (deleted with its booking, or left in a calendar no longer
    // written to): "left", whatever it last was, so that pending and failed are the live queue.
    use crate::domain::{conflicts as cfs, push_queue as bcs};
    for provider in [IntegrationType::Google, IntegrationType::Outlook].map(provider_label) {
        for state in [bcs::PENDING, bcs::WRITTEN, bcs::FAILED, COPY_LEFT] {
            copies.with_label_values(&[provider, state]).set(0);
        }
    }
    let mut per_calendar: Vec<(Option<i64>, String, i64)> = run!(conn, |c| bc::table
        .filter(bc::note.is_null())
        .group_by((bc::integration_id, bc::state))
        .select((bc::integration_id, bc::state, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    let left: Vec<(Option<i64>, i64)> = run!(conn, |c| bc::table
        .filter(bc::note.is_not_null())
        .group_by(bc::integration_id)
        .select((bc::integration_id, diesel::dsl::count_star()))
        .load(c)
        .await)?;
    per_calendar.extend(left.into_iter().map(|(id, n)| (id, COPY_LEFT.to_string(), n)));
    let ids: Vec<i64> = per_calendar.iter().filter_map(|r| r.0).collect();
    let types: Vec<(i64, String)> = run!(conn, |c| ci::table.filter(ci::id.eq_any(&ids)).select((ci::id, ci::integration_type)).load(c).await)?;
    for (integration_id, state, n) in per_calendar {
        let provider = match integration_id.and_then(|id| types.iter().find(|(i, _)| *i == id)) {
            Some((_, t)) => IntegrationType::parse(t).map(provider_label).unwrap_or("other"),
            None => "removed",
        };
        copies.with_label_values(&[provider, state.as_str()]).add(n);
    }
    for state in cfs::ConflictState::ALL {
        conflicts.with_label_values(&[state.as_str()]).set(0);
    }
    let by_state: Vec<(String, i64)> = run!(conn, |c| cf::table.group_by(cf::state).select((cf::state, diesel::dsl::count_star())).load(c).await)?;
    for (state, n) in by_state {
        conflicts.with_label_values(&[state.as_str()]).add(n);
    }

    let mut families = METRICS.registry.gather();
    families.extend(gauges.gather());
    let mut out = Vec::new();
    TextEncoder::new().encode(&families, &mut out).map_err(|e| crate::domain::Error::Internal(e.to_string()))?;
    String::from_utf8(out).map_err(|e| crate::domain::Error::Internal(e.to_string()))
}
