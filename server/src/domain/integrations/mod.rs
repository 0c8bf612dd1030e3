//! MM Calendar Integration: a user's connection to one external calendar. Naming, permissions,
//! the save path (rules in `rules`), the primary-calendar switch, and token secrets at rest.
pub mod history;
pub mod rules;
pub mod types;

pub use rules::{split_addresses, Checked, Draft, Facts, Patch, SecretChange};
use crate::busy::{Owner, Rules};
pub use types::{ConflictPolicy, IntegrationType, StalePolicy, SyncDirection, SyncStatus};

use super::{is_unique_violation, now, users, Error, FieldMessage, Report, Result, Warning};
use crate::{
    crypto::{Keyring, Secret},
    db::{schema::{calendar_integrations as ci, integration_counters, sync_states as ss, users as u}, Conn},
    run,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Who is acting: admins (System Managers) act on every user's calendars, others on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub is_admin: bool,
}

impl Actor {
    /// calsync itself (the CLI and the scheduler): sees every calendar.
    pub const SYSTEM: Actor = Actor { user_id: 0, is_admin: true };

    pub fn of(user: &users::User) -> Actor {
        Actor { user_id: user.id, is_admin: user.is_admin() }
    }
}

pub const MSG_OWN_ONLY: &str = "You can only manage your own calendars.";
pub const MSG_CONCURRENT: &str =
    "This calendar was changed elsewhere since you opened it. Reload to see the changes.";

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
            Some(sealed) => keys
                .decrypt(sealed, &context(URL_COLUMN, &self.name))
                .map(|s| Some(s.expose().to_string()))
                .map_err(|e| Error::Internal(e.to_string())),
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
    Ok(run!(conn, |c| ci::table
        .inner_join(u::table)
        .left_join(ss::table)
        .filter(ci::name.eq(name))
        .select(joined!())
        .first::<Joined>(c)
        .await
        .optional())?)
}

/// A record by id, for the system (the sync engine); no permission check.
pub async fn get_by_id(conn: &mut Conn<'_>, id: i64) -> Result<Integration> {
    let found: Option<Joined> = run!(conn, |c| ci::table
        .inner_join(u::table)
        .left_join(ss::table)
        .filter(ci::id.eq(id))
        .select(joined!())
        .first::<Joined>(c)
        .await
        .optional())?;
    found.map(Integration::from_joined).ok_or(Error::NotFound)
}

