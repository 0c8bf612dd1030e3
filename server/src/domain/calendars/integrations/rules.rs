//! The validation rules of the spec ("Validation Rules"), word for word, in one place. Every entry
//! point — pages, server functions, REST, CLI — goes through [`apply`] and [`check`].
//!
//! Input arrives as a [`Patch`] of raw values (what a form or a JSON body carried). [`apply`]
//! lays it over the current state (or the defaults) and reports values that cannot be read;
//! [`check`] then applies the rules, given the facts only the database knows ([`Facts`]).
use super::limits::*;
use crate::{
    busy::Rules,
    crypto::Secret,
    domain::{FieldMessage, Report, Warning},
};
use chrono::{NaiveDateTime, TimeZone};
use vocab::{ConflictPolicy, IntegrationType, StalePolicy, SyncDirection};

/// Raw input: `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct Patch {
    pub user: Option<String>,
    pub integration_type: Option<String>,
    pub integration_name: Option<String>,
    pub is_active: Option<bool>,
    pub is_primary: Option<bool>,
    /// `Some("")` clears.
    pub calendar_id: Option<String>,
    /// `Some(None)` clears, `Some(Some(…))` sets.
    pub access_token: Option<Option<Secret>>,
    pub refresh_token: Option<Option<Secret>>,
    /// `Some("")` clears; `YYYY-MM-DD HH:MM:SS` in the owner's zone, or RFC 3339.
    pub token_expiry: Option<String>,
    pub ical_url: Option<String>,
    pub sync_direction: Option<String>,
    /// Numbers arrive as text so that "abc" can be told apart from a missing value.
    pub sync_past_days: Option<String>,
    pub sync_future_days: Option<String>,
    pub auto_sync_enabled: Option<bool>,
    pub sync_interval_minutes: Option<String>,
    /// `fail-open` or `fail-closed`.
    pub stale_policy: Option<String>,
    /// `last-write-wins`, `prefer-calsync`, `prefer-calendar` or `ask`.
    pub conflict_policy: Option<String>,
    /// What blocks time: `(kind, "busy"|"free")` pairs; only the kinds given change.
    pub busy_rules: Option<Vec<(String, String)>>,
    /// Replaces the title patterns (blank ones dropped).
    pub free_title_patterns: Option<Vec<String>>,
    /// The owner's addresses in this calendar, one per line or comma-separated; `Some("")`
    /// goes back to the default.
    pub own_addresses: Option<String>,
    /// The version the editor saw; a different current version is a concurrent change.
    pub version: Option<i64>,
}

/// What happens to a stored secret on save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    Set(Secret),
    Clear,
}

/// The record as it will be saved (secrets as changes to the stored values).
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub integration_type: Option<IntegrationType>,
    pub integration_name: String,
    pub is_active: bool,
    pub is_primary: bool,
    pub calendar_id: Option<String>,
    pub access_token: SecretChange,
    pub refresh_token: SecretChange,
    /// Whether a token is stored now (before `access_token` is applied).
    pub had_access_token: bool,
    pub token_expiry: Option<NaiveDateTime>,
    pub ical_url: Option<String>,
    pub sync_direction: SyncDirection,
    pub sync_past_days: i64,
    pub sync_future_days: i64,
    pub auto_sync_enabled: bool,
    pub sync_interval_minutes: i64,
    pub stale_policy: StalePolicy,
    pub conflict_policy: ConflictPolicy,
    pub busy_rules: Rules,
    pub own_addresses: Vec<String>,
}

impl Draft {
    /// A new record's defaults (the spec's), before the patch.
    pub fn defaults() -> Draft {
        Draft {
            integration_type: None,
            integration_name: String::new(),
            is_active: true,
            is_primary: false,
            calendar_id: None,
            access_token: SecretChange::Keep,
            refresh_token: SecretChange::Keep,
            had_access_token: false,
            token_expiry: None,
            ical_url: None,
            sync_direction: SyncDirection::TwoWay,
            sync_past_days: PAST_DAYS_DEFAULT,
            sync_future_days: FUTURE_DAYS_DEFAULT,
            auto_sync_enabled: true,
            sync_interval_minutes: INTERVAL_DEFAULT,
            stale_policy: StalePolicy::FailOpen,
            conflict_policy: ConflictPolicy::LastWriteWins,
            busy_rules: Rules::default(),
            own_addresses: Vec::new(),
        }
    }

