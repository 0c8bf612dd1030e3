//! Accounts: who may sign in, with which role and time zone, and the sign-in check itself.
use crate::domain::{
    audit::{self, By, Kind},
    is_unique_violation, now, Error, FieldMessage, Report, Result,
};
use crate::{
    db::{
        schema::{sessions, users},
        Conn,
    },
    password::{self, Cost},
    run,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
    /// The name people see: admins are "System Manager", as in the original specification.
    pub fn label(self) -> &'static str {
        match self {
            Role::User => "User",
            Role::Admin => "System Manager",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "user" => Some(Role::User),
            "admin" | "system manager" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub password_hash: String,
    pub role: String,
    pub time_zone: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
}

/// A user as the rest of calsync sees it (no password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub time_zone: String,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    pub fn display_name(&self) -> &str {
        if self.full_name.trim().is_empty() {
            &self.email
        } else {
            &self.full_name
        }
    }
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            role: Role::parse(&r.role).unwrap_or(Role::User),
            time_zone: r.time_zone,
            disabled: r.disabled,
            created_at: r.created_at,
            modified_at: r.modified_at,
        }
    }
}

pub const MAX_EMAIL: usize = 254;
pub const MAX_NAME: usize = 140;
/// ASVS 2.1.1.
pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 1024;

/// Parses an email address: trimmed, lower-cased (addresses are unique ignoring case).
pub fn parse_email(input: &str) -> Result<String, FieldMessage> {
    let email = input.trim().to_lowercase();
    if email.is_empty() {
        return Err(FieldMessage::new("email", "Email is required."));
    }
    if email.chars().count() > MAX_EMAIL {
        return Err(FieldMessage::new("email", "Email is too long (at most 254 characters)."));
    }
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',')
        }
        None => false,
    };
    if !valid {
        return Err(FieldMessage::new("email", format!("'{}' is not a valid email address.", input.trim())));
    }
    Ok(email)
}

pub fn check_password(field: &str, password: &str) -> Result<(), FieldMessage> {
    if password.is_empty() {
        return Err(FieldMessage::new(field, "Password is required."));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(FieldMessage::new(field, "Password must be at least 12 characters."));
    }
    if password.len() > MAX_PASSWORD {
        return Err(FieldMessage::new(field, "Password is too long (at most 1024 characters)."));
    }
    if password::is_common(password) {
        return Err(FieldMessage::new(field, "This password is on the list of the most common passwords found in breaches. Please choose another."));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<String, FieldMessage> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME {
        return Err(FieldMessage::new("full_name", "Full Name is too long (at most 140 characters)."));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(FieldMessage::new("full_name", "Full Name cannot contain control characters."));
    }
    Ok(name.to_string())
}

pub fn check_time_zone(tz: &str) -> Result<String, FieldMessage> {
    let tz = tz.trim();
    tz.parse::<chrono_tz::Tz>()
        .map(|z| z.name().to_string())
        .map_err(|_| FieldMessage::new("time_zone", format!("'{tz}' is not a known time zone (for example Europe/Berlin).")))
}

fn collect(results: Vec<Result<(), FieldMessage>>) -> Result<()> {
    let errors: Vec<FieldMessage> = results.into_iter().filter_map(|r| r.err()).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(Report::errors(errors)))
    }
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub full_name: String,
    pub password: String,
    pub role: Role,
    pub time_zone: String,
}

