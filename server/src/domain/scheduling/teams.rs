//! Teams (the spec's departments): a name and members, among whom a booking for the team is
//! assigned. Admins create and change them; a member sees the teams they are in.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::{team_members as tm, teams as t, users as u};
use crate::db::Conn;
use crate::domain::{is_unique_violation, now, users, Actor, Error, FieldMessage, Report, Result};
use crate::run;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub const MSG_ADMIN_ONLY: &str = "Only an admin can create, change or remove teams.";
pub const NAME_MAX: usize = 140;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub name: String,
    /// By email.
    pub members: Vec<users::User>,
    pub created_at: NaiveDateTime,
    pub modified_at: NaiveDateTime,
}

impl Team {
    pub fn emails(&self) -> Vec<String> {
        self.members.iter().map(|m| m.email.clone()).collect()
    }
}

/// What a create or change asks for: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub name: Option<String>,
    pub members: Option<Vec<String>>,
}

fn admin(actor: Actor) -> Result<()> {
    if actor.is_admin {
        Ok(())
    } else {
        Err(Error::Forbidden(MSG_ADMIN_ONLY.into()))
    }
}

async fn members_of(conn: &mut Conn<'_>, ids: &[i64]) -> Result<Vec<(i64, users::User)>> {
    let ids = ids.to_vec();
    let rows: Vec<(i64, users::UserRow)> = run!(conn, |c| tm::table
        .inner_join(u::table)
        .filter(tm::team_id.eq_any(&ids))
        .order(u::email)
        .select((tm::team_id, users::UserRow::as_select()))
        .load(c)
        .await)?;
    Ok(rows.into_iter().map(|(t, r)| (t, users::User::from(r))).collect())
}

type Row = (i64, String, NaiveDateTime, NaiveDateTime);

async fn assemble(conn: &mut Conn<'_>, rows: Vec<Row>) -> Result<Vec<Team>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut members: std::collections::HashMap<i64, Vec<users::User>> = std::collections::HashMap::new();
    for (team, user) in members_of(conn, &ids).await? {
        members.entry(team).or_default().push(user);
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, modified_at)| Team { id, name, members: members.remove(&id).unwrap_or_default(), created_at, modified_at })
        .collect())
}

/// The teams an actor sees: every team for an admin, their own for a member; by name.
pub async fn list(conn: &mut Conn<'_>, actor: Actor) -> Result<Vec<Team>> {
    let me = actor.user_id;
    let rows: Vec<Row> = if actor.is_admin {
        run!(conn, |c| t::table.order(t::name).select((t::id, t::name, t::created_at, t::modified_at)).load(c).await)?
    } else {
        run!(conn, |c| t::table
            .filter(t::id.eq_any(tm::table.filter(tm::user_id.eq(me)).select(tm::team_id)))
            .order(t::name)
            .select((t::id, t::name, t::created_at, t::modified_at))
            .load(c)
            .await)?
    };
    assemble(conn, rows).await
}