/// A record the actor may see; another user's record does not exist for them.
pub async fn get(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Integration> {
    match load_row(conn, name).await? {
        Some(j) if actor.is_admin || j.0.user_id == actor.user_id => Ok(Integration::from_joined(j)),
        _ => Err(Error::NotFound),
    }
}

/// The stored secrets of a record the actor may see (for the sync engine and token refresh).
pub async fn secrets(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, name: &str) -> Result<(Option<Secret>, Option<Secret>)> {
    match load_row(conn, name).await? {
        Some(j) if actor.is_admin || j.0.user_id == actor.user_id => open_secrets(keys, &j.0),
        _ => Err(Error::NotFound),
    }
}

/// The stored secrets of a calendar the caller already holds (the sync engine).
pub async fn secrets_of(conn: &mut Conn<'_>, keys: &Keyring, integration: &Integration) -> Result<(Option<Secret>, Option<Secret>)> {
    let (row, ..) = load_row(conn, &integration.name).await?.ok_or(Error::NotFound)?;
    open_secrets(keys, &row)
}

fn open_secrets(keys: &Keyring, row: &Row) -> Result<(Option<Secret>, Option<Secret>)> {
    let open = |col: &str, v: &Option<String>| -> Result<Option<Secret>> {
        v.as_ref().map(|s| keys.decrypt(s, &context(col, &row.name)).map_err(|e| Error::Internal(e.to_string()))).transpose()
    };
    Ok((open("access_token", &row.access_token)?, open("refresh_token", &row.refresh_token)?))
}

/// The column the sealed feed address is bound to.
const URL_COLUMN: &str = "ical_url";

/// A feed address as stored: (masked form to show, the full one sealed).
fn seal_url(keys: &Keyring, name: &str, url: Option<&str>) -> (Option<String>, Option<String>) {
    match url {
        None => (None, None),
        Some(u) => (Some(mask_url(u)), Some(keys.encrypt(&crate::crypto::Secret::new(u), &context(URL_COLUMN, name)))),
    }
}

/// A feed address with its secret parts left out: scheme, host and port, and the last path
/// segment when it is a short file name (`basic.ics`; a bare segment may well be the token).
/// `https://calendar.google.com/calendar/ical/ana%40x.com/private-3f9a/basic.ics` →
/// `https://calendar.google.com/…/basic.ics`.
pub fn mask_url(url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else { return "…".into() };
    let host = u.host_str().unwrap_or("");
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let segments: Vec<&str> = u.path_segments().map(|s| s.filter(|p| !p.is_empty()).collect()).unwrap_or_default();
    let tail = match segments.last() {
        Some(last) if last.len() <= 20 && last.contains('.') => {
            if segments.len() > 1 { format!("/…/{last}") } else { format!("/{last}") }
        }
        Some(_) => "/…".to_string(),
        None => String::new(),
    };
    let query = if u.query().is_some() { "?…" } else { "" };
    format!("{}://{host}{port}{tail}{query}", u.scheme())
}

/// Seals feed addresses stored in the clear (rows written before addresses were secrets).
pub async fn seal_plain_feed_urls(conn: &mut Conn<'_>, keys: &Keyring) -> Result<usize> {
    let keys = keys.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let plain: Vec<(i64, String, String)> = run!(c, |cc| ci::table
                .filter(ci::ical_url.is_not_null().and(ci::ical_url_secret.is_null()))
                .select((ci::id, ci::name, ci::ical_url.assume_not_null()))
                .load(cc)
                .await)?;
            for (id, name, url) in &plain {
                let (shown, sealed) = seal_url(&keys, name, Some(url));
                run!(c, |cc| diesel::update(ci::table.find(*id))
                    .set((ci::ical_url.eq(&shown), ci::ical_url_secret.eq(&sealed)))
                    .execute(cc)
                    .await)?;
            }
            Ok(plain.len())
        })
    })
    .await
}

/// The spec's token fields of the calendars connected through account `account_id` follow
/// its tokens (call inside the transaction that stores them).
pub(crate) async fn mirror_tokens(c: &mut Conn<'_>, keys: &Keyring, account_id: i64, access: &Secret, refresh: Option<&Secret>, expiry: Option<NaiveDateTime>) -> Result<()> {
    let names: Vec<(i64, String)> = run!(c, |cc| ci::table.filter(ci::account_id.eq(Some(account_id))).select((ci::id, ci::name)).load(cc).await)?;
    for (id, name) in names {
        let sealed = keys.encrypt(access, &context("access_token", &name));
        run!(c, |cc| diesel::update(ci::table.find(id)).set((ci::access_token.eq(Some(&sealed)), ci::token_expiry.eq(expiry))).execute(cc).await)?;
        if let Some(r) = refresh {
            let sealed = keys.encrypt(r, &context("refresh_token", &name));
            run!(c, |cc| diesel::update(ci::table.find(id)).set(ci::refresh_token.eq(Some(&sealed))).execute(cc).await)?;
        }
    }
    Ok(())
}

/// Ties a calendar record to the provider account whose tokens it uses. The account must be
/// the record owner's.
pub async fn link_account(conn: &mut Conn<'_>, name: &str, account_id: i64) -> Result<()> {
    use crate::db::schema::provider_accounts as pa;
    let owner: i64 = run!(conn, |c| ci::table.filter(ci::name.eq(name)).select(ci::user_id).first(c).await.optional())?.ok_or(Error::NotFound)?;
    let account_owner: i64 = run!(conn, |c| pa::table.find(account_id).select(pa::user_id).first(c).await.optional())?.ok_or(Error::NotFound)?;
    if owner != account_owner {
        return Err(Error::NotFound);
    }
    run!(conn, |c| diesel::update(ci::table.filter(ci::name.eq(name))).set(ci::account_id.eq(Some(account_id))).execute(c).await)?;
    Ok(())
}

