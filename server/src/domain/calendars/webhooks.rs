//! Push channels: each lets the provider tell calsync that a calendar changed (Google
//! events.watch). A notification is believed only when its channel is known and carries the
//! token calsync gave the channel; it then puts the calendar at the front of the queue, once
//! however many notifications arrive before the sync starts.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{sync_states as ss, webhook_channels as wc};
use crate::db::Conn;
use crate::domain::{now, Result};
use crate::run;
use crate::sessions::sha256_hex;

#[derive(Clone, Debug, PartialEq, Queryable, Selectable)]
#[diesel(table_name = wc)]
pub struct Channel {
    pub id: i64,
    pub integration_id: i64,
    pub channel_id: String,
    pub resource_id: Option<String>,
    token_hash: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub last_message_at: Option<NaiveDateTime>,
}

pub async fn add(conn: &mut Conn<'_>, integration_id: i64, channel_id: &str, resource_id: Option<&str>, token: &str, expires_at: NaiveDateTime) -> Result<()> {
    run!(conn, |c| diesel::insert_into(wc::table)
        .values((
            wc::integration_id.eq(integration_id),
            wc::channel_id.eq(channel_id),
            wc::resource_id.eq(resource_id),
            wc::token_hash.eq(sha256_hex(token)),
            wc::expires_at.eq(expires_at),
            wc::created_at.eq(now()),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// The calendar's channels, newest first.
pub async fn of(conn: &mut Conn<'_>, integration_id: i64) -> Result<Vec<Channel>> {
    Ok(run!(conn, |c| wc::table.filter(wc::integration_id.eq(integration_id)).order(wc::expires_at.desc()).select(Channel::as_select()).load(c).await)?)
}

/// The channels of these calendars (the pages show when each one's push ends).
pub async fn of_many(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<Channel>> {
    Ok(run!(conn, |c| wc::table.filter(wc::integration_id.eq_any(ids)).select(Channel::as_select()).load(c).await)?)
}

pub async fn remove(conn: &mut Conn<'_>, channel_id: &str) -> Result<()> {
    run!(conn, |c| diesel::delete(wc::table.filter(wc::channel_id.eq(channel_id))).execute(c).await)?;
    Ok(())
}

/// What a notification did.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// The channel's first message (`sync`): acknowledged, nothing to do.
    Acknowledged,
    /// The calendar is queued for a sync (or already was).
    Queued(i64),
    /// No such channel, or the wrong token: nothing changed.
    Refused,
}

/// A notification for `channel_id` with `token`; `change`: whether it reports a change.
pub async fn heard(conn: &mut Conn<'_>, channel_id: &str, token: &str, change: bool) -> Result<Heard> {
    let found: Option<Channel> = run!(conn, |c| wc::table.filter(wc::channel_id.eq(channel_id)).select(Channel::as_select()).first(c).await.optional())?;
    // Hashes are compared, so timing reveals nothing of the token.
    let Some(channel) = found.filter(|c| c.token_hash == sha256_hex(token)) else {
        return Ok(Heard::Refused);
    };
    let at = now();
    run!(conn, |c| diesel::update(wc::table.find(channel.id)).set(wc::last_message_at.eq(Some(at))).execute(c).await)?;
    if !change {
        return Ok(Heard::Acknowledged);
    }
    // Queued once: a burst of notifications before the sync starts is one sync; one during a
    // sync is one more sync right after it.
    run!(conn, |c| diesel::update(ss::table.find(channel.integration_id).filter(ss::queued_at.is_null())).set(ss::queued_at.eq(Some(at))).execute(c).await)?;
    Ok(Heard::Queued(channel.integration_id))
}

/// A Graph lifecycle notification for a subscription (with its client state).
pub async fn lifecycle(conn: &mut Conn<'_>, channel_id: &str, token: &str, event: &str) -> Result<Heard> {
    let heard = heard(conn, channel_id, token, true).await?;
    if let Heard::Queued(_) = heard {
        match event {
            // Renewed (a new subscription) by the sync it queued.
            "reauthorizationRequired" => {
                run!(conn, |c| diesel::update(wc::table.filter(wc::channel_id.eq(channel_id))).set(wc::expires_at.eq(now())).execute(c).await)?;
            }
            // Gone at the provider: the sync it queued opens a new one.
            "subscriptionRemoved" => remove(conn, channel_id).await?,
            // "missed": the queued sync catches up.
            _ => {}
        }
    }
    Ok(heard)
}
