//! MM Calendar Integration: a user's connection to one external calendar. Naming, permissions,
//! the save path (rules in `rules`), the primary-calendar switch, and token secrets at rest.
pub mod history;
pub mod limits;
pub mod rules;

use crate::busy::{Owner, Rules};
pub use rules::{split_addresses, Checked, Draft, Facts, Patch, SecretChange};
pub use vocab::{ConflictPolicy, IntegrationType, StalePolicy, SyncDirection, SyncStatus};

use crate::domain::Actor;
use crate::domain::{is_unique_violation, now, users, Error, FieldMessage, Report, Result, Warning};
use crate::{
    crypto::{Keyring, Secret},
    db::{
        schema::{calendar_integrations as ci, integration_counters, sync_states as ss, users as u},
        Conn,
    },
    run,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
mod commands;
mod primary;
mod secrets;
pub use commands::*;
pub use primary::*;
pub use secrets::*;

pub const MSG_OWN_ONLY: &str = "You can only manage your own calendars.";
pub const MSG_CONCURRENT: &str = "This calendar was changed elsewhere since you opened it. Reload to see the changes.";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = ci)]
struct Row {
    id: i64,
    name: String,
    user_id: i64,
    integration_type: String,
    integration_name: String,
    is_active: bool,
    is_primary: bool,
    calendar_id: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    token_expiry: Option<NaiveDateTime>,
    ical_url: Option<String>,
    ical_url_secret: Option<String>,
    sync_direction: String,
    sync_past_days: i32,
    sync_future_days: i32,
    auto_sync_enabled: bool,
    sync_interval_minutes: i32,
    last_sync: Option<NaiveDateTime>,
    sync_status: String,
    sync_error_log: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    modified_at: NaiveDateTime,
    created_by: Option<i64>,
    modified_by: Option<i64>,
    account_id: Option<i64>,
    stale_policy: String,
    conflict_policy: String,
    busy_rules: String,
    free_title_patterns: String,
    own_addresses: String,
}

/// An integration as everything outside this module sees it: never a secret, only whether one
/// is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Integration {
    pub id: i64,
    pub name: String,
    pub user_id: i64,
    pub user: String,
    pub user_time_zone: String,
    pub integration_type: IntegrationType,
    pub integration_name: String,
    pub is_active: bool,
    pub is_primary: bool,
    pub calendar_id: Option<String>,
    pub has_access_token: bool,
    pub has_refresh_token: bool,
    pub token_expiry: Option<NaiveDateTime>,
    /// The feed's address masked (`https://calendar.example.com/…/basic.ics`): safe to show to
    /// anyone who may see the record. The owner's full address: `ical_url_for`.
    pub ical_url: Option<String>,
    /// The full address, encrypted (opened only by `feed_url`).
    pub(crate) sealed_url: Option<String>,
    pub sync_direction: SyncDirection,
    pub sync_past_days: i32,
    pub sync_future_days: i32,
    pub auto_sync_enabled: bool,
    pub sync_interval_minutes: i32,
    pub last_sync: Option<NaiveDateTime>,
    pub sync_status: SyncStatus,
    pub sync_error_log: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
    pub created_by: Option<i64>,
    pub modified_by: Option<i64>,
    /// When the scheduler next syncs it (None: at once); later after failures (back-off).
    pub due_at: Option<NaiveDateTime>,
    /// Instances stored from the last successful sync.
    pub event_count: i32,
    /// Failed sync attempts in a row (the back-off counts them).
    pub failures: i32,
    /// "Sync now" found every sync slot busy: waiting since then.
    pub queued_at: Option<NaiveDateTime>,
    /// The provider account (one consent) whose tokens it uses, when connected through OAuth.
    pub account_id: Option<i64>,
    /// What availability does while it is out of date.
    pub stale_policy: StalePolicy,
    /// How a change made in the calendar to a booking's copy is followed.
    pub conflict_policy: ConflictPolicy,
    /// What blocks the owner's time: a rule per kind of event, and title patterns.
    pub busy_rules: Rules,
    /// The owner's addresses in this calendar as entered; empty: [`Integration::default_addresses`].
    pub own_addresses: Vec<String>,
}

