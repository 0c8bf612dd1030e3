//! Export links: a secret address that serves a user's calendars as an .ics feed, private (full
//! details) or free/busy (every busy time as "Busy", nothing else). The token is shown once and
//! kept only as a hash; a link is revoked by deleting it.
pub mod feed;
pub mod zones;

use base64::Engine as _;
use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{calendar_integrations as ci, export_links as el, users as u};
use crate::db::Conn;
use crate::domain::{
    audit,
    integrations::{self as ig},
    now, users, Actor, Error, Result,
};
use crate::run;
use crate::sessions::sha256_hex;

/// What a feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Titles, places, descriptions, attendees; series with their rules.
    Private,
    /// Busy times only, as "Busy", in UTC, with UIDs that reveal nothing.
    FreeBusy,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Private => "private",
            Kind::FreeBusy => "freebusy",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim() {
            "private" => Some(Kind::Private),
            "freebusy" => Some(Kind::FreeBusy),
            _ => None,
        }
    }
}

/// The most calendars one link may name (more than anyone has: the list is checked in one query).
pub const MAX_CHOSEN: usize = 100;

/// The most links one user may have.
pub const MAX_PER_USER: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: i64,
    pub user_id: i64,
    pub user: String,
    pub kind: Kind,
    /// Record names; `None`: all of the user's active calendars.
    pub integrations: Option<Vec<String>>,
    pub include_bookings: bool,
    /// The token's first characters, to tell links apart.
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub last_fetched_at: Option<NaiveDateTime>,
    pub(crate) token_hash: String,
    /// The feed as last served: its ETag, since when (Last-Modified), and the signature of
    /// what it was made from.
    pub served: Option<Served>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub etag: String,
    pub since: NaiveDateTime,
    pub signature: String,
}

type Row = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    bool,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    String,
    (Option<String>, Option<NaiveDateTime>, Option<String>),
);

macro_rules! link_columns {
    () => {
        (
            el::id,
            el::user_id,
            u::email,
            el::kind,
            el::integrations,
            el::include_bookings,
            el::prefix,
            el::created_at,
            el::last_fetched_at,
            el::token_hash,
            (el::etag, el::changed_at, el::signature),
        )
    };
}

fn of_row(r: Row) -> Link {
    let served = match r.10 {
        (Some(etag), Some(since), Some(signature)) => Some(Served { etag, since, signature }),
        _ => None,
    };
    Link {
        id: r.0,
        user_id: r.1,
        user: r.2,
        kind: Kind::parse(&r.3).unwrap_or(Kind::FreeBusy),
        integrations: r.4.and_then(|j| serde_json::from_str(&j).ok()),
        include_bookings: r.5,
        prefix: r.6,
        created_at: r.7,
        last_fetched_at: r.8,
        token_hash: r.9,
        served,
    }
}

/// What a new link asks for.
#[derive(Debug, Clone, Default)]
pub struct NewLink {
    /// The owner's email (default: the actor).
    pub user: Option<String>,
    /// `private` or `freebusy`; `None`: not given.
    pub kind: Option<String>,
    /// Record names (MM-CI-…); empty or `None`: all calendars.
    pub integrations: Option<Vec<String>>,
    pub include_bookings: bool,
}

/// Creates a link; answers it with its token (shown only now). Recorded in the audit trail
/// (an admin may make one for someone else).
pub async fn create(conn: &mut Conn<'_>, actor: Actor, new: NewLink, by: &audit::By) -> Result<(Link, String)> {
    let owner = users::subject(conn, actor, new.user.as_deref(), ig::MSG_OWN_ONLY).await?;
    let given = new.kind.as_deref().ok_or_else(|| Error::invalid("kind", "kind is required: private or freebusy."))?;
    let kind = Kind::parse(given).ok_or_else(|| Error::invalid("kind", format!("Kind '{}' is not one of private, freebusy.", given.trim())))?;
    let chosen: Option<Vec<String>> =
        new.integrations.map(|v| v.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect()).filter(|v: &Vec<String>| !v.is_empty());
    if let Some(names) = &chosen {
        if names.len() > MAX_CHOSEN {
            return Err(Error::invalid("integrations", format!("A link can name at most {MAX_CHOSEN} calendars; leave the list out for all of them.")));
        }
        let own: Vec<String> = run!(conn, |c| ci::table.filter(ci::user_id.eq(owner.id).and(ci::name.eq_any(names))).select(ci::name).load(c).await)?;
        if let Some(missing) = names.iter().find(|n| !own.contains(n)) {
            return Err(Error::invalid("integrations", format!("'{missing}' is not one of {}'s calendars.", owner.email)));
        }
    }
    let count: i64 = run!(conn, |c| el::table.filter(el::user_id.eq(owner.id)).count().get_result(c).await)?;
    if count >= MAX_PER_USER {
        return Err(Error::invalid("kind", format!("{} has {MAX_PER_USER} export links already: revoke one first.", owner.email)));
    }
    // 256 random bits, URL-safe.
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let prefix: String = token.chars().take(6).collect();
    let list = chosen.as_ref().map(|v| serde_json::to_string(v).unwrap_or_default());
    let id: i64 = run!(conn, |c| diesel::insert_into(el::table)
        .values((
            el::user_id.eq(owner.id),
            el::kind.eq(kind.as_str()),
            el::integrations.eq(list.clone()),
            el::include_bookings.eq(new.include_bookings),
            el::token_hash.eq(sha256_hex(&token)),
            el::prefix.eq(&prefix),
            el::created_at.eq(now()),
        ))
        .returning(el::id)
        .get_result(c)
        .await)?;
    let link = get(conn, actor, id).await?;
    let detail =
        format!("{} link {}… for {}", kind.as_str(), link.prefix, link.integrations.as_ref().map(|v| v.join(", ")).unwrap_or_else(|| "all calendars".into()));
    audit::record(conn, audit::Kind::ExportCreated, by, Some(&link.user), &detail).await?;
    Ok((link, token))
}

