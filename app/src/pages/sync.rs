//! The sync dashboard: each calendar's sync health at a glance, its last run, and a chart of
//! the last 50. Updates itself while a sync runs.
use crate::{
    api::sync::{sync_dashboard, ApplyHeldSync, LastRun, SyncNow, SyncRow},
    components::{
        notices::{NoticeList, Notices},
        poll::poll_while,
        run_chart::RunChart,
        user_filter::UserFilter,
    },
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use vocab::SyncStatus;

#[component]
pub fn SyncPage() -> impl IntoView {
    let query = use_query_map();
    let sync_now = ServerAction::<SyncNow>::new();
    let apply = ServerAction::<ApplyHeldSync>::new();
    let tick = RwSignal::new(0u32);
    let page =
        Resource::new(move || (query.read().get("user"), sync_now.version().get(), apply.version().get(), tick.get()), |(user, ..)| sync_dashboard(user));
    let running = Signal::derive(move || page.get().and_then(Result::ok).is_some_and(|p| p.rows.iter().any(|r| r.running)));
    poll_while(running, tick, std::time::Duration::from_millis(1000));
    let notices = Signal::derive(move || match apply.value().get().or_else(|| sync_now.value().get()) {
        Some(Ok(r)) => Notices::from_result(r.messages, r.warnings),
        Some(Err(e)) => Notices::from_error(&e),
        None => Notices::default(),
    });

    view! {
        <Title text="Sync"/>
        <div class="page-head">
            <h1>"Sync"</h1>
            <p class="muted">"How each calendar's sync is doing. Failing calendars come first."</p>
        </div>
        <NoticeList notices/>
        <Transition fallback=|| view! { <p class="loading">"Loading sync status…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(p) => Either::Right(view! {
                        {p.is_admin.then(|| view! { <UserFilter action="/sync" users=p.users.clone() selected=p.filter_user.clone()/> })}
                        <p class="summary" data-test="sync-summary">
                            {format!("{} calendar(s)", p.rows.len())}
                            {(p.failing > 0).then(|| view! { " · " <span class="status-error">{format!("{} failing", p.failing)}</span> })}
                            {format!(" · runs are kept for {} days", p.runs_kept_days)}
                        </p>
                        {if p.rows.is_empty() {
                            Either::Left(view! {
                                <section class="card empty">
                                    <h2>"Nothing to sync yet"</h2>
                                    <p>"Add a calendar first; its syncs show up here."</p>
                                    <p><a class="button primary" href="/calendars/new">"Add iCal calendar"</a></p>
                                </section>
                            })
                        } else {
                            Either::Right(view! {
                                <div class="sync-rows">
                                    {p.rows.into_iter().map(|row| view! { <SyncRowView row show_owner=p.is_admin sync_now apply/> }).collect_view()}
                                </div>
                            })
                        }}
                    }),
                }
            })}
        </Transition>
    }
}

fn badge(row: &SyncRow) -> (&'static str, &'static str) {
    if !row.is_active {
        return ("status-muted", "Inactive");
    }
    if row.queued {
        return ("status-progress", "Queued");
    }
    let class = match row.status {
        SyncStatus::Success => "status-ok",
        SyncStatus::Failed => "status-error",
        SyncStatus::InProgress => "status-progress",
        SyncStatus::Pending => "status-pending",
    };
    (class, row.status.as_str())
}

#[component]
fn SyncRowView(row: SyncRow, show_owner: bool, sync_now: ServerAction<SyncNow>, apply: ServerAction<ApplyHeldSync>) -> impl IntoView {
    let (class, text) = badge(&row);
    let name = row.name.clone();
    let can_sync = row.is_active && !row.running;
    view! {
        <section class="card sync-row" class:failing=row.status == SyncStatus::Failed data-test="sync-row" data-title=row.integration_name.clone()>
            <header class="sync-head">
                <div>
                    <h2>{row.integration_name.clone()}</h2>
                    <p class="muted small">{row.integration_type.clone()}{show_owner.then(|| format!(" · {}", row.user))}</p>
                </div>
                <p class=format!("status {class}") data-test="sync-status">{text}</p>
                <ActionForm action=sync_now attr:class="inline">
                    <input type="hidden" name="name" value=name/>
                    <button type="submit" class="button small" disabled=!can_sync data-test="sync-now">
                        {if row.running { "Syncing…" } else { "Sync now" }}
                    </button>
                </ActionForm>
            </header>
            <dl class="facts">
                <div><dt>"Last success"</dt><dd data-test="last-success">{row.last_success.clone()}</dd></div>
                <div><dt>"Next run"</dt><dd>{row.next_run.clone()}</dd></div>
                <div><dt>"Events in window"</dt><dd data-test="event-count">{row.event_count}</dd></div>
            </dl>
            {row.backoff.clone().map(|b| view! { <p class="alert warning small">{b}</p> })}
            {(row.held && can_sync).then(|| {
                let name = row.name.clone();
                view! {
                    <div class="alert warning held" data-test="held">
                        <p class="small">
                            "This sync was held: it would remove most of this calendar's events. If they really are gone from the calendar, apply it; if the feed is broken, fix it and press Sync now."
                        </p>
                        <ActionForm action=apply attr:class="inline">
                            <input type="hidden" name="name" value=name/>
                            <button type="submit" class="button small danger" data-test="apply-held">"Apply"</button>
                        </ActionForm>
                    </div>
                }
            })}
            {row.last_run.clone().map(|r| view! { <LastRunView run=r/> })}
            <div class="chart-wrap">
                <span class="muted small">"Last 50 runs"</span>
                <RunChart bars=row.chart.clone()/>
            </div>
        </section>
    }
}

#[component]
fn LastRunView(run: LastRun) -> impl IntoView {
    let counts = format!("{} created · {} updated · {} deleted · {} unchanged", run.created, run.updated, run.deleted, run.unchanged);
    view! {
        <div class="last-run">
            <p class="small">
                <strong>"Last run: "</strong>
                {format!("{} ({}), {} · ", run.started, run.trigger, run.status.as_str())}
                <span data-test="run-counts">{counts}</span>
                {format!(" · {}", run.duration)}
            </p>
            {run.error.map(|e| view! { <p class="error-log" role="alert" data-test="sync-error">{e}</p> })}
            {run.applied_by.map(|who| view! { <p class="small muted" data-test="applied-by">{format!("Removals applied by {who}.")}</p> })}
            {run.warnings.map(|w| {
                let lines = w.lines().count();
                view! {
                    <details class="warnings small">
                        <summary>{format!("{lines} line(s) of the feed were skipped or repaired")}</summary>
                        <pre>{w}</pre>
                    </details>
                }
            })}
        </div>
    }
}
