//! When each calendar is next synced: its scheduling row, kept apart from the spec's record so
//! the scheduler's frequent writes touch a small row. Created with the calendar; the engine
//! moves it after every run, the record's settings move it when they change.
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::sync_states as ss;
use crate::db::Conn;
use crate::domain::Result;
use crate::run;

/// The scheduling row of a new integration (due at once).
pub async fn create(conn: &mut Conn<'_>, id: i64) -> Result<()> {
    run!(conn, |c| diesel::insert_into(ss::table).values(ss::integration_id.eq(id)).execute(c).await)?;
    Ok(())
}

/// Sets when an integration is next due (`None`: now).
pub async fn set_due(conn: &mut Conn<'_>, id: i64, due: Option<NaiveDateTime>) -> Result<()> {
    run!(conn, |c| diesel::update(ss::table.find(id)).set(ss::due_at.eq(due)).execute(c).await)?;
    Ok(())
}