pub async fn create(conn: &mut Conn<'_>, cost: Cost, new: NewUser) -> Result<User> {
    let email = parse_email(&new.email);
    let name = check_name(&new.full_name);
    let tz = check_time_zone(&new.time_zone);
    collect(vec![
        email.as_ref().map(|_| ()).map_err(Clone::clone),
        name.as_ref().map(|_| ()).map_err(Clone::clone),
        check_password("password", &new.password),
        tz.as_ref().map(|_| ()).map_err(Clone::clone),
    ])?;
    let (email, name, tz) = (email.unwrap(), name.unwrap(), tz.unwrap());
    if find_row_by_email(conn, &email).await?.is_some() {
        return Err(taken(&email));
    }
    let hash = password::hash(cost, new.password).await;
    let ts = now();
    let inserted = run!(conn, |c| diesel::insert_into(users::table)
        .values((
            users::email.eq(&email),
            users::full_name.eq(&name),
            users::password_hash.eq(&hash),
            users::role.eq(new.role.as_str()),
            users::time_zone.eq(&tz),
            users::disabled.eq(false),
            users::created_at.eq(ts),
            users::modified_at.eq(ts),
        ))
        .returning(UserRow::as_returning())
        .get_result::<UserRow>(c)
        .await);
    match inserted {
        Ok(row) => Ok(row.into()),
        // Two requests raced for the same address: the database decided.
        Err(e) if is_unique_violation(&e) => Err(taken(&email)),
        Err(e) => Err(e.into()),
    }
}

/// Creates an account on someone's behalf (an admin's page, the CLI), and says so in the audit
/// trail. (`create` alone is for seeding and tests.)
pub async fn create_by(conn: &mut Conn<'_>, cost: Cost, new: NewUser, by: &By) -> Result<User> {
    let user = create(conn, cost, new).await?;
    audit::record(conn, Kind::UserCreated, by, Some(&user.email), user.role.label()).await?;
    Ok(user)
}

fn taken(email: &str) -> Error {
    Error::invalid("email", format!("A user with email '{email}' already exists."))
}

async fn find_row_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Option<UserRow>> {
    Ok(run!(conn, |c| users::table.filter(users::email.eq(email)).select(UserRow::as_select()).first::<UserRow>(c).await.optional())?)
}

/// Finds a user by email, ignoring case and surrounding spaces.
pub async fn find_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Option<User>> {
    let email = email.trim().to_lowercase();
    Ok(find_row_by_email(conn, &email).await?.map(User::from))
}

pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<User> {
    Ok(run!(conn, |c| users::table.find(id).select(UserRow::as_select()).first::<UserRow>(c).await)?.into())
}

pub async fn list(conn: &mut Conn<'_>) -> Result<Vec<User>> {
    Ok(run!(conn, |c| users::table.order(users::email.asc()).select(UserRow::as_select()).load::<UserRow>(c).await)?.into_iter().map(User::from).collect())
}

pub async fn count(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(run!(conn, |c| users::table.count().get_result::<i64>(c).await)?)
}

/// Changes name and time zone (the profile page).
pub async fn update_profile(conn: &mut Conn<'_>, id: i64, full_name: &str, time_zone: &str) -> Result<User> {
    let name = check_name(full_name);
    let tz = check_time_zone(time_zone);
    collect(vec![name.as_ref().map(|_| ()).map_err(Clone::clone), tz.as_ref().map(|_| ()).map_err(Clone::clone)])?;
    let (name, tz) = (name.unwrap(), tz.unwrap());
    let n = run!(conn, |c| diesel::update(users::table.find(id))
        .set((users::full_name.eq(&name), users::time_zone.eq(&tz), users::modified_at.eq(now())))
        .execute(c)
        .await)?;
    if n == 0 {
        return Err(Error::NotFound);
    }
    get(conn, id).await
}

/// A user changes their own password: the current one must be right. Every session of the user
/// ends (the caller signs its own browser in again under a fresh session id).
pub async fn change_password(conn: &mut Conn<'_>, cost: Cost, id: i64, current: &str, new: &str, by: &By) -> Result<()> {
    let row = run!(conn, |c| users::table.find(id).select(UserRow::as_select()).first::<UserRow>(c).await)?;
    let mut errors = Vec::new();
    if !password::verify(cost, current.to_string(), Some(row.password_hash)).await {
        errors.push(FieldMessage::new("current_password", "Current password is incorrect."));
    }
    if let Err(e) = check_password("new_password", new) {
        errors.push(e);
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(Report::errors(errors)));
    }
    write_password(conn, cost, id, new, (Kind::PasswordChanged, by, &row.email, "other sessions ended")).await
}