/// Whether the record's token is refreshed by itself: it uses a provider account that is not
/// revoked.
async fn refreshed_automatically(c: &mut Conn<'_>, record: &Integration) -> Result<bool> {
    use crate::db::schema::provider_accounts as pa;
    let Some(account) = record.account_id else { return Ok(false) };
    let revoked: Option<Option<String>> = run!(c, |cc| pa::table.find(account).select(pa::revoked_error).first(cc).await.optional())?;
    Ok(matches!(revoked, Some(None)))
}

/// The first free name among `base`, `base 2`, `base 3`, … for the owner's calendars.
pub async fn free_name(conn: &mut Conn<'_>, user_id: i64, base: &str) -> Result<String> {
    for n in 1..1000 {
        let candidate = if n == 1 { base.to_string() } else { format!("{base} {n}") };
        if !name_taken(conn, user_id, &candidate, None).await? {
            return Ok(candidate);
        }
    }
    Err(Error::Conflict(format!("Too many calendars are named {base}.")))
}

/// The associated data of a stored secret: its column and record.
fn context(column: &str, name: &str) -> String {
    format!("{column}:{name}")
}

async fn other_active_primary(conn: &mut Conn<'_>, user_id: i64, except: Option<i64>) -> Result<Option<String>> {
    let except = except.unwrap_or(-1);
    Ok(run!(conn, |c| ci::table
        .filter(ci::user_id.eq(user_id))
        .filter(ci::is_primary.eq(true))
        .filter(ci::is_active.eq(true))
        .filter(ci::id.ne(except))
        .select(ci::integration_name)
        .first::<String>(c)
        .await
        .optional())?)
}

async fn name_taken(conn: &mut Conn<'_>, user_id: i64, name: &str, except: Option<i64>) -> Result<bool> {
    let except = except.unwrap_or(-1);
    Ok(run!(conn, |c| ci::table
        .filter(ci::user_id.eq(user_id))
        .filter(ci::integration_name.eq(name))
        .filter(ci::id.ne(except))
        .count()
        .get_result::<i64>(c)
        .await)?
        > 0)
}

/// Unmarks the owner's other primaries (all of them, or only inactive ones) in one statement;
/// returns a notice per calendar unmarked.
async fn unmark_others(conn: &mut Conn<'_>, user_id: i64, keep: i64, only_inactive: bool, by: i64) -> Result<Vec<String>> {
    let states: &[bool] = if only_inactive { &[false] } else { &[false, true] };
    macro_rules! others {
        () => {
            ci::table
                .filter(ci::user_id.eq(user_id))
                .filter(ci::is_primary.eq(true))
                .filter(ci::id.ne(keep))
                .filter(ci::is_active.eq_any(states))
        };
    }
    let names: Vec<String> = run!(conn, |c| others!().select(ci::integration_name).order(ci::id).load::<String>(c).await)?;
    if !names.is_empty() {
        run!(conn, |c| diesel::update(others!())
            .set((ci::is_primary.eq(false), ci::version.eq(ci::version + 1), ci::modified_at.eq(now()), ci::modified_by.eq(Some(by))))
            .execute(c)
            .await)?;
    }
    Ok(names.iter().map(|n| rules::msg_unmarked(n)).collect())
}

fn invalid(checked: Checked) -> Error {
    Error::Invalid(checked.report)
}

/// The owner of a new record: yourself, or (admins only) the user named.
async fn resolve_owner(conn: &mut Conn<'_>, actor: Actor, requested: Option<&str>) -> Result<(Option<users::User>, Option<String>)> {
    let me = users::get(conn, actor.user_id).await?;
    match requested.map(str::trim) {
        None => Ok((Some(me.clone()), Some(me.email))),
        Some(email) if email.eq_ignore_ascii_case(&me.email) => Ok((Some(me.clone()), Some(me.email))),
        Some(_) if !actor.is_admin => Err(Error::Forbidden(MSG_OWN_ONLY.into())),
        Some("") => Ok((None, None)),
        Some(email) => Ok((users::find_by_email(conn, email).await?, Some(email.to_string()))),
    }
}

/// How many calendars one user may have (`CALSYNC_MAX_CALENDARS_PER_USER`): each is synced on
/// the shared slots, so one account cannot take them all. Set once at start from the
/// configuration.
static MAX_PER_USER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(50);