    pub fn has_access_token(&self) -> bool {
        match &self.access_token {
            SecretChange::Keep => self.had_access_token,
            SecretChange::Set(s) => !s.expose().is_empty(),
            SecretChange::Clear => false,
        }
    }
}

fn opt_text(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn parse_int(field: &str, label: &str, raw: &str, errors: &mut Vec<FieldMessage>) -> Option<i64> {
    match raw.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldMessage::new(field, format!("{label} must be a whole number.")));
            None
        }
    }
}

/// Reads the spec's `YYYY-MM-DD HH:MM:SS` in `tz` (also without seconds, or with a `T` as an
/// HTML datetime field sends it), or an RFC 3339 instant. Returns the UTC instant.
pub fn parse_datetime(raw: &str, tz: chrono_tz::Tz) -> Option<NaiveDateTime> {
    let s = raw.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_utc());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, fmt) {
            // In a DST overlap take the earlier instant; a time in a DST gap does not exist.
            return tz.from_local_datetime(&local).earliest().map(|dt| dt.naive_utc());
        }
    }
    None
}

/// `YYYY-MM-DD HH:MM:SS` in `tz`, as the spec's messages show datetimes.
pub fn format_datetime(utc: NaiveDateTime, tz: chrono_tz::Tz) -> String {
    utc.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Lays `patch` over `base`. Values that cannot be read become errors on their fields and leave
/// the base value in place (so the other rules still run).
pub fn apply(mut draft: Draft, patch: &Patch, is_new: bool, tz: chrono_tz::Tz) -> (Draft, Vec<FieldMessage>) {
    let mut errors = Vec::new();
    if let Some(t) = &patch.integration_type {
        if t.trim().is_empty() {
            draft.integration_type = None;
        } else {
            match IntegrationType::parse(t) {
                Some(t) => draft.integration_type = Some(t),
                None => errors.push(FieldMessage::new(
                    "integration_type",
                    format!("Integration Type '{}' is not one of Google Calendar, Outlook Calendar, iCal.", t.trim()),
                )),
            }
        }
    }
    if let Some(n) = &patch.integration_name {
        draft.integration_name = n.trim().to_string();
    }
    if let Some(v) = patch.is_active {
        draft.is_active = v;
    }
    if let Some(v) = patch.is_primary {
        draft.is_primary = v;
    }
    if let Some(v) = &patch.calendar_id {
        draft.calendar_id = opt_text(v);
    }
    if let Some(v) = &patch.access_token {
        draft.access_token = match v {
            Some(s) if !s.expose().is_empty() => SecretChange::Set(s.clone()),
            _ => SecretChange::Clear,
        };
    }
    if let Some(v) = &patch.refresh_token {
        draft.refresh_token = match v {
            Some(s) if !s.expose().is_empty() => SecretChange::Set(s.clone()),
            _ => SecretChange::Clear,
        };
    }
    if let Some(v) = &patch.token_expiry {
        if v.trim().is_empty() {
            draft.token_expiry = None;
        } else {
            match parse_datetime(v, tz) {
                Some(t) => draft.token_expiry = Some(t),
                None => errors.push(FieldMessage::new("token_expiry", "Invalid Token Expiry datetime format.")),
            }
        }
    }
    if let Some(v) = &patch.ical_url {
        // Kept as typed (trimmed at the ends) so the rules can name what is wrong with it.
        let t = v.trim();
        draft.ical_url = (!t.is_empty()).then(|| t.to_string());
    }
    match &patch.sync_direction {
        Some(d) if !d.trim().is_empty() => match SyncDirection::parse(d) {
            Some(d) => draft.sync_direction = d,
            None => errors
                .push(FieldMessage::new("sync_direction", format!("Sync Direction '{}' is not one of One-way (Read Only), Two-way (Read & Write).", d.trim()))),
        },
        // A new calendar without a direction: iCal is read-only, the others two-way.
        _ if is_new => {
            if let Some(t) = draft.integration_type {
                draft.sync_direction = t.default_direction();
            }
        }
        _ => {}
    }
    if let Some(raw) = &patch.sync_past_days {
        if let Some(n) = parse_int("sync_past_days", "Sync Past Days", raw, &mut errors) {
            draft.sync_past_days = n;
        }
    }
    if let Some(raw) = &patch.sync_future_days {
        if let Some(n) = parse_int("sync_future_days", "Sync Future Days", raw, &mut errors) {
            draft.sync_future_days = n;
        }
    }
    if let Some(v) = patch.auto_sync_enabled {
        draft.auto_sync_enabled = v;
    }
    if let Some(raw) = &patch.sync_interval_minutes {
        if let Some(n) = parse_int("sync_interval_minutes", "Sync Interval", raw, &mut errors) {
            draft.sync_interval_minutes = n;
        }
    }
    match patch.stale_policy.as_deref().map(str::trim) {
        Some("") | None => {}
        Some(p) => match StalePolicy::parse(p) {
            Some(p) => draft.stale_policy = p,
            None => errors.push(FieldMessage::new("stale_policy", format!("Stale Policy '{p}' is not one of fail-open, fail-closed."))),
        },
    }
    match patch.conflict_policy.as_deref().map(str::trim) {
        Some("") | None => {}
        Some(p) => match ConflictPolicy::parse(p) {
            Some(p) => draft.conflict_policy = p,
            None => errors.push(FieldMessage::new(
                "conflict_policy",
                format!("Conflict Policy '{p}' is not one of last-write-wins, prefer-calsync, prefer-calendar, ask."),
            )),
        },
    }
    if let Some(changes) = &patch.busy_rules {
        match draft.busy_rules.patched(changes) {
            Ok(r) => draft.busy_rules = r,
            Err(e) => errors.extend(e.into_iter().map(|m| FieldMessage::new("busy_rules", m))),
        }
    }
    if let Some(patterns) = &patch.free_title_patterns {
        match draft.busy_rules.with_patterns(patterns) {
            Ok(r) => draft.busy_rules = r,
            Err(e) => errors.extend(e.into_iter().map(|m| FieldMessage::new("free_title_patterns", m))),
        }
    }
    if let Some(raw) = &patch.own_addresses {
        let given = split_addresses(raw);
        let bad: Vec<FieldMessage> =
            given.iter().filter(|a| !looks_like_address(a)).map(|a| FieldMessage::new("own_addresses", format!("'{a}' is not an email address."))).collect();
        if given.len() > MAX_ADDRESSES {
            errors.push(FieldMessage::new("own_addresses", format!("At most {MAX_ADDRESSES} addresses; {} were given.", given.len())));
        } else if bad.is_empty() {
            draft.own_addresses = given;
        }
        errors.extend(bad);
    }
    (draft, errors)
}

/// The most addresses one calendar lists for its owner.
pub const MAX_ADDRESSES: usize = 20;

/// Addresses as typed: one per line or separated by commas, `mailto:` dropped, each once.
pub fn split_addresses(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in raw.split(['\n', ',', ';']).map(str::trim).filter(|a| !a.is_empty()) {
        let a = a.strip_prefix("mailto:").unwrap_or(a).to_owned();
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
            out.push(a);
        }
    }
    out
}