/// An admin (or the CLI) sets a password without knowing the old one; every session of that
/// user ends.
pub async fn set_password(conn: &mut Conn<'_>, cost: Cost, id: i64, new: &str, by: &By) -> Result<()> {
    check_password("password", new).map_err(|e| Error::Invalid(Report::errors(vec![e])))?;
    let user = get(conn, id).await?;
    write_password(conn, cost, id, new, (Kind::PasswordReset, by, &user.email, "all sessions ended")).await
}

/// Writes the new hash, ends every session of the user and records `event` (kind, by, account,
/// detail) in the audit trail, in one transaction.
async fn write_password(conn: &mut Conn<'_>, cost: Cost, id: i64, new: &str, event: (Kind, &By, &str, &str)) -> Result<()> {
    let hash = password::hash(cost, new.to_string()).await;
    let (kind, by, email, detail) = (event.0, event.1.clone(), event.2.to_string(), event.3.to_string());
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            run!(&mut c, |cc| diesel::update(users::table.find(id)).set((users::password_hash.eq(&hash), users::modified_at.eq(now()))).execute(cc).await)?;
            run!(&mut c, |cc| diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(cc).await)?;
            audit::record(&mut c, kind, &by, Some(&email), &detail).await
        })
    })
    .await
}

const LAST_ADMIN: &str = "calsync needs at least one active System Manager; make another user an admin first.";

/// Disables or enables an account. A disabled user's open sessions end at once.
pub async fn set_disabled(conn: &mut Conn<'_>, id: i64, disabled: bool, by: &By) -> Result<User> {
    let by = by.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let user = get(&mut c, id).await?;
            if disabled && user.is_admin() && active_admins(&mut c).await? <= 1 {
                return Err(Error::Conflict(LAST_ADMIN.into()));
            }
            run!(&mut c, |cc| diesel::update(users::table.find(id)).set((users::disabled.eq(disabled), users::modified_at.eq(now()))).execute(cc).await)?;
            if disabled {
                run!(&mut c, |cc| diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(cc).await)?;
            }
            let kind = if disabled { Kind::UserDisabled } else { Kind::UserEnabled };
            audit::record(&mut c, kind, &by, Some(&user.email), "").await?;
            get(&mut c, id).await
        })
    })
    .await
}

pub async fn set_role(conn: &mut Conn<'_>, id: i64, role: Role, by: &By) -> Result<User> {
    let by = by.clone();
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let user = get(&mut c, id).await?;
            if user.is_admin() && role == Role::User && !user.disabled && active_admins(&mut c).await? <= 1 {
                return Err(Error::Conflict(LAST_ADMIN.into()));
            }
            run!(&mut c, |cc| diesel::update(users::table.find(id)).set((users::role.eq(role.as_str()), users::modified_at.eq(now()))).execute(cc).await)?;
            audit::record(&mut c, Kind::RoleChanged, &by, Some(&user.email), role.label()).await?;
            get(&mut c, id).await
        })
    })
    .await
}

async fn active_admins(conn: &mut Conn<'_>) -> Result<i64> {
    Ok(run!(conn, |c| users::table.filter(users::role.eq("admin")).filter(users::disabled.eq(false)).count().get_result::<i64>(c).await)?)
}

/// The user with this (normalised) address and their password hash, for the sign-in check.
pub async fn find_any_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Option<(User, String)>> {
    Ok(find_row_by_email(conn, email).await?.map(|r| {
        let hash = r.password_hash.clone();
        (r.into(), hash)
    }))
}

/// The user an actor names: themselves (no email), or anyone for an admin; a user naming
/// someone else is refused with `own_only` (whether or not that user exists).
pub async fn subject(conn: &mut Conn<'_>, actor: crate::domain::Actor, email: Option<&str>, own_only: &str) -> Result<User> {
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    let user = match email {
        None => Some(get(conn, actor.user_id).await?),
        Some(e) => find_by_email(conn, e).await?,
    };
    match user {
        Some(u) if actor.is_admin || u.id == actor.user_id => Ok(u),
        _ if !actor.is_admin => Err(Error::Forbidden(own_only.into())),
        _ => Err(Error::invalid("user", format!("There is no user with the email '{}'.", email.unwrap_or_default()))),
    }
}
