//! The engine's settings (from the configuration) and the sync window they give a calendar.
use super::*;

#[derive(Debug, Clone)]
pub struct Settings {
    /// How often the scheduler looks for due calendars.
    pub tick: std::time::Duration,
    /// How many calendars one process syncs at once.
    pub concurrency: usize,
    /// How long a claim lasts; a crashed process's claims are taken over after it.
    pub lease: Duration,
    /// The most instances one calendar may expand to.
    pub max_instances: usize,
    /// The most recurrence steps one feed may walk (before the window too).
    pub max_steps: usize,
    /// How long reading one feed (parsing and expanding) may take.
    pub read_deadline: std::time::Duration,
    /// The largest feed body kept for re-expanding after a 304 when the window moved.
    pub cursor_body_max: usize,
    /// On shutdown, how long running syncs may finish before they are interrupted.
    pub shutdown_grace: std::time::Duration,
    pub feeds: FeedLimits,
    /// The deletion guard's thresholds.
    pub mass_delete: MassDelete,
    /// Where Google is (`CALSYNC_GOOGLE_*_URL`).
    pub google: crate::providers::google::Endpoints,
    /// Where Microsoft is (`CALSYNC_MICROSOFT_*`).
    pub outlook: crate::providers::outlook::Endpoints,
    /// calsync's request budget per Microsoft mailbox (Outlook's documented limit).
    pub outlook_mailbox_rate: crate::providers::pace::Rate,
    /// The public address providers push notifications to (`…/webhooks/google`); `None`:
    /// no push channels, polling and the daily full sync only (`CALSYNC_WEBHOOKS`).
    pub webhook_base: Option<String>,
    /// How long one request to a provider's API may take.
    pub provider_timeout: std::time::Duration,
    /// A full sync of each provider calendar at least this often (the repair run).
    pub repair_every: std::time::Duration,
    /// calsync's request budgets at Google: the whole project's, and each account's.
    pub google_project_rate: crate::providers::pace::Rate,
    pub google_user_rate: crate::providers::pace::Rate,
    /// How long sync runs are kept (`CALSYNC_RETENTION_RUNS_DAYS`).
    pub runs_kept: Duration,
    /// How long change history is kept (`CALSYNC_RETENTION_HISTORY_DAYS`).
    pub history_kept: Duration,
    /// How often the scheduler prunes what is older.
    pub prune_every: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tick: std::time::Duration::from_secs(60),
            concurrency: 4,
            lease: Duration::minutes(10),
            max_instances: 100_000,
            max_steps: crate::ical::expand::DEFAULT_STEPS,
            read_deadline: std::time::Duration::from_secs(20),
            shutdown_grace: std::time::Duration::from_secs(20),
            cursor_body_max: 1024 * 1024,
            feeds: FeedLimits::default(),
            mass_delete: MassDelete::default(),
            google: crate::providers::google::Endpoints::default(),
            outlook: crate::providers::outlook::Endpoints::default(),
            outlook_mailbox_rate: crate::providers::pace::Rate { requests: 10_000, per: std::time::Duration::from_secs(600) },
            webhook_base: None,
            provider_timeout: std::time::Duration::from_secs(30),
            repair_every: std::time::Duration::from_secs(24 * 3600),
            google_project_rate: crate::providers::pace::Rate { requests: 10_000, per: std::time::Duration::from_secs(60) },
            google_user_rate: crate::providers::pace::Rate { requests: 600, per: std::time::Duration::from_secs(60) },
            runs_kept: Duration::days(90),
            history_kept: Duration::days(365),
            prune_every: std::time::Duration::from_secs(600),
        }
    }
}

/// The sync window of an integration at `at`: whole UTC days, so it moves once a day.
pub fn window_for(integration: &Integration, at: NaiveDateTime) -> Window {
    window(at, integration.sync_past_days as i64, integration.sync_future_days as i64)
}

/// The window of a calendar with the spec's default settings.
pub fn default_window(at: NaiveDateTime) -> Window {
    use crate::domain::integrations::limits;
    window(at, limits::PAST_DAYS_DEFAULT, limits::FUTURE_DAYS_DEFAULT)
}

pub(super) fn window(at: NaiveDateTime, past_days: i64, future_days: i64) -> Window {
    let day = |d: chrono::NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    Window { from: day(at.date() - Duration::days(past_days)), to: day(at.date() + Duration::days(future_days + 1)) }
}
