//! Each calendar's cursor: what its adapter keeps between runs, stored as it came.
use super::*;

pub(super) async fn load_cursor(conn: &mut Conn<'_>, id: i64) -> Result<Cursor> {
    let state: Option<String> = run!(conn, |c| sc::table.find(id).select(sc::state).first(c).await.optional())?;
    Ok(Cursor(state))
}

pub(super) async fn save_cursor(conn: &mut Conn<'_>, id: i64, cursor: &Cursor) -> Result<()> {
    match cursor.0.as_deref() {
        Some(state) => run!(conn, |c| diesel::insert_into(sc::table)
            .values((sc::integration_id.eq(id), sc::state.eq(state)))
            .on_conflict(sc::integration_id)
            .do_update()
            .set(sc::state.eq(state))
            .execute(c)
            .await)?,
        None => run!(conn, |c| diesel::delete(sc::table.find(id)).execute(c).await)?,
    };
    Ok(())
}
