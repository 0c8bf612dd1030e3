//! The stored event copies on SQLite and PostgreSQL: a snapshot deletes what it lacks, a set of
//! changes touches only what it names, and every write leaves a history row.
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use server::{
    db::schema::{change_history as ch, event_instances as ei, event_series as es},
    domain::{now, stored_events as copies},
    events::{Instance, Series, Snapshot, Status, When},
    providers::Change,
    run,
};
use testkit::db_test;
use testkit::TestDb;

const CAL: i64 = 7;

fn series(uid: &str, summary: &str) -> Series {
    Series {
        uid: uid.into(),
        summary: summary.into(),
        description: None,
        location: None,
        organizer: None,
        attendees: Vec::new(),
        recurrence: String::new(),
        tzid: None,
        status: Status::Confirmed,
        transparent: false,
        sequence: 0,
        external_id: Some(format!("ext-{uid}")),
        etag: Some(format!("\"{summary}\"")),
        source_hash: format!("{uid}/{summary}"),
        start: None,
        end: None,
    }
}

/// An occurrence on day `day` of January 2027 at 09:00 UTC, an hour long; `recurring` gives it
/// a recurrence id (its original start).
fn instance(uid: &str, day: u32, summary: &str, recurring: bool) -> Instance {
    let start = Utc.with_ymd_and_hms(2027, 1, day, 9, 0, 0).unwrap();
    Instance {
        uid: Arc::from(uid),
        recurrence_id: recurring.then_some(When::At(start)),
        start: When::At(start),
        end: When::At(start + chrono::Duration::hours(1)),
        status: Status::Confirmed,
        transparent: false,
        kind: server::busy::Kind::Busy,
        summary: Arc::from(summary),
        tzid: None,
    }
}

fn origin(run: i64) -> copies::Origin {
    copies::Origin { run_id: Some(run), applied_by: None, at: now() }
}

async fn snapshot(db: &TestDb, snap: Snapshot) -> copies::Counts {
    let mut pooled = db.pool.get().await.unwrap();
    pooled.conn().write_tx(move |mut c| Box::pin(async move { copies::apply_snapshot(&mut c, CAL, &origin(1), &snap).await })).await.unwrap()
}

async fn changes(db: &TestDb, list: Vec<Change>) -> copies::Counts {
    let mut pooled = db.pool.get().await.unwrap();
    pooled.conn().write_tx(move |mut c| Box::pin(async move { copies::apply_changes(&mut c, CAL, &origin(2), &list).await })).await.unwrap()
}

/// (uid, recurrence id, summary) of every stored instance, sorted.
async fn stored(db: &TestDb) -> Vec<(String, String, String)> {
    let mut pooled = db.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    let mut rows: Vec<(String, String, String)> =
        run!(&mut conn, |c| ei::table.filter(ei::integration_id.eq(CAL)).select((ei::uid, ei::recurrence_id, ei::summary)).load(c).await).unwrap();
    rows.sort();
    rows
}

async fn series_rows(db: &TestDb) -> Vec<(String, String, Option<String>, Option<String>)> {
    let mut pooled = db.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    let mut rows: Vec<(String, String, Option<String>, Option<String>)> =
        run!(&mut conn, |c| es::table.filter(es::integration_id.eq(CAL)).select((es::uid, es::summary, es::external_id, es::etag)).load(c).await).unwrap();
    rows.sort();
    rows
}

async fn history(db: &TestDb, run_id: i64) -> Vec<(String, String, String)> {
    let mut pooled = db.pool.get().await.unwrap();
    let mut conn = pooled.conn();
    let mut rows: Vec<(String, String, String)> =
        run!(&mut conn, |c| ch::table.filter(ch::run_id.eq(run_id)).select((ch::entity, ch::entity_key, ch::action)).load(c).await).unwrap();
    rows.sort();
    rows
}

fn start() -> Snapshot {
    Snapshot {
        series: vec![series("single", "Dentist"), series("weekly", "Standup"), series("other", "Lunch")],
        instances: vec![
            instance("single", 4, "Dentist", false),
            instance("weekly", 5, "Standup", true),
            instance("weekly", 12, "Standup", true),
            instance("weekly", 19, "Standup", true),
            instance("other", 6, "Lunch", false),
        ],
    }
}

