//! The audit trail: who did what to accounts, tokens and keys. Each event is one row (the Admin →
//! Audit page) and one structured log line (target `audit`), written by the domain function that
//! did the thing, so every way in (pages, REST, CLI) leaves the same trace.
use crate::domain::{now, Result};
use crate::{
    db::{schema::audit_log as a, Conn},
    run,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// What happened. The string forms are stored and offered as the page's filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    SignIn,
    SignInFailed,
    SignInRefused,
    SignOut,
    PasswordChanged,
    PasswordReset,
    UserCreated,
    RoleChanged,
    UserDisabled,
    UserEnabled,
    TokenCreated,
    TokenRevoked,
    KeysRotated,
    ExportCreated,
    ExportRevoked,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::SignIn,
        Kind::SignInFailed,
        Kind::SignInRefused,
        Kind::SignOut,
        Kind::PasswordChanged,
        Kind::PasswordReset,
        Kind::UserCreated,
        Kind::RoleChanged,
        Kind::UserDisabled,
        Kind::UserEnabled,
        Kind::TokenCreated,
        Kind::TokenRevoked,
        Kind::KeysRotated,
        Kind::ExportCreated,
        Kind::ExportRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SignIn => "sign-in",
            Kind::SignInFailed => "sign-in failed",
            Kind::SignInRefused => "sign-in refused",
            Kind::SignOut => "sign-out",
            Kind::PasswordChanged => "password changed",
            Kind::PasswordReset => "password reset",
            Kind::UserCreated => "user created",
            Kind::RoleChanged => "role changed",
            Kind::UserDisabled => "user disabled",
            Kind::UserEnabled => "user enabled",
            Kind::TokenCreated => "token created",
            Kind::TokenRevoked => "token revoked",
            Kind::KeysRotated => "keys rotated",
            Kind::ExportCreated => "export link created",
            Kind::ExportRevoked => "export link revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who acted, from where. `actor` is an email, or "cli" for the command line; `client` the
/// client address when the act came over HTTP.
#[derive(Clone, Debug, Default)]
pub struct By {
    pub actor: String,
    pub client: Option<String>,
}

impl By {
    pub fn user(email: &str, client: Option<&str>) -> By {
        By { actor: email.to_string(), client: client.map(str::to_string) }
    }
    pub fn cli() -> By {
        By { actor: "cli".into(), client: None }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub kind: String,
    pub actor: String,
    pub subject: Option<String>,
    pub client: Option<String>,
    pub detail: String,
}

/// Records one event: a row and a log line. `subject` is the account (email) acted on.
pub async fn record(conn: &mut Conn<'_>, kind: Kind, by: &By, subject: Option<&str>, detail: &str) -> Result<()> {
    tracing::info!(target: "audit", kind = kind.as_str(), actor = %by.actor, subject = subject.unwrap_or(""), client = by.client.as_deref().unwrap_or(""), detail, "audit");
    let at = now();
    run!(conn, |c| diesel::insert_into(a::table)
        .values((
            a::at.eq(at),
            a::kind.eq(kind.as_str()),
            a::actor.eq(&by.actor),
            a::subject.eq(subject),
            a::client.eq(by.client.as_deref()),
            a::detail.eq(detail),
        ))
        .execute(c)
        .await)?;
    Ok(())
}

/// Which entries to list: by the account involved (as actor or subject) and by kind.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub kind: Option<Kind>,
    pub limit: i64,
    pub offset: i64,
}

/// Newest first, with the total that matched.
pub async fn list(conn: &mut Conn<'_>, f: &Filter) -> Result<(Vec<Entry>, i64)> {
    type Row = (i64, NaiveDateTime, String, String, Option<String>, Option<String>, String);
    macro_rules! filtered {
        () => {{
            let mut q = a::table.into_boxed::<Db>();
            if let Some(u) = &f.user {
                q = q.filter(a::actor.eq(u.clone()).or(a::subject.eq(u.clone())));
            }
            if let Some(k) = f.kind {
                q = q.filter(a::kind.eq(k.as_str()));
            }
            q
        }};
    }
    let total: i64 = run!(conn, |c| filtered!().count().get_result(c).await)?;
    let rows: Vec<Row> = run!(conn, |c| filtered!()
        .order((a::at.desc(), a::id.desc()))
        .limit(f.limit.clamp(1, 500))
        .offset(f.offset.max(0))
        .select((a::id, a::at, a::kind, a::actor, a::subject, a::client, a::detail))
        .load(c)
        .await)?;
    let entries = rows.into_iter().map(|r| Entry { id: r.0, at: r.1, kind: r.2, actor: r.3, subject: r.4, client: r.5, detail: r.6 }).collect();
    Ok((entries, total))
}
