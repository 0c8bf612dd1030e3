//! When each calendar is next synced: its scheduling row, kept apart from the spec's record so
//! the scheduler's frequent writes touch a small row. Created with the calendar; the engine
//! moves it after every run, the record's settings move it when they change (and wake the
//! schedulers, which may sleep past the new time).
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::schema::sync_states as ss;
use crate::db::Conn;
use crate::domain::Result;
use crate::run;

/// The scheduling row of a new integration (due at once). `scheduled`: active with auto-sync
/// on, so the scheduler picks it when due (the claim reads only those, from an index).
pub async fn create(conn: &mut Conn<'_>, id: i64, scheduled: bool) -> Result<()> {
    run!(conn, |c| diesel::insert_into(ss::table).values((ss::integration_id.eq(id), ss::scheduled.eq(scheduled))).execute(c).await)?;
    if scheduled {
        crate::db::signal::DUE.send(conn).await?;
    }
    Ok(())
}

/// Sets when an integration is next due (`None`: now) and whether the scheduler picks it.
pub async fn set_due(conn: &mut Conn<'_>, id: i64, due: Option<NaiveDateTime>, scheduled: bool) -> Result<()> {
    run!(conn, |c| diesel::update(ss::table.find(id)).set((ss::due_at.eq(due), ss::scheduled.eq(scheduled))).execute(c).await)?;
    // Due now or at another time than the schedulers slept for: they look again.
    if scheduled {
        crate::db::signal::DUE.send(conn).await?;
    }
    Ok(())
}
