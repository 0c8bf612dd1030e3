//! Provider accounts: one consent at Google or Microsoft, whose tokens every calendar picked
//! from it uses. Refresh, Reconnect and Disconnect act on the account; the calendar records'
//! token fields (the spec's) mirror it.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::crypto::{Keyring, Secret};
use crate::db::schema::{calendar_integrations as ci, provider_accounts as pa};
use crate::db::Conn;
use crate::domain::{
    integrations::{self, IntegrationType},
    Actor,
};
use crate::domain::{now, Error, Result};
use crate::run;

#[derive(Clone, Debug, PartialEq, Queryable, Selectable)]
#[diesel(table_name = pa)]
struct Row {
    id: i64,
    user_id: i64,
    provider: String,
    email: String,
    access_token: Option<String>,
    refresh_token: Option<String>,
    token_expiry: Option<NaiveDateTime>,
    refreshed_at: Option<NaiveDateTime>,
    revoked_error: Option<String>,
    created_at: NaiveDateTime,
}

/// An account as the rest of the app sees it: never a secret.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub id: i64,
    pub user_id: i64,
    pub provider: IntegrationType,
    pub email: String,
    pub token_expiry: Option<NaiveDateTime>,
    /// The last time calsync refreshed the access token by itself.
    pub refreshed_at: Option<NaiveDateTime>,
    /// Set when the provider refused a refresh for good: what the user must do.
    pub revoked_error: Option<String>,
    pub created_at: NaiveDateTime,
}

impl From<Row> for Account {
    fn from(r: Row) -> Account {
        Account {
            id: r.id,
            user_id: r.user_id,
            provider: IntegrationType::parse(&r.provider).unwrap_or(IntegrationType::Google),
            email: r.email,
            token_expiry: r.token_expiry,
            refreshed_at: r.refreshed_at,
            revoked_error: r.revoked_error,
            created_at: r.created_at,
        }
    }
}

/// The tokens an exchange or a refresh gave.
pub struct Grant {
    pub access_token: Secret,
    /// `None`: keep the stored one (Google does not send a new one on refresh).
    pub refresh_token: Option<Secret>,
    pub expiry: Option<NaiveDateTime>,
}

fn context(id: i64, column: &str) -> String {
    format!("provider_account:{id}:{column}")
}

/// Stores a consent: a new account, or the same account again (Reconnect), its tokens
/// replaced and its revoked state cleared; the calendars it has follow.
pub async fn connect(conn: &mut Conn<'_>, keys: &Keyring, user_id: i64, provider: IntegrationType, email: &str, grant: Grant) -> Result<Account> {
    let keys = keys.clone();
    let email = email.trim().to_lowercase();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let c = &mut c;
            let existing: Option<i64> = run!(c, |cc| pa::table
                .filter(pa::user_id.eq(user_id).and(pa::provider.eq(provider.as_str())).and(pa::email.eq(&email)))
                .select(pa::id)
                .first(cc)
                .await
                .optional())?;
            let id = match existing {
                Some(id) => id,
                None => run!(c, |cc| diesel::insert_into(pa::table)
                    .values((pa::user_id.eq(user_id), pa::provider.eq(provider.as_str()), pa::email.eq(&email), pa::created_at.eq(now())))
                    .returning(pa::id)
                    .get_result::<i64>(cc)
                    .await)?,
            };
            store(c, &keys, id, &grant, false).await?;
            run!(c, |cc| diesel::update(pa::table.find(id)).set(pa::revoked_error.eq(None::<String>)).execute(cc).await)?;
            load(c, id).await
        })
    })
    .await
}