fn looks_like_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else { return false };
    !local.is_empty() && !domain.is_empty() && a.len() <= 254 && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}

/// What only the database knows, looked up before the rules run.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The owner's email as entered, `None` when no user was given.
    pub user: Option<String>,
    pub user_exists: bool,
    /// Another of the owner's calendars already has this name (exact, case-sensitive).
    pub name_taken: bool,
    /// The integration name of another *active* primary calendar of the owner.
    pub other_active_primary: Option<String>,
    /// The record was primary before this save.
    pub was_primary: bool,
    pub now: NaiveDateTime,
    pub tz: Option<chrono_tz::Tz>,
    /// The token is refreshed by itself (the record uses a provider account that is not
    /// revoked): a passed expiry is normal, not a reason to re-authenticate.
    pub refreshed_automatically: bool,
}

/// The outcome of the rules: errors block, warnings and messages never do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checked {
    pub report: Report,
    /// Notices such as "Unmarked 'X' as primary calendar."
    pub messages: Vec<String>,
}

pub const MSG_USER_REQUIRED: &str = "User is required.";
pub const MSG_NAME_REQUIRED: &str = "Integration Name is required.";
pub const MSG_TYPE_REQUIRED: &str = "Integration Type is required.";
pub const MSG_URL_REQUIRED: &str = "iCal URL is required for iCal integration type.";
pub const MSG_URL_SCHEME: &str = "iCal URL must start with http://, https://, or webcal://";
pub const MSG_ICAL_TWO_WAY: &str = "Warning: iCal integrations typically support only one-way (read-only) sync. Two-way sync may not work as expected.";
pub const MSG_PAST_NEGATIVE: &str = "Sync Past Days cannot be negative. Use 0 for no past sync.";
pub const MSG_PAST_MAX: &str = "Sync Past Days cannot exceed 365 days (1 year).";
pub const MSG_FUTURE_MIN: &str = "Sync Future Days must be greater than 0.";
pub const MSG_FUTURE_MAX: &str = "Sync Future Days cannot exceed 730 days (2 years).";
pub const MSG_INTERVAL_MIN: &str = "Sync Interval cannot be less than 5 minutes to avoid excessive API calls.";
pub const MSG_INTERVAL_MAX: &str = "Sync Interval cannot exceed 1440 minutes (24 hours).";
pub const MSG_ONLY_ACTIVE_PRIMARY: &str = "Only an active calendar can be primary.";

