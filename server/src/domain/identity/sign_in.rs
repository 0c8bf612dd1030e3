//! The sign-in check, with throttling that slows an attacker without locking the owner out.
//!
//! - Per client address: 10 attempts per 15 minutes are free; past that each attempt must wait
//!   out a back-off that doubles (2 s, 4 s, … at most 15 minutes). It stops one address
//!   hammering, and it never touches anyone else's address.
//! - Per account: from the 4th failure on, each attempt is answered a second later per failure
//!   (at most 5 s); after 10 failures the account refuses new browsers until the window ends.
//!   A browser that signed in to the account before (it holds a device cookie whose hash is in
//!   `known_devices`) is exempt from both: the owner still gets in with the right password while
//!   someone else guesses from elsewhere. This is OWASP's "device cookie" scheme, without a
//!   CAPTCHA.
//! - Each counter is bumped and read in one write transaction before the password is checked, so
//!   a parallel burst of attempts gets no more tries than a serial one.
//! - The slow-down and the argon2 work hold no database connection, and `password` runs at most
//!   one hash per core at a time.
use crate::domain::{
    audit::{self, By, Kind},
    now,
    users::{self, User, MAX_EMAIL, MAX_PASSWORD},
    Error, Result,
};
use crate::{
    db::{
        schema::{known_devices as kd, sign_in_throttle as t},
        Conn, Pool,
    },
    password::{self, Cost},
    run,
    sessions::sha256_hex,
};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub const INVALID_CREDENTIALS: &str = "Invalid email or password.";
const WINDOW_MINUTES: i64 = 15;
const CLIENT_FREE: i64 = 10;
const ACCOUNT_SLOW_AFTER: i64 = 3;
const ACCOUNT_LOCK_AFTER: i64 = 10;
const MAX_BACKOFF_SECONDS: i64 = 15 * 60;

pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// The client's address (see the web layer's trusted-proxy rule).
    pub client: &'a str,
    /// The device cookie this browser presented, if any.
    pub device: Option<&'a str>,
}

pub struct SignedIn {
    pub user: User,
    /// A new device cookie to hand the browser (none when it presented a known one).
    pub new_device: Option<String>,
}

/// Where a counter stands after this attempt was counted.
struct Count {
    attempts: i64,
    blocked_until: Option<NaiveDateTime>,
}

pub async fn sign_in(pool: &Pool, cost: Cost, a: Attempt<'_>) -> Result<SignedIn> {
    let email = a.email.trim().to_lowercase();
    let plausible = email.len() <= MAX_EMAIL && a.password.len() <= MAX_PASSWORD;
    let client_key = format!("ip:{}", a.client);
    let bounded: String = email.chars().take(MAX_EMAIL).collect();
    let account_key = format!("email:{bounded}");
    let by = By::user(&bounded, Some(a.client));

    // 1. Who, from which browser, and the counters: one connection, released before waiting.
    let (user, known_device, delay, client_attempts) = {
        let mut pooled = pool.get().await?;
        let mut conn = pooled.conn();
        let user = if plausible { users::find_any_by_email(&mut conn, &email).await? } else { None };
        let known_device = match (&user, a.device) {
            (Some((u, _)), Some(token)) => device_user(&mut conn, token).await? == Some(u.id),
            _ => false,
        };
        let at = now();
        let client = bump(&mut conn, &client_key, at).await?;
        if let Some(wait) = client_wait(&client, at) {
            backoff(&mut conn, &client_key, at, client.attempts).await?;
            audit::record(&mut conn, Kind::SignInRefused, &by, None, "too many attempts from this address").await?;
            crate::metrics::sign_in_failed();
            return Err(Error::TooManyAttempts(format!("Too many sign-in attempts from your network. Try again in {}.", say_wait(wait))));
        }
        let mut delay = 0;
        if !known_device {
            let account = bump(&mut conn, &account_key, at).await?;
            let failures = account.attempts - 1;
            if failures >= ACCOUNT_LOCK_AFTER {
                undo(&mut conn, &client_key).await?;
                audit::record(&mut conn, Kind::SignInRefused, &by, None, "account locked for new browsers").await?;
                crate::metrics::sign_in_failed();
                return Err(Error::TooManyAttempts(
                    "Too many failed sign-ins for this account. Try again in 15 minutes, or sign in from a browser you have used with calsync before.".into(),
                ));
            }
            delay = (failures - ACCOUNT_SLOW_AFTER + 1).clamp(0, 5) as u64;
        }
        (user, known_device, delay, client.attempts)
    };

    // 2. The deliberate slow-down and the hash, holding nothing. (Tests' cheap hashing comes
    // with a short second.)
    if delay > 0 {
        let second = match cost {
            Cost::Standard => 1000,
            Cost::Test => 20,
        };
        tokio::time::sleep(std::time::Duration::from_millis(delay * second)).await;
    }
    let stored = user.as_ref().map(|(_, hash)| hash.clone());
    let ok = password::verify(cost, a.password.to_string(), stored).await;

    // 3. The outcome.
    let mut pooled = pool.get().await?;
    let mut conn = pooled.conn();
    match user {
        Some((user, _)) if ok && !user.disabled => {
            run!(&mut conn, |c| diesel::delete(t::table.find(&account_key)).execute(c).await)?;
            undo(&mut conn, &client_key).await?;
            let new_device = if known_device {
                touch_device(&mut conn, a.device.unwrap_or_default()).await?;
                None
            } else {
                Some(remember_device(&mut conn, user.id).await?)
            };
            audit::record(&mut conn, Kind::SignIn, &By::user(&user.email, Some(a.client)), None, "").await?;
            Ok(SignedIn { user, new_device })
        }
        _ => {
            if client_attempts >= CLIENT_FREE {
                backoff(&mut conn, &client_key, now(), client_attempts).await?;
            }
            let detail = if !plausible {
                ""
            } else if ok {
                "account disabled"
            } else {
                "wrong email or password"
            };
            audit::record(&mut conn, Kind::SignInFailed, &by, None, detail).await?;
            crate::metrics::sign_in_failed();
            Err(Error::Unauthenticated(INVALID_CREDENTIALS.into()))
        }
    }
}

