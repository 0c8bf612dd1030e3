//! Personal API tokens for `/api/v1`: shown once, stored as SHA-256, revocable. An admin's token
//! acts on every user, like the admin.
use crate::domain::{
    audit::{self, By, Kind},
    now, users, Error, Result,
};
use crate::{
    db::{
        schema::{api_tokens as t, users as u},
        Conn,
    },
    run,
    sessions::sha256_hex,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Tokens start with this, so they are easy to recognise (and to find in leaked text).
pub const PREFIX: &str = "csk_";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    /// The first characters, to tell tokens apart without revealing them.
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    /// After this the token opens nothing (none: it never expires).
    pub expires_at: Option<NaiveDateTime>,
}

impl ApiToken {
    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|e| e <= now())
    }
}

type TokenRow = (i64, i64, String, String, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>);

fn from_row(r: TokenRow) -> ApiToken {
    ApiToken { id: r.0, user_id: r.1, label: r.2, prefix: r.3, created_at: r.4, last_used_at: r.5, expires_at: r.6 }
}

/// The longest a token may live, in days (the form offers 7, 30, 90, 365 or never).
pub const MAX_DAYS: i64 = 3650;

/// Creates a token for `user_id`, valid for `days` days (or until revoked); returns the record
/// and the token itself (shown only now).
pub async fn create(conn: &mut Conn<'_>, user_id: i64, label: &str, days: Option<i64>, by: &By) -> Result<(ApiToken, String)> {
    let label = label.trim();
    if label.chars().count() > 100 {
        return Err(Error::invalid("label", "Label cannot exceed 100 characters."));
    }
    if let Some(d) = days.filter(|d| !(1..=MAX_DAYS).contains(d)) {
        return Err(Error::invalid("expires_in_days", format!("A token can live from 1 to {MAX_DAYS} days, not {d}.")));
    }
    let owner = users::get(conn, user_id).await?;
    let label = if label.is_empty() { "API token" } else { label };
    let bytes: [u8; 32] = rand::random();
    let secret = hex::encode(bytes);
    let token = format!("{PREFIX}{secret}");
    let prefix = token[..PREFIX.len() + 6].to_string();
    let hash = sha256_hex(&token);
    let ts = now();
    let expires_at = days.map(|d| ts + chrono::Duration::days(d));
    let id = run!(conn, |c| diesel::insert_into(t::table)
        .values((
            t::user_id.eq(user_id),
            t::label.eq(label),
            t::token_hash.eq(&hash),
            t::prefix.eq(&prefix),
            t::created_at.eq(ts),
            t::expires_at.eq(expires_at),
        ))
        .returning(t::id)
        .get_result::<i64>(c)
        .await)?;
    let until =
        expires_at.map(|e| format!("{label} ({prefix}…), expires {}", e.format("%Y-%m-%d"))).unwrap_or_else(|| format!("{label} ({prefix}…), no expiry"));
    audit::record(conn, Kind::TokenCreated, by, Some(&owner.email), &until).await?;
    Ok((ApiToken { id, user_id, label: label.to_string(), prefix, created_at: ts, last_used_at: None, expires_at }, token))
}

pub async fn list(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<ApiToken>> {
    let rows: Vec<TokenRow> = run!(conn, |c| t::table
        .filter(t::user_id.eq(user_id))
        .order(t::created_at.desc())
        .select((t::id, t::user_id, t::label, t::prefix, t::created_at, t::last_used_at, t::expires_at))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Revokes one of the user's own tokens.
pub async fn revoke(conn: &mut Conn<'_>, user_id: i64, id: i64, by: &By) -> Result<()> {
    let gone: Option<(String, String)> = run!(conn, |c| diesel::delete(t::table.filter(t::id.eq(id)).filter(t::user_id.eq(user_id)))
        .returning((t::label, t::prefix))
        .get_result(c)
        .await
        .optional())?;
    let Some((label, prefix)) = gone else { return Err(Error::NotFound) };
    let owner = users::get(conn, user_id).await?;
    audit::record(conn, Kind::TokenRevoked, by, Some(&owner.email), &format!("{label} ({prefix}…)")).await
}

/// The user a bearer token belongs to: `None` for an unknown token or a disabled user.
pub async fn authenticate(conn: &mut Conn<'_>, token: &str) -> Result<Option<users::User>> {
    let token = token.trim();
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = sha256_hex(token);
    let found: Option<(i64, i64)> = run!(conn, |c| t::table
        .inner_join(u::table)
        .filter(t::token_hash.eq(&hash))
        .filter(u::disabled.eq(false))
        .filter(t::expires_at.is_null().or(t::expires_at.gt(now())))
        .select((t::id, t::user_id))
        .first(c)
        .await
        .optional())?;
    let Some((id, user_id)) = found else { return Ok(None) };
    // "Last used" to the minute: one write a minute per token, not one per request.
    let at = now();
    run!(conn, |c| diesel::update(t::table.find(id).filter(t::last_used_at.is_null().or(t::last_used_at.lt(at - chrono::Duration::minutes(1)))))
        .set(t::last_used_at.eq(Some(at)))
        .execute(c)
        .await)?;
    Ok(Some(users::get(conn, user_id).await?))
}