/// Writes new tokens to the account and mirrors them onto its calendars' records. Call inside
/// a write transaction (a rotated refresh token is stored with its access token, or not at all).
async fn store(c: &mut Conn<'_>, keys: &Keyring, id: i64, grant: &Grant, refreshed: bool) -> Result<()> {
    let access = keys.encrypt(&grant.access_token, &context(id, "access_token"));
    let refresh = grant.refresh_token.as_ref().map(|r| keys.encrypt(r, &context(id, "refresh_token")));
    run!(c, |cc| diesel::update(pa::table.find(id)).set((pa::access_token.eq(Some(&access)), pa::token_expiry.eq(grant.expiry))).execute(cc).await)?;
    if let Some(refresh) = &refresh {
        run!(c, |cc| diesel::update(pa::table.find(id)).set(pa::refresh_token.eq(Some(refresh))).execute(cc).await)?;
    }
    if refreshed {
        run!(c, |cc| diesel::update(pa::table.find(id)).set(pa::refreshed_at.eq(Some(now()))).execute(cc).await)?;
    }
    integrations::mirror_tokens(c, keys, id, &grant.access_token, grant.refresh_token.as_ref(), grant.expiry).await
}

async fn load(c: &mut Conn<'_>, id: i64) -> Result<Account> {
    let row: Option<Row> = run!(c, |cc| pa::table.find(id).select(Row::as_select()).first(cc).await.optional())?;
    row.map(Account::from).ok_or(Error::NotFound)
}

/// An account its owner (or an admin) may see.
pub async fn get(conn: &mut Conn<'_>, actor: Actor, id: i64) -> Result<Account> {
    let account = load(conn, id).await?;
    if account.user_id != actor.user_id && !actor.is_admin {
        return Err(Error::NotFound);
    }
    Ok(account)
}

