//! Admin → Sync health: every calendar that needs attention, longest broken first, with counts
//! per kind (each a filter), filters, and Retry now / Deactivate. Updates while retries run.
use crate::{
    api::health::{sync_health, DeactivateCalendar, HealthPage, HealthRow, RetryCalendars},
    components::{
        admin_tabs::AdminTabs,
        notices::{NoticeList, Notices},
        poll::poll_while,
    },
    error::AppError,
    pages::not_found::NotFound,
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use vocab::HealthKind;

#[component]
pub fn AdminHealthPage() -> impl IntoView {
    let query = use_query_map();
    let retry = ServerAction::<RetryCalendars>::new();
    let deactivate = ServerAction::<DeactivateCalendar>::new();
    let tick = RwSignal::new(0u32);
    let page = Resource::new(
        move || {
            let q = query.read();
            (q.get("kind"), q.get("user"), q.get("provider"), q.get("text"), q.get("page"), retry.version().get(), deactivate.version().get(), tick.get())
        },
        |(kind, user, provider, text, page, ..)| sync_health(kind, user, provider, text, page),
    );
    let running = Signal::derive(move || page.get().and_then(Result::ok).is_some_and(|p| p.rows.iter().any(|r| r.running)));
    poll_while(running, tick, std::time::Duration::from_millis(1000));
    let notices = Signal::derive(move || match deactivate.value().get().or_else(|| retry.value().get()) {
        Some(Ok(done)) => Notices::from_result(
            done.messages,
            done.problems.into_iter().map(|p| crate::error::FieldMessage { field: None, message: p, danger: false }).collect(),
        ),
        Some(Err(e)) => Notices::from_error(&e),
        None => Notices::default(),
    });
    view! {
        <Title text="Sync health"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(AppError::NotFound) => Either::Left(view! { <NotFound/> }),
                    Err(e) => Either::Right(Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> })),
                    Ok(p) => Either::Right(Either::Right(view! { <HealthView p notices retry deactivate/> })),
                }
            })}
        </Transition>
    }
}

/// The address of this page with one filter changed (and back to its first page).
fn link(p: &HealthPage, kind: Option<HealthKind>) -> String {
    link_to(p, kind, 1)
}

fn link_to(p: &HealthPage, kind: Option<HealthKind>, page: usize) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            parts.push(format!("{k}={}", crate::api::query_escape(v)));
        }
    };
    add("kind", kind.map(HealthKind::as_str));
    add("user", p.user.as_deref());
    add("provider", p.provider.as_deref());
    add("text", p.text.as_deref());
    let page = page.to_string();
    add("page", (page != "1").then_some(page.as_str()));
    if parts.is_empty() {
        "/admin/sync-health".into()
    } else {
        format!("/admin/sync-health?{}", parts.join("&"))
    }
}

fn kind_class(kind: HealthKind) -> &'static str {
    match kind {
        HealthKind::Failed | HealthKind::WriteFailing => "status-error",
        HealthKind::Expiring | HealthKind::BackingOff | HealthKind::ConflictsWaiting => "status-warn",
        HealthKind::Stale | HealthKind::NeverSynced => "status-muted",
    }
}