pub fn set_max_per_user(max: usize) {
    MAX_PER_USER.store(max.max(1), std::sync::atomic::Ordering::Relaxed);
}

fn max_per_user() -> usize {
    std::sync::atomic::AtomicUsize::load(&MAX_PER_USER, std::sync::atomic::Ordering::Relaxed)
}

/// Creates a record through every rule. Names it `MM-CI-{email}-{####}` from a per-user counter
/// that only grows, in the same transaction as the insert.
pub async fn create(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, patch: Patch) -> Result<Saved> {
    let keys = keys.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let (owner, user_text) = resolve_owner(c, actor, patch.user.as_deref()).await?;
            let tz = owner.as_ref().map(|o| o.tz()).unwrap_or(chrono_tz::UTC);
            let (mut draft, parse_errors) = rules::apply(Draft::defaults(), &patch, true, tz);
            let facts = match &owner {
                Some(o) => Facts {
                    user: user_text.clone(),
                    user_exists: true,
                    name_taken: name_taken(c, o.id, &draft.integration_name, None).await?,
                    other_active_primary: other_active_primary(c, o.id, None).await?,
                    was_primary: false,
                    now: now(),
                    tz: Some(tz),
                    // A new record has no account yet (the picker links it after).
                    refreshed_automatically: false,
                },
                None => Facts { user: user_text.clone(), now: now(), ..Facts::default() },
            };
            let checked = rules::check(&mut draft, &facts, parse_errors);
            if !checked.report.errors.is_empty() {
                return Err(invalid(checked));
            }
            let owner = owner.expect("a user exists when the rules pass");
            let owned: i64 = run!(c, |cc| ci::table.filter(ci::user_id.eq(owner.id)).count().get_result(cc).await)?;
            let max = max_per_user();
            if owned as usize >= max {
                return Err(Error::Conflict(format!(
                    "{} has {owned} calendars, the most one person may have ({max}). Delete one that is no longer needed, or ask your administrator to raise CALSYNC_MAX_CALENDARS_PER_USER.",
                    owner.email
                )));
            }
            let number = run!(c, |cc| diesel::insert_into(integration_counters::table)
                .values((integration_counters::user_id.eq(owner.id), integration_counters::last_number.eq(1i64)))
                .on_conflict(integration_counters::user_id)
                .do_update()
                .set(integration_counters::last_number.eq(integration_counters::last_number + 1))
                .returning(integration_counters::last_number)
                .get_result::<i64>(cc)
                .await)?;
            let name = format!("MM-CI-{}-{:04}", owner.email, number);
            let seal = |col: &str, change: &SecretChange| match change {
                SecretChange::Set(s) => Some(keys.encrypt(s, &context(col, &name))),
                _ => None,
            };
            let access = seal("access_token", &draft.access_token);
            let refresh = seal("refresh_token", &draft.refresh_token);
            let (shown_url, sealed_url) = seal_url(&keys, &name, draft.ical_url.as_deref());
            let ts = now();
            let inserted = run!(c, |cc| diesel::insert_into(ci::table)
                .values((
                    Columns::of(&draft, ts, actor.user_id),
                    ci::ical_url.eq(&shown_url),
                    ci::ical_url_secret.eq(&sealed_url),
                    ci::name.eq(&name),
                    ci::user_id.eq(owner.id),
                    ci::access_token.eq(&access),
                    ci::refresh_token.eq(&refresh),
                    ci::sync_status.eq(SyncStatus::Pending.as_str()),
                    ci::version.eq(1i64),
                    ci::created_at.eq(ts),
                    ci::created_by.eq(Some(actor.user_id)),
                ))
                .returning(ci::id)
                .get_result::<i64>(cc)
                .await);
            let id = match inserted {
                Ok(id) => id,
                // A concurrent save took the name between the check and the insert.
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::Invalid(Report {
                        errors: vec![FieldMessage::new("integration_name", rules::msg_name_taken(&draft.integration_name, &owner.email))],
                        warnings: checked.report.warnings,
                    }))
                }
                Err(e) => return Err(e.into()),
            };
            crate::domain::schedule::create(c, id, draft.is_active && draft.auto_sync_enabled).await?;
            let mut messages = checked.messages;
            if draft.is_primary && draft.is_active {
                messages.extend(unmark_others(c, owner.id, id, true, actor.user_id).await?);
            }
            let integration = get(c, actor, &name).await?;
            let who = history::who(c, actor).await?;
            history::record(c, integration.id, &name, "create", &who, None, Some(&integration), now()).await?;
            Ok(Saved { integration, warnings: checked.report.warnings, messages })
        })
    })
    .await
}

