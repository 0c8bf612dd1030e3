//! Retention on SQLite and PostgreSQL: runs older than 90 days and history older than 365 days
//! go, in batches; everything younger stays, and so does a run still going.
use chrono::Duration as Days;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{calendar_integrations as ci, change_history as ch, sync_runs as sr},
    domain::now,
    run,
    sync::{retention::BATCH, runs},
};
use testkit::db_test;

use crate::common;
use common::*;

db_test!(old_runs_and_history_are_pruned_in_batches, |db| {
    let me = user(&db, "sarah@example.com").await;
    let name = calendar(&db, me, "Team", "https://calendar.example.com/team.ics").await;
    let mut c = db.pool.get().await.unwrap();
    let id: i64 = run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq(&name)).select(ci::id).first(cc).await).unwrap();
    let old_runs = BATCH as usize + 7;
    let run_row = |days: i64, status: &'static str| {
        (sr::integration_id.eq(id), sr::trigger.eq("scheduler"), sr::status.eq(status), sr::worker.eq("test"), sr::started_at.eq(now() - Days::days(days)))
    };
    let mut rows: Vec<_> = (0..old_runs).map(|_| run_row(100, "Success")).collect();
    rows.push(run_row(120, "In Progress"));
    rows.push(run_row(89, "Failed"));
    for row in rows {
        run!(&mut c.conn(), |cc| diesel::insert_into(sr::table).values(row).execute(cc).await).unwrap();
    }
    // A calendar synced by hand long ago: its only run (held, waiting for Apply) is its last word.
    let quiet = calendar(&db, me, "Quiet", "https://calendar.example.com/quiet.ics").await;
    let quiet_id: i64 = run!(&mut c.conn(), |cc| ci::table.filter(ci::name.eq(&quiet)).select(ci::id).first(cc).await).unwrap();
    run!(&mut c.conn(), |cc| diesel::insert_into(sr::table)
        .values((
            sr::integration_id.eq(quiet_id),
            sr::trigger.eq("manual"),
            sr::status.eq("Failed"),
            sr::worker.eq("test"),
            sr::started_at.eq(now() - Days::days(200)),
            sr::held.eq(true)
        ))
        .execute(cc)
        .await)
    .unwrap();
    let history = |days: i64| {
        (
            ch::integration_id.eq(Some(id)),
            ch::entity.eq("event"),
            ch::entity_key.eq("uid-1"),
            ch::action.eq("create"),
            ch::actor.eq("sync"),
            ch::at.eq(now() - Days::days(days)),
        )
    };
    for row in [history(400), history(366), history(364), history(1)] {
        run!(&mut c.conn(), |cc| diesel::insert_into(ch::table).values(row).execute(cc).await).unwrap();
    }
    drop(c);

    let (runs, hist) = engine(&db).prune().await.unwrap();
    assert_eq!((runs, hist), (old_runs, 2));
    let mut c = db.pool.get().await.unwrap();
    let left: Vec<String> = run!(&mut c.conn(), |cc| sr::table.order(sr::started_at).select(sr::status).load(cc).await).unwrap();
    assert_eq!(
        left,
        vec!["Failed".to_string(), "In Progress".to_string(), "Failed".to_string()],
        "a calendar's only run, a run still going and a young run stay"
    );
    assert!(runs::held(&mut c.conn(), quiet_id).await.unwrap(), "the held run can still be applied");
    let kept: i64 = run!(&mut c.conn(), |cc| ch::table.filter(ch::entity.eq("event")).count().get_result(cc).await).unwrap();
    assert_eq!(kept, 2, "the young rows (the calendars' own creation rows are young too)");
    drop(c);
    assert_eq!(engine(&db).prune().await.unwrap(), (0, 0), "nothing more to do");
});