pub fn msg_user_missing(user: &str) -> String {
    format!("User '{user}' does not exist.")
}
pub fn msg_name_taken(name: &str, user: &str) -> String {
    format!("Integration Name '{name}' already exists for user '{user}'. Please use a unique name for each integration.")
}
pub fn msg_token_required(t: IntegrationType) -> String {
    format!("{0} requires an Access Token. Please authenticate with {0} first.", t.as_str())
}
pub fn msg_calendar_id_recommended(t: IntegrationType) -> String {
    format!("Calendar ID is recommended for {} integration. Without it, the primary calendar will be used by default.", t.as_str())
}
pub fn msg_token_expired(expiry: &str) -> String {
    format!("Warning: Access Token has expired on {expiry}. Please re-authenticate to continue syncing.")
}
pub fn msg_primary_exists(user: &str, name: &str) -> String {
    format!(
        "A primary calendar integration already exists for user '{user}': '{name}'. Please uncheck 'Is Primary Calendar' on the existing integration first, or uncheck it on this integration."
    )
}
pub fn msg_unmarked(name: &str) -> String {
    format!("Unmarked '{name}' as primary calendar.")
}
pub fn msg_ical_primary(name: &str) -> String {
    format!("'{name}' is an iCal feed, which is read-only: bookings cannot be written to it. Make a Google or Outlook calendar primary to receive bookings.")
}

fn warn(field: &str, message: String) -> Warning {
    Warning { field: Some(field.to_string()), message, danger: false }
}