/// Updates a record through every rule; refuses a save based on an older version.
pub async fn update(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, name: &str, patch: Patch) -> Result<Saved> {
    let keys = keys.clone();
    let name = name.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let current = get(c, actor, &name).await?;
            if let Some(user) = patch.user.as_deref().map(str::trim) {
                if !user.eq_ignore_ascii_case(&current.user) {
                    if !actor.is_admin {
                        return Err(Error::Forbidden(MSG_OWN_ONLY.into()));
                    }
                    return Err(Error::invalid("user", "The owner of a calendar cannot be changed; add the calendar for the other user instead."));
                }
            }
            if patch.version.is_some_and(|v| v != current.version) {
                return Err(Error::Conflict(MSG_CONCURRENT.into()));
            }
            let tz = current.tz();
            // The rules see the full address; a form that shows someone else's feed masked
            // sends the masked form back, which means "unchanged".
            let current_url = current.feed_url(&keys)?;
            let mut start = current.draft();
            start.ical_url = current_url.clone();
            let mut patch = patch;
            if current.ical_url.is_some() && patch.ical_url.as_deref().map(str::trim) == current.ical_url.as_deref() {
                patch.ical_url = None;
            }
            let (mut draft, parse_errors) = rules::apply(start, &patch, false, tz);
            let facts = Facts {
                user: Some(current.user.clone()),
                user_exists: true,
                name_taken: name_taken(c, current.user_id, &draft.integration_name, Some(current.id)).await?,
                other_active_primary: other_active_primary(c, current.user_id, Some(current.id)).await?,
                was_primary: current.is_primary,
                now: now(),
                tz: Some(tz),
                refreshed_automatically: refreshed_automatically(c, &current).await?,
            };
            let checked = rules::check(&mut draft, &facts, parse_errors);
            if !checked.report.errors.is_empty() {
                return Err(invalid(checked));
            }
            let seal = |col: &str, change: &SecretChange| -> Option<Option<String>> {
                match change {
                    SecretChange::Keep => None,
                    SecretChange::Clear => Some(None),
                    SecretChange::Set(s) => Some(Some(keys.encrypt(s, &context(col, &current.name)))),
                }
            };
            let access = seal("access_token", &draft.access_token);
            let refresh = seal("refresh_token", &draft.refresh_token);
            let ts = now();
            let changed = run!(c, |cc| diesel::update(ci::table.filter(ci::id.eq(current.id)).filter(ci::version.eq(current.version)))
                .set((Columns::of(&draft, ts, actor.user_id), ci::version.eq(ci::version + 1)))
                .execute(cc)
                .await)?;
            if changed == 0 {
                return Err(Error::Conflict(MSG_CONCURRENT.into()));
            }
            if let Some(v) = access {
                run!(c, |cc| diesel::update(ci::table.find(current.id)).set(ci::access_token.eq(&v)).execute(cc).await)?;
            }
            if let Some(v) = refresh {
                run!(c, |cc| diesel::update(ci::table.find(current.id)).set(ci::refresh_token.eq(&v)).execute(cc).await)?;
            }
            if draft.ical_url != current_url {
                let (shown, sealed) = seal_url(&keys, &current.name, draft.ical_url.as_deref());
                run!(c, |cc| diesel::update(ci::table.find(current.id))
                    .set((ci::ical_url.eq(&shown), ci::ical_url_secret.eq(&sealed)))
                    .execute(cc)
                    .await)?;
            }
            let mut messages = checked.messages;
            if draft.is_primary && draft.is_active {
                messages.extend(unmark_others(c, current.user_id, current.id, true, actor.user_id).await?);
            }
            let integration = get(c, actor, &name).await?;
            if integration.busy_rules != current.busy_rules {
                crate::domain::busy_rules::apply(c, integration.id, &integration.busy_rules).await?;
            }
            reschedule(c, &current, &integration).await?;
            let who = history::who(c, actor).await?;
            history::record(c, integration.id, &name, "update", &who, Some(&current), Some(&integration), ts).await?;
            Ok(Saved { integration, warnings: checked.report.warnings, messages })
        })
    })
    .await
}

