//! Personal API tokens for `/api/v1`: shown once, stored as SHA-256, revocable. An admin's token
//! acts on every user, like the admin.
use super::{now, users, Error, Result};
use crate::{
    db::{schema::{api_tokens as t, users as u}, Conn},
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
}

type TokenRow = (i64, i64, String, String, NaiveDateTime, Option<NaiveDateTime>);

fn from_row(r: TokenRow) -> ApiToken {
    ApiToken { id: r.0, user_id: r.1, label: r.2, prefix: r.3, created_at: r.4, last_used_at: r.5 }
}

/// Creates a token for `user_id`; returns the record and the token itself (shown only now).
pub async fn create(conn: &mut Conn<'_>, user_id: i64, label: &str) -> Result<(ApiToken, String)> {
    let label = label.trim();
    if label.chars().count() > 100 {
        return Err(Error::invalid("label", "Label cannot exceed 100 characters."));
    }
    let label = if label.is_empty() { "API token" } else { label };
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!("{PREFIX}{secret}");
    let prefix = token[..PREFIX.len() + 6].to_string();
    let hash = sha256_hex(&token);
    let ts = now();
    let id = run!(conn, |c| diesel::insert_into(t::table)
        .values((t::user_id.eq(user_id), t::label.eq(label), t::token_hash.eq(&hash), t::prefix.eq(&prefix), t::created_at.eq(ts)))
        .returning(t::id)
        .get_result::<i64>(c)
        .await)?;
    Ok((ApiToken { id, user_id, label: label.to_string(), prefix, created_at: ts, last_used_at: None }, token))
}

pub async fn list(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<ApiToken>> {
    let rows: Vec<TokenRow> = run!(conn, |c| t::table
        .filter(t::user_id.eq(user_id))
        .order(t::created_at.desc())
        .select((t::id, t::user_id, t::label, t::prefix, t::created_at, t::last_used_at))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Revokes one of the user's own tokens.
pub async fn revoke(conn: &mut Conn<'_>, user_id: i64, id: i64) -> Result<()> {
    let n = run!(conn, |c| diesel::delete(t::table.filter(t::id.eq(id)).filter(t::user_id.eq(user_id))).execute(c).await)?;
    if n == 0 { Err(Error::NotFound) } else { Ok(()) }
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
        .select((t::id, t::user_id))
        .first(c)
        .await
        .optional())?;
    let Some((id, user_id)) = found else { return Ok(None) };
    run!(conn, |c| diesel::update(t::table.find(id)).set(t::last_used_at.eq(Some(now()))).execute(c).await)?;
    Ok(Some(users::get(conn, user_id).await?))
}