/// Applies the rules to `draft` (which they may change: iCal clears OAuth fields, deactivation
/// unmarks primary). `parse_errors` are those [`apply`] found; they come first on their fields.
pub fn check(draft: &mut Draft, facts: &Facts, parse_errors: Vec<FieldMessage>) -> Checked {
    let mut errors = parse_errors;
    let mut warnings = Vec::new();
    let mut messages = Vec::new();
    let has_error = |errors: &Vec<FieldMessage>, f: &str| errors.iter().any(|e| e.field.as_deref() == Some(f));

    // 1. User
    match facts.user.as_deref().map(str::trim) {
        None | Some("") => errors.push(FieldMessage::new("user", MSG_USER_REQUIRED)),
        Some(u) if !facts.user_exists => errors.push(FieldMessage::new("user", msg_user_missing(u))),
        _ => {}
    }

    // 2. Integration name
    let name = draft.integration_name.clone();
    if name.is_empty() {
        errors.push(FieldMessage::new("integration_name", MSG_NAME_REQUIRED));
    } else if name.chars().count() > NAME_MAX {
        errors.push(FieldMessage::new("integration_name", format!("Integration Name cannot exceed {NAME_MAX} characters.")));
    } else if facts.name_taken {
        errors.push(FieldMessage::new("integration_name", msg_name_taken(&name, facts.user.as_deref().unwrap_or("").trim())));
    }

    // 3. Type requirements
    match draft.integration_type {
        None if !has_error(&errors, "integration_type") => errors.push(FieldMessage::new("integration_type", MSG_TYPE_REQUIRED)),
        None => {}
        Some(IntegrationType::Ical) => {
            match draft.ical_url.as_deref() {
                None => errors.push(FieldMessage::new("ical_url", MSG_URL_REQUIRED)),
                Some(url) => {
                    if let Some(e) = url_problem(url) {
                        errors.push(FieldMessage::new("ical_url", e));
                    }
                }
            }
            draft.access_token = SecretChange::Clear;
            draft.refresh_token = SecretChange::Clear;
            draft.token_expiry = None;
            if draft.sync_direction == SyncDirection::TwoWay {
                warnings.push(warn("sync_direction", MSG_ICAL_TWO_WAY.to_string()));
            }
        }
        Some(t) => {
            if draft.is_active && !draft.has_access_token() {
                errors.push(FieldMessage::new("access_token", msg_token_required(t)));
            }
            draft.ical_url = None;
            if draft.calendar_id.is_none() {
                warnings.push(warn("calendar_id", msg_calendar_id_recommended(t)));
            }
        }
    }
    if draft.calendar_id.as_ref().is_some_and(|c| c.chars().count() > CALENDAR_ID_MAX) {
        errors.push(FieldMessage::new("calendar_id", format!("Calendar ID cannot exceed {CALENDAR_ID_MAX} characters.")));
    }
    for (field, change) in [("access_token", &draft.access_token), ("refresh_token", &draft.refresh_token)] {
        if let SecretChange::Set(s) = change {
            if s.expose().len() > TOKEN_MAX {
                errors.push(FieldMessage::new(field, format!("The token is too long (at most {TOKEN_MAX} characters).")));
            }
        }
    }

    // 4. Sync settings
    if !has_error(&errors, "sync_past_days") {
        if draft.sync_past_days < 0 {
            errors.push(FieldMessage::new("sync_past_days", MSG_PAST_NEGATIVE));
        } else if draft.sync_past_days > PAST_DAYS_MAX {
            errors.push(FieldMessage::new("sync_past_days", MSG_PAST_MAX));
        }
    }
    if !has_error(&errors, "sync_future_days") {
        if draft.sync_future_days <= 0 {
            errors.push(FieldMessage::new("sync_future_days", MSG_FUTURE_MIN));
        } else if draft.sync_future_days > FUTURE_DAYS_MAX {
            errors.push(FieldMessage::new("sync_future_days", MSG_FUTURE_MAX));
        }
    }
    if !has_error(&errors, "sync_interval_minutes") {
        if draft.sync_interval_minutes < INTERVAL_MIN {
            errors.push(FieldMessage::new("sync_interval_minutes", MSG_INTERVAL_MIN));
        } else if draft.sync_interval_minutes > INTERVAL_MAX {
            errors.push(FieldMessage::new("sync_interval_minutes", MSG_INTERVAL_MAX));
        }
    }

    // 5. Token expiry (a format error was reported by `apply`)
    if let Some(expiry) = draft.token_expiry.filter(|_| !facts.refreshed_automatically) {
        if draft.is_active && expiry < facts.now {
            let shown = format_datetime(expiry, facts.tz.unwrap_or(chrono_tz::UTC));
            warnings.push(Warning { field: Some("token_expiry".into()), message: msg_token_expired(&shown), danger: true });
        }
    }

    // 6. Primary: one active primary per user; only an active calendar can be primary.
    if draft.is_primary && !draft.is_active {
        if facts.was_primary {
            // Deactivating the primary unmarks it.
            draft.is_primary = false;
            messages.push(msg_unmarked(&name));
        } else {
            errors.push(FieldMessage::new("is_primary", MSG_ONLY_ACTIVE_PRIMARY));
        }
    } else if draft.is_primary {
        if let Some(other) = &facts.other_active_primary {
            errors.push(FieldMessage::new("is_primary", msg_primary_exists(facts.user.as_deref().unwrap_or("").trim(), other)));
        } else if draft.integration_type == Some(IntegrationType::Ical) {
            warnings.push(warn("is_primary", msg_ical_primary(&name)));
        }
    }

    Checked { report: Report { errors, warnings }, messages }
}

/// What is wrong with a feed address, if anything.
pub fn url_problem(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    let rest = ["http://", "https://", "webcal://"].iter().find_map(|p| lower.strip_prefix(p).map(|_| &url[p.len()..]));
    let Some(rest) = rest else { return Some(MSG_URL_SCHEME.to_string()) };
    if url.chars().count() > URL_MAX {
        return Some(format!("iCal URL cannot exceed {URL_MAX} characters."));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("iCal URL must not contain spaces. Copy the address again, or write spaces as %20.".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Some("iCal URL must include a host name, as in https://example.com/calendar.ics".into());
    }
    // What the fetcher will make of it: an address it cannot parse fails every sync.
    match crate::providers::fetch::feed_url(url) {
        Ok(_) => None,
        Err(crate::providers::fetch::FetchError::InvalidUrl(reason)) => {
            Some(format!("iCal URL is not a valid address ({reason}). Copy the feed's address again."))
        }
        Err(other) => Some(other.to_string()),
    }
}