/// What the calendar's stored events would do under the rules `patch` carries (`busy_rules`,
/// `free_title_patterns`, `own_addresses`), in [from, to), without saving anything: the
/// record, the rules and addresses as they would be saved, and the preview. Unreadable input
/// is refused with a message per field, as a save would.
pub async fn preview_busy(conn: &mut Conn<'_>, actor: Actor, name: &str, patch: &Patch, from: NaiveDateTime, to: NaiveDateTime) -> Result<(Integration, Draft, crate::domain::busy_rules::Preview)> {
    let current = get(conn, actor, name).await?;
    let only = Patch { busy_rules: patch.busy_rules.clone(), free_title_patterns: patch.free_title_patterns.clone(), own_addresses: patch.own_addresses.clone(), ..Patch::default() };
    let (draft, errors) = rules::apply(current.draft(), &only, false, current.tz());
    if !errors.is_empty() {
        return Err(Error::Invalid(Report { errors, warnings: Vec::new() }));
    }
    let preview = crate::domain::busy_rules::preview(conn, &current, &draft.busy_rules, from.and_utc(), to.and_utc()).await?;
    Ok((current, draft, preview))
}

/// A new feed address is fetched afresh at once; a new interval or reactivation counts from
/// the last successful sync.
async fn reschedule(c: &mut Conn<'_>, before: &Integration, after: &Integration) -> Result<()> {
    use crate::db::schema::sync_cursors as sc;
    // An address is sealed anew only when it changed. New owner addresses: every event is
    // read again for the owner's answers.
    if before.sealed_url != after.sealed_url || before.calendar_id != after.calendar_id || before.own_addresses != after.own_addresses {
        run!(c, |cc| diesel::delete(sc::table.find(after.id)).execute(cc).await)?;
        return crate::domain::schedule::set_due(c, after.id, None, after.is_active && after.auto_sync_enabled).await;
    }
    let schedule = |i: &Integration| (i.is_active, i.auto_sync_enabled, i.sync_interval_minutes);
    if schedule(before) != schedule(after) {
        let due = after.last_sync.map(|l| l + chrono::Duration::minutes(after.sync_interval_minutes as i64));
        return crate::domain::schedule::set_due(c, after.id, due, after.is_active && after.auto_sync_enabled).await;
    }
    Ok(())
}

/// "Make primary": switches the owner's primary to this calendar in one transaction.
pub async fn make_primary(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Saved> {
    let name = name.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let current = get(c, actor, &name).await?;
            if !current.is_active {
                return Err(Error::invalid("is_primary", rules::MSG_ONLY_ACTIVE_PRIMARY));
            }
            let messages = unmark_others(c, current.user_id, current.id, false, actor.user_id).await?;
            if !current.is_primary {
                run!(c, |cc| diesel::update(ci::table.find(current.id))
                    .set((ci::is_primary.eq(true), ci::version.eq(ci::version + 1), ci::modified_at.eq(now()), ci::modified_by.eq(Some(actor.user_id))))
                    .execute(cc)
                    .await)?;
            }
            let mut warnings = Vec::new();
            if current.integration_type == IntegrationType::Ical {
                warnings.push(Warning { field: Some("is_primary".into()), message: rules::msg_ical_primary(&current.integration_name), danger: false });
            }
            let integration = get(c, actor, &name).await?;
            let who = history::who(c, actor).await?;
            history::record(c, integration.id, &name, "update", &who, Some(&current), Some(&integration), now()).await?;
            Ok(Saved { integration, warnings, messages })
        })
    })
    .await
}