impl Integration {
    fn from_joined((r, email, tz, due_at, event_count, failures, queued_at): Joined) -> Integration {
        Integration {
            due_at,
            queued_at,
            event_count: event_count.unwrap_or(0),
            failures: failures.unwrap_or(0),
            id: r.id,
            name: r.name,
            user_id: r.user_id,
            user: email,
            user_time_zone: tz,
            integration_type: IntegrationType::parse(&r.integration_type).unwrap_or(IntegrationType::Ical),
            integration_name: r.integration_name,
            is_active: r.is_active,
            is_primary: r.is_primary,
            calendar_id: r.calendar_id,
            has_access_token: r.access_token.is_some(),
            has_refresh_token: r.refresh_token.is_some(),
            token_expiry: r.token_expiry,
            ical_url: r.ical_url,
            sealed_url: r.ical_url_secret,
            sync_direction: SyncDirection::parse(&r.sync_direction).unwrap_or(SyncDirection::OneWay),
            sync_past_days: r.sync_past_days,
            sync_future_days: r.sync_future_days,
            auto_sync_enabled: r.auto_sync_enabled,
            sync_interval_minutes: r.sync_interval_minutes,
            last_sync: r.last_sync,
            sync_status: SyncStatus::parse(&r.sync_status).unwrap_or(SyncStatus::Pending),
            sync_error_log: r.sync_error_log,
            version: r.version,
            created_at: r.created_at,
            modified_at: r.modified_at,
            created_by: r.created_by,
            modified_by: r.modified_by,
            account_id: r.account_id,
            stale_policy: StalePolicy::parse(&r.stale_policy).unwrap_or_default(),
            conflict_policy: ConflictPolicy::parse(&r.conflict_policy).unwrap_or_default(),
            busy_rules: Rules::from_stored(&r.busy_rules, &r.free_title_patterns),
            own_addresses: split_addresses(&r.own_addresses),
        }
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.user_time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The full feed address (for fetching it, and for its owner).
    pub fn feed_url(&self, keys: &Keyring) -> Result<Option<String>> {
        match &self.sealed_url {
            None => Ok(None),
            Some(sealed) => {
                keys.decrypt(sealed, &context(URL_COLUMN, &self.name)).map(|s| Some(s.expose().to_string())).map_err(|e| Error::Internal(e.to_string()))
            }
        }
    }

    /// What `viewer` may see of the feed address: all of it when it is theirs, masked when not
    /// (admins included: the URL is the owner's secret).
    pub fn ical_url_for(&self, keys: &Keyring, viewer_id: i64) -> Option<String> {
        if viewer_id == self.user_id {
            if let Ok(Some(full)) = self.feed_url(keys) {
                return Some(full);
            }
        }
        self.ical_url.clone()
    }

    /// The token has expired (and matters: the calendar is active).
    pub fn token_expired(&self, at: NaiveDateTime) -> bool {
        self.is_active && self.integration_type.is_oauth() && self.token_expiry.is_some_and(|e| e < at)
    }

    /// When the scheduler will next sync it (None: inactive or auto-sync off).
    pub fn next_sync(&self) -> Option<NaiveDateTime> {
        if !self.is_active || !self.auto_sync_enabled {
            return None;
        }
        Some(self.due_at.unwrap_or(self.created_at))
    }

    fn draft(&self) -> Draft {
        Draft {
            integration_type: Some(self.integration_type),
            integration_name: self.integration_name.clone(),
            is_active: self.is_active,
            is_primary: self.is_primary,
            calendar_id: self.calendar_id.clone(),
            access_token: SecretChange::Keep,
            refresh_token: SecretChange::Keep,
            had_access_token: self.has_access_token,
            token_expiry: self.token_expiry,
            ical_url: self.ical_url.clone(),
            sync_direction: self.sync_direction,
            sync_past_days: self.sync_past_days as i64,
            sync_future_days: self.sync_future_days as i64,
            auto_sync_enabled: self.auto_sync_enabled,
            sync_interval_minutes: self.sync_interval_minutes as i64,
            stale_policy: self.stale_policy,
            conflict_policy: self.conflict_policy,
            busy_rules: self.busy_rules.clone(),
            own_addresses: self.own_addresses.clone(),
        }
    }
}

/// The columns a save writes from the checked draft: the same for insert and update.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = ci, treat_none_as_null = true)]
struct Columns<'a> {
    integration_type: &'a str,
    integration_name: &'a str,
    is_active: bool,
    is_primary: bool,
    calendar_id: Option<&'a str>,
    token_expiry: Option<NaiveDateTime>,
    sync_direction: &'a str,
    sync_past_days: i32,
    sync_future_days: i32,
    auto_sync_enabled: bool,
    sync_interval_minutes: i32,
    stale_policy: &'a str,
    conflict_policy: &'a str,
    busy_rules: String,
    free_title_patterns: String,
    own_addresses: String,
    modified_at: NaiveDateTime,
    modified_by: Option<i64>,
}

impl<'a> Columns<'a> {
    /// `draft` has passed the rules (so it has a type).
    fn of(draft: &'a Draft, at: NaiveDateTime, by: i64) -> Self {
        Columns {
            integration_type: draft.integration_type.expect("checked").as_str(),
            integration_name: &draft.integration_name,
            is_active: draft.is_active,
            is_primary: draft.is_primary,
            calendar_id: draft.calendar_id.as_deref(),
            token_expiry: draft.token_expiry,
            sync_direction: draft.sync_direction.as_str(),
            sync_past_days: draft.sync_past_days as i32,
            sync_future_days: draft.sync_future_days as i32,
            auto_sync_enabled: draft.auto_sync_enabled,
            sync_interval_minutes: draft.sync_interval_minutes as i32,
            stale_policy: draft.stale_policy.as_str(),
            conflict_policy: draft.conflict_policy.as_str(),
            busy_rules: draft.busy_rules.rules_json(),
            free_title_patterns: draft.busy_rules.patterns_json(),
            own_addresses: draft.own_addresses.join("\n"),
            modified_at: at,
            modified_by: Some(by),
        }
    }
}