db_test!(changes_touch_only_what_they_name, |db| {
    let counts = snapshot(&db, start()).await;
    assert_eq!(counts.created, 5);
    assert_eq!(series_rows(&db).await[0], ("other".into(), "Lunch".into(), Some("ext-other".into()), Some("\"Lunch\"".into())));

    // The weekly series retitled with one occurrence fewer; one instance of it added by itself
    // afterwards; the single event gone; "other" not mentioned at all.
    let mut retitled = series("weekly", "Team standup");
    retitled.source_hash = "weekly/2".into();
    let counts = changes(
        &db,
        vec![
            Change::Series { series: retitled, instances: vec![instance("weekly", 5, "Team standup", true), instance("weekly", 12, "Team standup", true)] },
            Change::Instance(instance("weekly", 26, "Team standup", true)),
            Change::SeriesRemoved { uid: "single".into() },
        ],
    )
    .await;
    assert_eq!((counts.created, counts.updated, counts.deleted), (1, 2, 2), "{counts:?}");
    let rows = stored(&db).await;
    let summaries: Vec<(&str, &str)> = rows.iter().map(|(u, _, s)| (u.as_str(), s.as_str())).collect();
    assert_eq!(summaries, [("other", "Lunch"), ("weekly", "Team standup"), ("weekly", "Team standup"), ("weekly", "Team standup")]);
    assert!(rows.iter().all(|(_, r, _)| !r.contains("2027-01-19")), "the occurrence the series no longer has is gone");
    let names: Vec<String> = series_rows(&db).await.into_iter().map(|s| format!("{}={}", s.0, s.1)).collect();
    assert_eq!(names, ["other=Lunch", "weekly=Team standup"]);
    let mut actions: Vec<String> = history(&db, 2).await.into_iter().map(|(e, k, a)| format!("{a} {e} {k}")).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "create instance weekly 2027-01-26T09:00:00Z",
            "delete instance single",
            "delete instance weekly 2027-01-19T09:00:00Z",
            "delete series single",
            "update instance weekly 2027-01-05T09:00:00Z",
            "update instance weekly 2027-01-12T09:00:00Z",
            "update series weekly",
        ]
    );
});

db_test!(single_instance_changes_upsert_and_remove_one_by_one, |db| {
    snapshot(&db, start()).await;
    let counts = changes(
        &db,
        vec![
            Change::Instance(instance("weekly", 12, "Standup (moved room)", true)),
            Change::InstanceRemoved { uid: "weekly".into(), recurrence_id: Some(When::At(Utc.with_ymd_and_hms(2027, 1, 19, 9, 0, 0).unwrap())) },
            // Removing what is not stored changes nothing.
            Change::InstanceRemoved { uid: "nothing".into(), recurrence_id: None },
            Change::Instance(instance("lunch-2", 7, "Lunch", false)),
        ],
    )
    .await;
    assert_eq!((counts.created, counts.updated, counts.deleted), (1, 1, 1), "{counts:?}");
    let rows = stored(&db).await;
    assert_eq!(rows.len(), 5);
    assert!(rows.contains(&("weekly".into(), "2027-01-12T09:00:00Z".into(), "Standup (moved room)".into())));
    assert!(rows.contains(&("single".into(), String::new(), "Dentist".into())), "untouched");
    // The same changes again: nothing to do.
    let again = changes(&db, vec![Change::Instance(instance("weekly", 12, "Standup (moved room)", true))]).await;
    assert_eq!((again.created, again.updated, again.deleted, again.unchanged), (0, 0, 0, 1));
});

db_test!(a_snapshot_deletes_what_it_lacks, |db| {
    snapshot(&db, start()).await;
    let counts = snapshot(&db, Snapshot { series: vec![series("other", "Lunch")], instances: vec![instance("other", 6, "Lunch", false)] }).await;
    assert_eq!((counts.created, counts.updated, counts.deleted, counts.unchanged), (0, 0, 4, 1));
    assert_eq!(series_rows(&db).await.len(), 1);
});
