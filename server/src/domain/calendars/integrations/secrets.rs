//! A calendar record's secrets at rest: its tokens (mirrored from its provider account) and
//! its iCal address, sealed with the keyring; masking, re-encrypting and checking keys.
use super::*;

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

pub(super) fn open_secrets(keys: &Keyring, row: &Row) -> Result<(Option<Secret>, Option<Secret>)> {
    let open = |col: &str, v: &Option<String>| -> Result<Option<Secret>> {
        v.as_ref().map(|s| keys.decrypt(s, &context(col, &row.name)).map_err(|e| Error::Internal(e.to_string()))).transpose()
    };
    Ok((open("access_token", &row.access_token)?, open("refresh_token", &row.refresh_token)?))
}

/// The column the sealed feed address is bound to.
pub(super) const URL_COLUMN: &str = "ical_url";

/// A feed address as stored: (masked form to show, the full one sealed).
pub(super) fn seal_url(keys: &Keyring, name: &str, url: Option<&str>) -> (Option<String>, Option<String>) {
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
            if segments.len() > 1 {
                format!("/…/{last}")
            } else {
                format!("/{last}")
            }
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
                run!(c, |cc| diesel::update(ci::table.find(*id)).set((ci::ical_url.eq(&shown), ci::ical_url_secret.eq(&sealed))).execute(cc).await)?;
            }
            Ok(plain.len())
        })
    })
    .await
}

/// The spec's token fields of the calendars connected through account `account_id` follow
/// its tokens (call inside the transaction that stores them).
pub(crate) async fn mirror_tokens(
    c: &mut Conn<'_>,
    keys: &Keyring,
    account_id: i64,
    access: &Secret,
    refresh: Option<&Secret>,
    expiry: Option<NaiveDateTime>,
) -> Result<()> {
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
pub(super) async fn refreshed_automatically(c: &mut Conn<'_>, record: &Integration) -> Result<bool> {
    use crate::db::schema::provider_accounts as pa;
    let Some(account) = record.account_id else { return Ok(false) };
    let revoked: Option<Option<String>> = run!(c, |cc| pa::table.find(account).select(pa::revoked_error).first(cc).await.optional())?;
    Ok(matches!(revoked, Some(None)))
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