/// For the push: a calendar that refused a write becomes One-way, with `message` (why) as its
/// error until the next sync.
pub async fn make_read_only(conn: &mut Conn<'_>, id: i64, message: &str) -> Result<()> {
    let message = message.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let before = get_by_id(&mut c, id).await?;
            run!(&mut c, |cc| diesel::update(ci::table.find(id))
                .set((ci::sync_direction.eq(SyncDirection::OneWay.as_str()), ci::sync_error_log.eq(Some(&message)), ci::version.eq(ci::version + 1), ci::modified_at.eq(now())))
                .execute(cc)
                .await)?;
            let after = get_by_id(&mut c, id).await?;
            history::record(&mut c, id, &after.name, "update", "push (the calendar refused a write)", Some(&before), Some(&after), now()).await?;
            Ok(())
        })
    })
    .await
}

/// Deletes a record (its counter number is never given out again).
pub async fn delete(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Integration> {
    let name = name.to_string();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let current = get(c, actor, &name).await?;
            // The row first: a sync writing results holds it (see sync::runs::holds_lease).
            run!(c, |cc| diesel::delete(ci::table.find(current.id)).execute(cc).await)?;
            crate::domain::copies::delete_all(c, current.id).await?;
            let who = history::who(c, actor).await?;
            history::record(c, current.id, &current.name, "delete", &who, Some(&current), None, now()).await?;
            Ok(current)
        })
    })
    .await
}

/// Every stored secret with its record name and column, for key checks and rotation.
pub async fn stored_secrets(conn: &mut Conn<'_>) -> Result<Vec<(i64, String, &'static str, String)>> {
    let rows: Vec<(i64, String, Option<String>, Option<String>, Option<String>)> = run!(conn, |c| ci::table
        .filter(ci::access_token.is_not_null().or(ci::refresh_token.is_not_null()).or(ci::ical_url_secret.is_not_null()))
        .select((ci::id, ci::name, ci::access_token, ci::refresh_token, ci::ical_url_secret))
        .load(c)
        .await)?;
    let mut out = Vec::new();
    for (id, name, a, r, u) in rows {
        if let Some(u) = u {
            out.push((id, name.clone(), URL_COLUMN, u));
        }
        if let Some(a) = a {
            out.push((id, name.clone(), "access_token", a));
        }
        if let Some(r) = r {
            out.push((id, name, "refresh_token", r));
        }
    }
    Ok(out)
}

/// Re-encrypts every stored secret with the keyring's current key, in one transaction.
pub async fn reencrypt_all(conn: &mut Conn<'_>, keys: &Keyring) -> Result<usize> {
    let keys = keys.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let all = stored_secrets(c).await?;
            for (id, name, column, stored) in &all {
                let ctx = context(column, name);
                let plain = keys.decrypt(stored, &ctx).map_err(|e| Error::Internal(e.to_string()))?;
                let sealed = keys.encrypt(&plain, &ctx);
                match *column {
                    "access_token" => run!(c, |cc| diesel::update(ci::table.find(*id)).set(ci::access_token.eq(&sealed)).execute(cc).await)?,
                    "refresh_token" => run!(c, |cc| diesel::update(ci::table.find(*id)).set(ci::refresh_token.eq(&sealed)).execute(cc).await)?,
                    _ => run!(c, |cc| diesel::update(ci::table.find(*id)).set(ci::ical_url_secret.eq(&sealed)).execute(cc).await)?,
                };
            }
            Ok(all.len() + crate::domain::accounts::reencrypt(c, &keys).await?)
        })
    })
    .await
}

/// Checks that every stored secret decrypts with `keys`: names the missing or wrong key id.
pub async fn verify_keys(conn: &mut Conn<'_>, keys: &Keyring) -> Result<(), crate::crypto::CryptoError> {
    let all = stored_secrets(conn).await.map_err(|e| crate::crypto::CryptoError::Config(e.to_string()))?;
    let mut checked = std::collections::HashSet::new();
    for (_, name, column, stored) in all {
        let id = crate::crypto::key_id_of(&stored).unwrap_or("").to_string();
        if checked.insert(id) {
            keys.decrypt(&stored, &context(column, &name))?;
        }
    }
    crate::domain::accounts::verify(conn, keys).await
}