/// Counts one attempt under `key` and reads the counter back, in one write transaction (a new
/// window starts when the old one is over).
async fn bump(conn: &mut Conn<'_>, key: &str, at: NaiveDateTime) -> Result<Count> {
    let key = key.to_string();
    let window_over = at - Duration::minutes(WINDOW_MINUTES);
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            run!(&mut c, |cc| diesel::insert_into(t::table)
                .values((t::key.eq(&key), t::attempts.eq(1i64), t::window_start.eq(at)))
                .on_conflict(t::key)
                .do_update()
                .set(t::attempts.eq(t::attempts + 1i64))
                .execute(cc)
                .await)?;
            let (attempts, start, blocked_until): (i64, NaiveDateTime, Option<NaiveDateTime>) =
                run!(&mut c, |cc| t::table.find(&key).select((t::attempts, t::window_start, t::blocked_until)).first(cc).await)?;
            if start < window_over && blocked_until.is_none_or(|b| b <= at) {
                run!(&mut c, |cc| diesel::update(t::table.find(&key))
                    .set((t::attempts.eq(1i64), t::window_start.eq(at), t::blocked_until.eq(None::<NaiveDateTime>)))
                    .execute(cc)
                    .await)?;
                return Ok(Count { attempts: 1, blocked_until: None });
            }
            Ok::<_, Error>(Count { attempts, blocked_until })
        })
    })
    .await
}

/// How long this client must still wait, if it must: past the free attempts, only an attempt
/// made after the back-off the last failure set goes through (so a burst all waits).
fn client_wait(c: &Count, at: NaiveDateTime) -> Option<Duration> {
    if c.attempts <= CLIENT_FREE {
        return None;
    }
    match c.blocked_until {
        Some(b) if b <= at => None,
        Some(b) => Some(b - at),
        None => Some(Duration::seconds(backoff_seconds(c.attempts))),
    }
}

fn backoff_seconds(attempts: i64) -> i64 {
    let over = (attempts - CLIENT_FREE + 1).clamp(1, 20) as u32;
    2i64.saturating_pow(over).min(MAX_BACKOFF_SECONDS)
}

async fn backoff(conn: &mut Conn<'_>, key: &str, at: NaiveDateTime, attempts: i64) -> Result<()> {
    let until = at + Duration::seconds(backoff_seconds(attempts));
    run!(conn, |c| diesel::update(t::table.find(key)).set(t::blocked_until.eq(Some(until))).execute(c).await)?;
    Ok(())
}

/// Takes back an attempt that turned out to be no guess (a success, or an account refusal).
async fn undo(conn: &mut Conn<'_>, key: &str) -> Result<()> {
    run!(conn, |c| diesel::update(t::table.find(key).filter(t::attempts.gt(0i64))).set(t::attempts.eq(t::attempts - 1i64)).execute(c).await)?;
    Ok(())
}

fn say_wait(d: Duration) -> String {
    let s = d.num_seconds().max(1);
    if s < 90 {
        format!("{s} seconds")
    } else {
        format!("{} minutes", (s + 59) / 60)
    }
}

async fn device_user(conn: &mut Conn<'_>, token: &str) -> Result<Option<i64>> {
    let hash = sha256_hex(token);
    Ok(run!(conn, |c| kd::table.find(&hash).select(kd::user_id).first::<i64>(c).await.optional())?)
}

async fn touch_device(conn: &mut Conn<'_>, token: &str) -> Result<()> {
    let hash = sha256_hex(token);
    run!(conn, |c| diesel::update(kd::table.find(&hash)).set(kd::last_seen.eq(now())).execute(c).await)?;
    Ok(())
}

async fn remember_device(conn: &mut Conn<'_>, user_id: i64) -> Result<String> {
    let bytes: [u8; 32] = rand::random();
    let token = hex::encode(bytes);
    let hash = sha256_hex(&token);
    run!(conn, |c| diesel::insert_into(kd::table).values((kd::token_hash.eq(&hash), kd::user_id.eq(user_id), kd::last_seen.eq(now()))).execute(c).await)?;
    Ok(token)
}

/// Forgets counters whose window is long over and browsers unseen for a year.
pub async fn prune(conn: &mut Conn<'_>) -> Result<()> {
    let at = now();
    let stale = at - Duration::minutes(WINDOW_MINUTES) - Duration::seconds(MAX_BACKOFF_SECONDS);
    run!(conn, |c| diesel::delete(t::table.filter(t::window_start.lt(stale))).execute(c).await)?;
    run!(conn, |c| diesel::delete(kd::table.filter(kd::last_seen.lt(at - Duration::days(365)))).execute(c).await)?;
    Ok(())
}