#[component]
fn HealthView(p: HealthPage, notices: Signal<Notices>, retry: ServerAction<RetryCalendars>, deactivate: ServerAction<DeactivateCalendar>) -> impl IntoView {
    let selected = RwSignal::new(Vec::<String>::new());
    let all: Vec<String> = p.rows.iter().map(|r| r.integration.clone()).collect();
    let total: usize = p.counts.iter().map(|(_, n)| n).sum();
    let filtered = p.kind.is_some() || p.user.is_some() || p.provider.is_some() || p.text.is_some();
    let (previous, next) = (link_to(&p, p.kind, p.page.saturating_sub(1).max(1)), link_to(&p, p.kind, p.page + 1));
    let (page, pages, matching) = (p.page, p.pages, p.total);
    view! {
        <h1>"Sync health"</h1>
        <AdminTabs/>
        <p class="muted">"Every user's calendars that need attention, longest broken first. Inactive calendars are left out."</p>
        <NoticeList notices/>
        <nav class="kind-counts" aria-label="Problems by kind" data-test="health-counts">
            <a href=link(&p, None) aria-current=p.kind.is_none().then_some("page")>{format!("All {total}")}</a>
            {p.counts.iter().map(|(kind, n)| {
                let current = p.kind == Some(*kind);
                view! {
                    <a href=link(&p, Some(*kind)) aria-current=current.then_some("page") data-kind=kind.as_str()>
                        <span class=format!("status {}", kind_class(*kind))>{kind.as_str()}</span>" "<strong>{*n}</strong>
                    </a>
                }
            }).collect_view()}
        </nav>
        <form method="get" action="/admin/sync-health" class="filter" aria-label="Filter">
            {p.kind.map(|k| view! { <input type="hidden" name="kind" value=k.as_str()/> })}
            <label for="health-user">"User"</label>
            <select id="health-user" name="user">
                <option value="" selected=p.user.is_none()>"All users"</option>
                {p.users.iter().map(|u| { let sel = p.user.as_deref() == Some(u.as_str()); view! { <option value=u.clone() selected=sel>{u.clone()}</option> } }).collect_view()}
            </select>
            <label for="health-provider">"Provider"</label>
            <select id="health-provider" name="provider">
                <option value="" selected=p.provider.is_none()>"All providers"</option>
                {p.providers.iter().map(|v| { let sel = p.provider.as_deref() == Some(v.as_str()); view! { <option value=v.clone() selected=sel>{v.clone()}</option> } }).collect_view()}
            </select>
            <label for="health-text">"Error contains"</label>
            <input id="health-text" name="text" type="search" value=p.text.clone().unwrap_or_default()/>
            <button type="submit" class="button">"Show"</button>
        </form>
        {if p.rows.is_empty() {
            Either::Left(view! {
                <section class="card empty" data-test="health-empty">
                    {if filtered {
                        Either::Left(view! { <p>"No calendar matches this filter. " <a href="/admin/sync-health">"Show all problems"</a></p> })
                    } else {
                        Either::Right(view! {
                            <h2>"All calendars are syncing."</h2>
                            <p class="muted">{format!("{} active calendar(s) checked: none failed, none is stale, none is waiting for its first sync, every booking is written and no conflict waits for a decision.", p.checked)}</p>
                        })
                    }}
                </section>
            })
        } else {
            let names = all.clone();
            Either::Right(view! {
                <ActionForm action=retry attr:class="bulk" attr:aria-label="Retry selected calendars">
                    <input type="hidden" name="names" prop:value=move || selected.get().join("\n")/>
                    <label class="check">
                        <input type="checkbox" data-test="select-all"
                            prop:checked=move || !names.is_empty() && selected.with(|s| s.len() == names.len())
                            on:change={let all = all.clone(); move |ev| { let on = event_target_checked(&ev); selected.set(if on { all.clone() } else { Vec::new() }); }}/>
                        " Select all"
                    </label>
                    <button type="submit" class="button small" data-test="retry-selected" disabled=move || selected.with(Vec::is_empty)>
                        {move || format!("Retry selected ({})", selected.with(Vec::len))}
                    </button>
                </ActionForm>
                <section class="card table-wrap" tabindex="0" aria-label="Calendars that need attention">
                    <table class="table" data-test="health-table">
                        <caption class="visually-hidden">"Calendars that need attention, longest broken first"</caption>
                        <thead><tr>
                            <th scope="col"><span class="visually-hidden">"Select"</span></th>
                            <th scope="col">"Calendar"</th><th scope="col">"Problem"</th><th scope="col">"Since"</th>
                            <th scope="col">"Next try"</th><th scope="col">"Actions"</th>
                        </tr></thead>
                        <tbody>
                            {p.rows.into_iter().map(|r| view! { <HealthRowView r selected retry deactivate/> }).collect_view()}
                        </tbody>
                    </table>
                </section>
                {(pages > 1).then(|| view! {
                    <nav class="pager" aria-label="Pages">
                        <span class="muted">{format!("{matching} calendars · page {page} of {pages}")}</span>
                        {(page > 1).then(|| view! { <a class="button small" href=previous.clone()>"Previous"</a> })}
                        {(page < pages).then(|| view! { <a class="button small" href=next.clone()>"Next"</a> })}
                    </nav>
                })}
            })
        }}
    }
}

#[component]
fn HealthRowView(
    r: HealthRow,
    selected: RwSignal<Vec<String>>,
    retry: ServerAction<RetryCalendars>,
    deactivate: ServerAction<DeactivateCalendar>,
) -> impl IntoView {
    let name = r.integration.clone();
    let check_id = format!("select-{name}");
    let is_selected = {
        let name = name.clone();
        move || selected.with(|s| s.contains(&name))
    };
    let toggle = {
        let name = name.clone();
        move |ev| {
            let on = event_target_checked(&ev);
            selected.update(|s| {
                s.retain(|n| *n != name);
                if on {
                    s.push(name.clone());
                }
            });
        }
    };
    let runs = format!("/sync?user={}", crate::api::query_escape(&r.user));
    // Where the bookings not written, or the conflicts waiting, are.
    let more = match r.kind {
        HealthKind::WriteFailing => Some((format!("/bookings?user={}", crate::api::query_escape(&r.user)), "Bookings")),
        HealthKind::ConflictsWaiting => Some(("/conflicts?state=open".to_string(), "Conflicts")),
        _ => None,
    };
    let (retry_name, deactivate_name) = (name.clone(), name.clone());
    view! {
        <tr data-test="health-row" data-title=r.integration_name.clone() data-kind=r.kind.as_str()>
            <td>
                <input type="checkbox" id=check_id.clone() prop:checked=is_selected on:change=toggle/>
                <label for=check_id class="visually-hidden">{format!("Select {}", r.integration_name)}</label>
            </td>
            <td>
                <strong>{r.integration_name.clone()}</strong>
                <div class="small muted">{format!("{} · {} · {}", r.user, r.integration_type, r.integration)}</div>
            </td>
            <td>
                <span class=format!("status {}", kind_class(r.kind)) data-test="health-kind">{r.kind.as_str()}</span>
                {r.error.clone().map(|e| view! { <div class="small error-text" data-test="health-error">{e}</div> })}
            </td>
            <td class="nowrap">{r.since.clone()}</td>
            <td>{r.next_run.clone()}</td>
            <td class="row-actions">
                <ActionForm action=retry attr:class="inline">
                    <input type="hidden" name="names" value=retry_name.clone()/>
                    <button type="submit" class="button small" disabled=r.running data-test="retry">{if r.running { "Retrying…" } else { "Retry now" }}</button>
                </ActionForm>
                <ActionForm action=deactivate attr:class="inline">
                    <input type="hidden" name="name" value=deactivate_name.clone()/>
                    <button type="submit" class="button small danger" data-test="deactivate">"Deactivate"</button>
                </ActionForm>
                <a class="button small" href=runs>"Runs"</a>
                {more.map(|(href, label)| view! { <a class="button small" href=href data-test="health-more">{label}</a> })}
            </td>
        </tr>
    }
}