/// A successful save: the record, its warnings and notices ("Unmarked 'X' as primary calendar.").
#[derive(Clone, Debug)]
pub struct Saved {
    pub integration: Integration,
    pub warnings: Vec<Warning>,
    pub messages: Vec<String>,
}

/// List filters (the spec's field names) and paging.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Owner email; non-admins may only name themselves.
    pub user: Option<String>,
    pub integration_type: Option<IntegrationType>,
    pub is_active: Option<bool>,
    pub sync_status: Option<SyncStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// A record with its owner's email and zone, and its sync schedule (absent before the first
/// claim).
type Joined = (Row, String, String, Option<NaiveDateTime>, Option<i32>, Option<i32>, Option<NaiveDateTime>);

macro_rules! joined {
    () => {
        (Row::as_select(), u::email, u::time_zone, ss::due_at.nullable(), ss::event_count.nullable(), ss::failures.nullable(), ss::queued_at.nullable())
    };
}

/// Whose calendar it is: the addresses entered, else the provider account's address (Google,
/// Outlook) or the owner's email (feeds, and calendars without an account).
pub async fn owner_of(conn: &mut Conn<'_>, integration: &Integration) -> Result<Owner> {
    if !integration.own_addresses.is_empty() {
        return Ok(Owner::new(&integration.own_addresses));
    }
    Ok(Owner::new([default_address(conn, integration).await?]))
}

/// The owner's address when none is entered.
pub async fn default_address(conn: &mut Conn<'_>, integration: &Integration) -> Result<String> {
    use crate::db::schema::provider_accounts as pa;
    let account: Option<String> = match integration.account_id {
        Some(id) if integration.integration_type.is_oauth() => run!(conn, |c| pa::table.find(id).select(pa::email).first(c).await.optional())?,
        _ => None,
    };
    Ok(account.unwrap_or_else(|| integration.user.clone()))
}

/// Lists the calendars the actor may see, with the total before paging.
pub async fn list(conn: &mut Conn<'_>, actor: Actor, filter: &Filter) -> Result<(Vec<Integration>, i64)> {
    let owner = match filter.user.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(email) => match users::find_by_email(conn, email).await? {
            Some(user) if actor.is_admin || user.id == actor.user_id => Some(user.id),
            _ if !actor.is_admin => return Err(Error::Forbidden(MSG_OWN_ONLY.into())),
            None => return Ok((Vec::new(), 0)),
            Some(user) => Some(user.id),
        },
        None if actor.is_admin => None,
        None => Some(actor.user_id),
    };
    macro_rules! filtered {
        ($Db:ty) => {{
            let mut q = ci::table.inner_join(u::table).left_join(ss::table).into_boxed::<$Db>();
            if let Some(id) = owner {
                q = q.filter(ci::user_id.eq(id));
            }
            if let Some(t) = filter.integration_type {
                q = q.filter(ci::integration_type.eq(t.as_str()));
            }
            if let Some(a) = filter.is_active {
                q = q.filter(ci::is_active.eq(a));
            }
            if let Some(s) = filter.sync_status {
                q = q.filter(ci::sync_status.eq(s.as_str()));
            }
            q
        }};
    }
    let total = run!(conn, |c| filtered!(Db).count().get_result::<i64>(c).await)?;
    let rows: Vec<Joined> = run!(conn, |c| filtered!(Db)
        .order((u::email.asc(), ci::is_primary.desc(), ci::integration_name.asc(), ci::id.asc()))
        .limit(filter.limit.clamp(1, 1000))
        .offset(filter.offset.max(0))
        .select(joined!())
        .load::<Joined>(c)
        .await)?;
    Ok((rows.into_iter().map(Integration::from_joined).collect(), total))
}

async fn load_row(conn: &mut Conn<'_>, name: &str) -> Result<Option<Joined>> {
    Ok(run!(conn, |c| ci::table.inner_join(u::table).left_join(ss::table).filter(ci::name.eq(name)).select(joined!()).first::<Joined>(c).await.optional())?)
}

/// A record by id, for the system (the sync engine); no permission check.
pub async fn get_by_id(conn: &mut Conn<'_>, id: i64) -> Result<Integration> {
    let found: Option<Joined> =
        run!(conn, |c| ci::table.inner_join(u::table).left_join(ss::table).filter(ci::id.eq(id)).select(joined!()).first::<Joined>(c).await.optional())?;
    found.map(Integration::from_joined).ok_or(Error::NotFound)
}

/// A record the actor may see; another user's record does not exist for them.
pub async fn get(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Integration> {
    match load_row(conn, name).await? {
        Some(j) if actor.is_admin || j.0.user_id == actor.user_id => Ok(Integration::from_joined(j)),
        _ => Err(Error::NotFound),
    }
}