async fn by_id(conn: &mut Conn<'_>, id: i64) -> Result<Option<Link>> {
    let row: Option<Row> = run!(conn, |c| el::table.inner_join(u::table).filter(el::id.eq(id)).select(link_columns!()).first(c).await.optional())?;
    Ok(row.map(of_row))
}

/// One link, when the actor may see it (theirs, or any for an admin).
pub async fn get(conn: &mut Conn<'_>, actor: Actor, id: i64) -> Result<Link> {
    match by_id(conn, id).await? {
        Some(l) if actor.is_admin || l.user_id == actor.user_id => Ok(l),
        _ => Err(Error::NotFound),
    }
}

/// A user's links, newest first.
pub async fn list(conn: &mut Conn<'_>, actor: Actor, user: Option<&str>) -> Result<Vec<Link>> {
    let owner = users::subject(conn, actor, user, ig::MSG_OWN_ONLY).await?;
    let rows: Vec<Row> =
        run!(conn, |c| el::table.inner_join(u::table).filter(el::user_id.eq(owner.id)).order(el::id.desc()).select(link_columns!()).load(c).await)?;
    Ok(rows.into_iter().map(of_row).collect())
}

/// Revokes a link: its address answers 404 from now on.
pub async fn delete(conn: &mut Conn<'_>, actor: Actor, id: i64, by: &audit::By) -> Result<Link> {
    let link = get(conn, actor, id).await?;
    run!(conn, |c| diesel::delete(el::table.find(id)).execute(c).await)?;
    audit::record(conn, audit::Kind::ExportRevoked, by, Some(&link.user), &format!("{} link {}…", link.kind.as_str(), link.prefix)).await?;
    Ok(link)
}

/// The link a token opens, if any (and notes when it was fetched, at most once a minute).
pub async fn open(conn: &mut Conn<'_>, token: &str) -> Result<Option<Link>> {
    let hash = sha256_hex(token);
    let row: Option<Row> = run!(conn, |c| el::table
        .inner_join(u::table)
        .filter(el::token_hash.eq(&hash).and(u::disabled.eq(false)))
        .select(link_columns!())
        .first(c)
        .await
        .optional())?;
    let Some(link) = row.map(of_row) else { return Ok(None) };
    let at = now();
    if link.last_fetched_at.is_none_or(|t| at - t > chrono::Duration::minutes(1)) {
        run!(conn, |c| diesel::update(el::table.find(link.id)).set(el::last_fetched_at.eq(Some(at))).execute(c).await)?;
    }
    Ok(Some(link))
}

/// Notes the content a link serves now (its ETag, and the signature of what it was made from)
/// and answers since when it has served it: the feed's Last-Modified. A change moves it to a
/// later whole second than the one before, so an `If-Modified-Since` echoing an older
/// Last-Modified never matches newer content.
pub async fn observe(conn: &mut Conn<'_>, link: &Link, etag: &str, signature: &str) -> Result<NaiveDateTime> {
    let at = match &link.served {
        Some(s) if s.etag == etag => s.since,
        before => {
            let whole = |t: NaiveDateTime| t.with_nanosecond(0).unwrap_or(t);
            let at = whole(now()) + chrono::Duration::seconds(1);
            before.as_ref().map_or(at, |b| at.max(whole(b.since) + chrono::Duration::seconds(1)))
        }
    };
    if link.served.as_ref().is_none_or(|s| s.etag != etag || s.signature != signature) {
        run!(conn, |c| diesel::update(el::table.find(link.id))
            .set((el::etag.eq(Some(etag)), el::changed_at.eq(Some(at)), el::signature.eq(Some(signature))))
            .execute(c)
            .await)?;
    }
    Ok(at)
}

/// The feed's address under `public_url`, and its `webcal://` form.
pub fn urls(public_url: &str, token: &str) -> (String, String) {
    let url = format!("{}/ics/{token}.ics", public_url.trim_end_matches('/'));
    let webcal = match url.split_once("://") {
        Some((_, rest)) => format!("webcal://{rest}"),
        None => url.clone(),
    };
    (url, webcal)
}
