//! A user has at most CALSYNC_MAX_CALENDARS_PER_USER calendars. A test binary of its own, the
//! only one beside `it`: the limit is process-wide, and the other tests need the default.
use server::domain::{
    integrations::{self as ig, Patch},
    Error,
};
use testkit::db_test;

#[path = "it/common/mod.rs"]
mod common;
use common::*;

db_test!(a_user_has_at_most_the_configured_number_of_calendars, |db| {
    ig::set_max_per_user(3);
    let me = user(&db, "sarah@example.com").await;
    let other = user(&db, "john@example.com").await;
    for n in 0..3 {
        calendar(&db, me, &format!("Feed {n}"), "https://example.com/a.ics").await;
    }
    let mut p = db.pool.get().await.unwrap();
    let patch = Patch {
        integration_type: Some("iCal".into()),
        integration_name: Some("One more".into()),
        ical_url: Some("https://example.com/b.ics".into()),
        ..Patch::default()
    };
    match ig::create(&mut p.conn(), &db.keys, me, patch.clone()).await {
        Err(Error::Conflict(m)) => assert_eq!(
            m,
            "sarah@example.com has 3 calendars, the most one person may have (3). Delete one that is no longer needed, or ask your administrator to raise CALSYNC_MAX_CALENDARS_PER_USER."
        ),
        other => panic!("{other:?}"),
    }
    // Someone else is not affected; after a delete there is room again.
    ig::create(&mut p.conn(), &db.keys, other, patch.clone()).await.unwrap();
    let (mine, _) = ig::list(&mut p.conn(), me, &ig::Filter { limit: 10, ..ig::Filter::default() }).await.unwrap();
    ig::delete(&mut p.conn(), me, &mine[0].name).await.unwrap();
    ig::create(&mut p.conn(), &db.keys, me, patch).await.unwrap();
});