/// A team by name (ignoring case), if the actor may see it (an admin, or one of its members).
pub async fn get(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<Team> {
    let key = name.trim().to_lowercase();
    let rows: Vec<Row> = run!(conn, |c| t::table.filter(lower(t::name).eq(&key)).select((t::id, t::name, t::created_at, t::modified_at)).load(c).await)?;
    let team = assemble(conn, rows).await?.pop().ok_or(Error::NotFound)?;
    if actor.is_admin || team.members.iter().any(|m| m.id == actor.user_id) {
        Ok(team)
    } else {
        Err(Error::NotFound)
    }
}

/// Checks a name and the members' emails; answers the members' ids.
async fn check(conn: &mut Conn<'_>, name: Option<&str>, members: Option<&[String]>) -> Result<Vec<i64>> {
    let mut errors = Vec::new();
    if let Some(name) = name {
        let name = name.trim();
        if name.is_empty() {
            errors.push(FieldMessage::new("name", "Name is required."));
        } else if name.chars().count() > NAME_MAX {
            errors.push(FieldMessage::new("name", format!("Name cannot exceed {NAME_MAX} characters.")));
        } else if name.contains('/') {
            errors.push(FieldMessage::new("name", "Name cannot contain '/'."));
        }
    }
    let mut ids = Vec::new();
    for email in members.unwrap_or_default() {
        match users::find_by_email(conn, email).await? {
            Some(u) if !ids.contains(&u.id) => ids.push(u.id),
            Some(_) => {}
            None => errors.push(FieldMessage::new("members", format!("There is no user with the email '{}'.", email.trim()))),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(Error::Invalid(Report::errors(errors)))
    }
}

fn taken(name: &str) -> Error {
    Error::Invalid(Report::errors(vec![FieldMessage::new("name", format!("A team named '{}' exists already.", name.trim()))]))
}

async fn set_members(c: &mut Conn<'_>, team: i64, ids: &[i64]) -> Result<()> {
    run!(c, |cc| diesel::delete(tm::table.filter(tm::team_id.eq(team))).execute(cc).await)?;
    // One row at a time: SQLite takes no multi-row insert through diesel's wrapper.
    for id in ids {
        run!(c, |cc| diesel::insert_into(tm::table).values((tm::team_id.eq(team), tm::user_id.eq(*id))).execute(cc).await)?;
    }
    Ok(())
}

/// Creates a team (admins only).
pub async fn create(conn: &mut Conn<'_>, actor: Actor, name: &str, members: &[String]) -> Result<Team> {
    admin(actor)?;
    let ids = check(conn, Some(name), Some(members)).await?;
    let (name, at) = (name.trim().to_string(), now());
    if is_taken(conn, &name).await? {
        return Err(taken(&name));
    }
    let n = name.clone();
    let made = conn
        .write_tx(move |mut c| {
            Box::pin(async move {
                let id: i64 = run!(&mut c, |cc| diesel::insert_into(t::table)
                    .values((t::name.eq(&n), t::created_at.eq(at), t::modified_at.eq(at)))
                    .returning(t::id)
                    .get_result(cc)
                    .await)?;
                set_members(&mut c, id, &ids).await?;
                Ok::<_, Error>(())
            })
        })
        .await;
    // Two admins naming a team at once: the index refuses the second.
    match made {
        Err(Error::Internal(_)) if is_taken(conn, &name).await? => return Err(taken(&name)),
        other => other?,
    }
    get(conn, actor, &name).await
}

async fn is_taken(conn: &mut Conn<'_>, name: &str) -> Result<bool> {
    Ok(get(conn, Actor::SYSTEM, name).await.is_ok())
}

/// Renames a team or sets its members (admins only).
pub async fn update(conn: &mut Conn<'_>, actor: Actor, name: &str, patch: Patch) -> Result<Team> {
    admin(actor)?;
    let team = get(conn, actor, name).await?;
    let ids = check(conn, patch.name.as_deref(), patch.members.as_deref()).await?;
    let new_name = patch.name.as_deref().map(str::trim).unwrap_or(&team.name).to_string();
    if !new_name.eq_ignore_ascii_case(&team.name) && is_taken(conn, &new_name).await? {
        return Err(taken(&new_name));
    }
    let (id, at, n, members) = (team.id, now(), new_name.clone(), patch.members.is_some());
    conn.write_tx(move |mut c| {
        Box::pin(async move {
            let changed = run!(&mut c, |cc| diesel::update(t::table.find(id)).set((t::name.eq(&n), t::modified_at.eq(at))).execute(cc).await);
            match changed {
                Err(e) if is_unique_violation(&e) => return Err(taken(&n)),
                other => other?,
            };
            if members {
                set_members(&mut c, id, &ids).await?;
            }
            Ok::<_, Error>(())
        })
    })
    .await?;
    get(conn, actor, &new_name).await
}

/// Removes a team (admins only); its bookings stay, no longer linked to it (the foreign keys
/// drop its members and unlink its bookings).
pub async fn delete(conn: &mut Conn<'_>, actor: Actor, name: &str) -> Result<()> {
    admin(actor)?;
    let id = get(conn, actor, name).await?.id;
    run!(conn, |c| diesel::delete(t::table.find(id)).execute(c).await)?;
    Ok(())
}