/// The owner's accounts, oldest first.
pub async fn list(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<Account>> {
    let rows: Vec<Row> = run!(conn, |c| pa::table.filter(pa::user_id.eq(user_id)).order(pa::id).select(Row::as_select()).load(c).await)?;
    Ok(rows.into_iter().map(Account::from).collect())
}

/// The account's decrypted tokens (access, refresh).
pub async fn secrets(conn: &mut Conn<'_>, keys: &Keyring, id: i64) -> Result<(Option<Secret>, Option<Secret>)> {
    let row: Row = run!(conn, |c| pa::table.find(id).select(Row::as_select()).first(c).await.optional())?.ok_or(Error::NotFound)?;
    open_tokens(keys, &row)
}

fn open_tokens(keys: &Keyring, row: &Row) -> Result<(Option<Secret>, Option<Secret>)> {
    let open = |col: &str, v: &Option<String>| -> Result<Option<Secret>> {
        v.as_ref().map(|s| keys.decrypt(s, &context(row.id, col)).map_err(|e| Error::Internal(e.to_string()))).transpose()
    };
    Ok((open("access_token", &row.access_token)?, open("refresh_token", &row.refresh_token)?))
}

/// How long one refresh may hold the account's refresh lease.
const REFRESH_LEASE: chrono::Duration = chrono::Duration::seconds(45);

/// Answers a good access token: the stored one while it is good for `margin` more (and is not
/// the one the provider just refused, `refused`), else a refreshed one. One refresh at a time
/// per account across processes: a lease on the account's row, taken atomically; no
/// transaction is held while `refresh` asks the provider. The others wait for the lease and
/// then find the new token.
pub async fn access_token<F, Fut>(
    conn: &mut Conn<'_>,
    keys: &Keyring,
    id: i64,
    margin: chrono::Duration,
    refused: Option<&Secret>,
    refresh: F,
) -> Result<std::result::Result<Secret, crate::providers::ProviderError>>
where
    F: FnOnce(Secret) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<Grant, crate::providers::ProviderError>>,
{
    use crate::providers::{ErrorKind, ProviderError};
    for _ in 0..600 {
        // One read of the row: its state and its tokens.
        let row: Row = run!(conn, |c| pa::table.find(id).select(Row::as_select()).first(c).await.optional())?.ok_or(Error::NotFound)?;
        if let Some(message) = &row.revoked_error {
            return Ok(Err(ProviderError::new(ErrorKind::Unauthorized, message.clone())));
        }
        let (access, refresh_token) = open_tokens(keys, &row)?;
        let fresh = row.token_expiry.is_some_and(|e| e > now() + margin);
        let refused_now = matches!((&access, refused), (Some(a), Some(r)) if a.expose() == r.expose());
        if let Some(access) = access.filter(|_| fresh && !refused_now) {
            return Ok(Ok(access));
        }
        let Some(refresh_token) = refresh_token else {
            return Ok(Err(ProviderError::new(ErrorKind::Unauthorized, "This calendar has no refresh token. Reconnect it.")));
        };
        let at = now();
        let leased = run!(conn, |c| diesel::update(pa::table.find(id))
            .filter(pa::refreshing_until.is_null().or(pa::refreshing_until.lt(at)))
            .set(pa::refreshing_until.eq(Some(at + REFRESH_LEASE)))
            .execute(c)
            .await)?;
        if leased == 0 {
            // Another process is refreshing: its token will do.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        let answer = refresh(refresh_token).await;
        let keys = keys.clone();
        return conn
            .write_tx(move |mut c| {
                Box::pin(async move {
                    let c = &mut c;
                    run!(c, |cc| diesel::update(pa::table.find(id)).set(pa::refreshing_until.eq(None::<NaiveDateTime>)).execute(cc).await)?;
                    match answer {
                        Ok(grant) => {
                            // A rotated refresh token is stored with its access token.
                            store(c, &keys, id, &grant, true).await?;
                            Ok(Ok(grant.access_token))
                        }
                        // The provider refused the refresh token: revoked until reconnected.
                        Err(e) if e.kind == ErrorKind::Unauthorized => {
                            run!(c, |cc| diesel::update(pa::table.find(id)).set(pa::revoked_error.eq(Some(&e.message))).execute(cc).await)?;
                            Ok(Err(e))
                        }
                        Err(e) => Ok(Err(e)),
                    }
                })
            })
            .await;
    }
    Ok(Err(ProviderError::new(ErrorKind::Server, "Another process kept refreshing this account's access. The next sync will try again.")))
}

/// The provider refused the refresh token for good: the account says so until reconnected.
pub async fn mark_revoked(conn: &mut Conn<'_>, id: i64, message: &str) -> Result<()> {
    run!(conn, |c| diesel::update(pa::table.find(id)).set(pa::revoked_error.eq(Some(message))).execute(c).await)?;
    Ok(())
}

/// The calendars (record names) using the account.
pub async fn calendars(conn: &mut Conn<'_>, id: i64) -> Result<Vec<(String, Option<String>)>> {
    Ok(run!(conn, |c| ci::table.filter(ci::account_id.eq(Some(id))).select((ci::name, ci::calendar_id)).load(c).await)?)
}

/// Removes the account (its calendars keep their records until deleted; they no longer sync).
/// Answers its refresh token, for revoking at the provider.
pub async fn remove(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, id: i64) -> Result<Option<Secret>> {
    let account = get(conn, actor, id).await?;
    let (_, refresh) = secrets(conn, keys, account.id).await?;
    run!(conn, |c| diesel::delete(pa::table.find(account.id)).execute(c).await)?;
    Ok(refresh)
}

/// A calendar of the account the user ticked in the picker.
#[derive(Clone, Debug)]
pub struct Pick {
    pub calendar_id: String,
    pub name: String,
    /// The account may write to it (Google owner/writer): synced two-way, else one-way.
    pub writable: bool,
}

/// A calendar record made from a pick, and what to tell the user about it.
pub struct Added {
    pub integration: integrations::Integration,
    pub note: Option<String>,
}

/// Makes a calendar record of each pick, named after the calendar and the account ("Work
/// (ana@example.com)", with a number added when the name is taken), with the spec's defaults,
/// using the account's tokens. Calendars of the account already connected are skipped.
pub async fn add_calendars(conn: &mut Conn<'_>, keys: &Keyring, actor: Actor, account_id: i64, picks: Vec<Pick>) -> Result<Vec<Added>> {
    use integrations::{Patch, SyncDirection};
    let account = get(conn, actor, account_id).await?;
    let connected: Vec<Option<String>> = calendars(conn, account.id).await?.into_iter().map(|(_, id)| id).collect();
    let (access, refresh) = secrets(conn, keys, account.id).await?;
    let owner = Actor { user_id: account.user_id, is_admin: false };
    let mut added = Vec::new();
    for pick in picks {
        if connected.contains(&Some(pick.calendar_id.clone())) {
            continue;
        }
        // A primary calendar is usually named after the account itself.
        let base = match pick.name.trim() {
            n if n.eq_ignore_ascii_case(&account.email) || n.is_empty() => account.email.clone(),
            n => format!("{n} ({})", account.email),
        };
        let name = integrations::free_name(conn, account.user_id, &base).await?;
        let direction = if pick.writable { SyncDirection::TwoWay } else { SyncDirection::OneWay };
        let patch = Patch {
            integration_type: Some(account.provider.as_str().into()),
            integration_name: Some(name.clone()),
            calendar_id: Some(pick.calendar_id.clone()),
            access_token: Some(access.clone()),
            refresh_token: Some(refresh.clone()),
            token_expiry: account.token_expiry.map(|e| e.and_utc().to_rfc3339()),
            sync_direction: Some(direction.as_str().into()),
            ..Patch::default()
        };
        let saved = integrations::create(conn, keys, owner, patch).await?;
        integrations::link_account(conn, &saved.integration.name, account.id).await?;
        let note =
            (!pick.writable).then(|| format!("“{}” is read-only in your {} account, so it syncs one way (read only).", pick.name, account.provider.as_str()));
        let integration = integrations::get(conn, owner, &saved.integration.name).await?;
        added.push(Added { integration, note });
    }
    Ok(added)
}

/// The accounts with these ids (for showing which account each calendar uses).
pub async fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<Account>> {
    let rows: Vec<Row> = run!(conn, |c| pa::table.filter(pa::id.eq_any(ids)).select(Row::as_select()).load(c).await)?;
    Ok(rows.into_iter().map(Account::from).collect())
}

/// Every sealed token of the accounts: (id, column, stored value).
pub(crate) async fn stored(c: &mut Conn<'_>) -> Result<Vec<(i64, &'static str, String)>> {
    let rows: Vec<(i64, Option<String>, Option<String>)> = run!(c, |cc| pa::table.select((pa::id, pa::access_token, pa::refresh_token)).load(cc).await)?;
    let mut out = Vec::new();
    for (id, a, r) in rows {
        out.extend(a.map(|a| (id, "access_token", a)));
        out.extend(r.map(|r| (id, "refresh_token", r)));
    }
    Ok(out)
}

/// Re-encrypts the accounts' tokens with the keyring's current key (inside the rotation's
/// transaction). Returns how many.
pub(crate) async fn reencrypt(c: &mut Conn<'_>, keys: &Keyring) -> Result<usize> {
    let all = stored(c).await?;
    for (id, column, value) in &all {
        let ctx = context(*id, column);
        let plain = keys.decrypt(value, &ctx).map_err(|e| Error::Internal(e.to_string()))?;
        let sealed = keys.encrypt(&plain, &ctx);
        match *column {
            "access_token" => run!(c, |cc| diesel::update(pa::table.find(*id)).set(pa::access_token.eq(Some(&sealed))).execute(cc).await)?,
            _ => run!(c, |cc| diesel::update(pa::table.find(*id)).set(pa::refresh_token.eq(Some(&sealed))).execute(cc).await)?,
        };
    }
    Ok(all.len())
}

/// Checks that the accounts' tokens open with `keys`.
pub(crate) async fn verify(c: &mut Conn<'_>, keys: &Keyring) -> std::result::Result<(), crate::crypto::CryptoError> {
    let all = stored(c).await.map_err(|e| crate::crypto::CryptoError::Config(e.to_string()))?;
    let mut checked = std::collections::HashSet::new();
    for (id, column, value) in all {
        if checked.insert(crate::crypto::key_id_of(&value).unwrap_or("").to_string()) {
            keys.decrypt(&value, &context(id, column))?;
        }
    }
    Ok(())
}
