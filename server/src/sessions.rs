//! Sessions live in our own database (table `sessions`) so they survive restarts and are shared
//! by every `calsync serve` process. Rows are keyed by a SHA-256 of the session id, so a copy of
//! the table cannot be replayed as cookies.
use crate::{
    db::{schema::sessions, Pool},
    domain::{self, users::User},
    run,
};
use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, ExpiredDeletion, SessionStore},
    Session,
};

#[derive(Clone)]
pub struct DbSessionStore {
    pool: Pool,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

impl DbSessionStore {
    pub fn new(pool: Pool) -> Self {
        DbSessionStore { pool }
    }
}

pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

fn key(id: &Id) -> String {
    sha256_hex(&id.to_string())
}

fn backend<E: std::fmt::Display>(e: E) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn expiry(record: &Record) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(record.expiry_date.unix_timestamp(), 0).unwrap_or_default().naive_utc()
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut pooled = self.pool.get().await.map_err(backend)?;
        let mut conn = pooled.conn();
        loop {
            let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let (id, user, exp) = (key(&record.id), user_of(record), expiry(record));
            let inserted = run!(&mut conn, |c| diesel::insert_into(sessions::table)
                .values((sessions::id.eq(&id), sessions::user_id.eq(user), sessions::data.eq(&data), sessions::expires_at.eq(exp),))
                .execute(c)
                .await);
            match inserted {
                Ok(_) => return Ok(()),
                Err(e) if domain::is_unique_violation(&e) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let (id, user, exp) = (key(&record.id), user_of(record), expiry(record));
        let mut pooled = self.pool.get().await.map_err(backend)?;
        run!(&mut pooled.conn(), |c| diesel::insert_into(sessions::table)
            .values((sessions::id.eq(&id), sessions::user_id.eq(user), sessions::data.eq(&data), sessions::expires_at.eq(exp),))
            .on_conflict(sessions::id)
            .do_update()
            .set((sessions::user_id.eq(user), sessions::data.eq(&data), sessions::expires_at.eq(exp)))
            .execute(c)
            .await)
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let id = key(session_id);
        let mut pooled = self.pool.get().await.map_err(backend)?;
        let row = run!(&mut pooled.conn(), |c| sessions::table
            .find(&id)
            .filter(sessions::expires_at.gt(domain::now()))
            .select((sessions::data, sessions::expires_at))
            .first::<(String, chrono::NaiveDateTime)>(c)
            .await
            .optional())
        .map_err(backend)?;
        let Some((data, exp)) = row else { return Ok(None) };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(exp.and_utc().timestamp()).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *session_id, data, expiry_date }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let id = key(session_id);
        let mut pooled = self.pool.get().await.map_err(backend)?;
        run!(&mut pooled.conn(), |c| diesel::delete(sessions::table.find(&id)).execute(c).await).map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        let mut pooled = self.pool.get().await.map_err(backend)?;
        run!(&mut pooled.conn(), |c| diesel::delete(sessions::table.filter(sessions::expires_at.le(domain::now()))).execute(c).await).map_err(backend)?;
        Ok(())
    }
}

const USER_ID: &str = "user_id";
const AUTH_AT: &str = "auth_at";

/// The signed-in user's id is kept in a column too, so disabling a user can end their sessions.
fn user_of(record: &Record) -> Option<i64> {
    record.data.get(USER_ID).and_then(|v| v.as_i64())
}

/// Marks the session as signed in as `user`, under a fresh session id (no fixation).
pub async fn sign_in(session: &Session, user: &User) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID, user.id).await?;
    session.insert(AUTH_AT, chrono::Utc::now().timestamp()).await?;
    Ok(())
}

pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}

/// The user this session is signed in as: none when signed out, past the absolute lifetime,
/// or when the account was disabled or deleted meanwhile (the session is then ended).
pub async fn current_user(pool: &Pool, session: &Session, max_age: Duration) -> Result<Option<User>, domain::Error> {
    let user_id: Option<i64> = session.get(USER_ID).await.ok().flatten();
    let Some(user_id) = user_id else { return Ok(None) };
    let auth_at: i64 = session.get(AUTH_AT).await.ok().flatten().unwrap_or(0);
    let age = chrono::Utc::now().timestamp() - auth_at;
    if age < 0 || age as u64 > max_age.as_secs() {
        let _ = session.flush().await;
        return Ok(None);
    }
    let mut pooled = pool.get().await?;
    match domain::users::get(&mut pooled.conn(), user_id).await {
        Ok(user) if !user.disabled => Ok(Some(user)),
        Ok(_) | Err(domain::Error::NotFound) => {
            let _ = session.flush().await;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

const FLASH: &str = "flash";
/// How many flashes a session keeps (a few tabs posting at once); older ones are forgotten.
const FLASH_KEPT: usize = 4;

/// Keeps what a page must say after a redirect (the result of a form posted without
/// JavaScript) in the session, under a random id. Only the id travels in the address, so a
/// crafted link can neither put words in the app's mouth nor prefill someone's form.
pub async fn put_flash<T: serde::Serialize>(session: &Session, value: &T) -> Result<String, tower_sessions::session::Error> {
    let id = format!("{:016x}", rand::random::<u64>());
    let mut kept: Vec<(String, serde_json::Value)> = session.get(FLASH).await?.unwrap_or_default();
    kept.push((id.clone(), serde_json::to_value(value).map_err(tower_sessions::session::Error::SerdeJson)?));
    let drop = kept.len().saturating_sub(FLASH_KEPT);
    kept.drain(..drop);
    session.insert(FLASH, kept).await?;
    Ok(id)
}

/// The flash saved under `id` in this session, if any (reading it again, after a reload,
/// shows the same).
pub async fn flash<T: serde::de::DeserializeOwned>(session: &Session, id: &str) -> Option<T> {
    let kept: Vec<(String, serde_json::Value)> = session.get(FLASH).await.ok().flatten()?;
    kept.into_iter().find(|(k, _)| k == id).and_then(|(_, v)| serde_json::from_value(v).ok())
}
