//! Availability: a week of busy time, each block labelled and coloured by its calendar.
use crate::api::availability::{week_view, BlockView, DayView, WeekData};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AvailabilityPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(move || (query.read().get("user"), query.read().get("week")), |(user, week)| week_view(user, week));
    view! {
        <Title text="Availability"/>
        <div class="page-head">
            <h1>"Availability"</h1>
            <p class="muted">"Busy time from your active calendars, by each calendar's rules for what blocks your time (a calendar's settings). Tentative and unanswered events are hatched."</p>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading the week…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(w) => Either::Right(view! { <Week w/> }),
                }
            })}
        </Transition>
    }
}

fn link(w: &WeekData, week: &str) -> String {
    let user = if w.is_admin { format!("&user={}", w.user) } else { String::new() };
    format!("/availability?week={week}{user}")
}

#[component]
fn Week(w: WeekData) -> impl IntoView {
    let empty = w.days.iter().all(|d| d.blocks.is_empty() && d.all_day.is_empty());
    let has_all_day = w.days.iter().any(|d| !d.all_day.is_empty());
    view! {
        {w.is_admin.then(|| {
            let (users, me) = (w.users.clone(), w.user.clone());
            view! {
                <form method="get" action="/availability" class="filter">
                    <label for="avail-user">"Availability of"</label>
                    <select id="avail-user" name="user">
                        {users.into_iter().map(|u| { let sel = u == me; view! { <option value=u.clone() selected=sel>{u.clone()}</option> } }).collect_view()}
                    </select>
                    <input type="hidden" name="week" value=w.week.clone()/>
                    <button type="submit" class="button">"Show"</button>
                </form>
            }
        })}
        <div class="week-nav">
            <a class="button small" href=link(&w, &w.prev) data-test="prev-week">"← Previous week"</a>
            {(!w.is_this_week).then(|| view! { <a class="button small" href=link(&w, "")>"This week"</a> })}
            <a class="button small" href=link(&w, &w.next) data-test="next-week">"Next week →"</a>
            <h2 data-test="week-title">{w.title.clone()}</h2>
            <p class="muted small">{format!("{} · times in {} · {}", w.user, w.tz, w.busy_total)}</p>
        </div>
        {(!w.degraded.is_empty()).then(|| view! {
            <div class="alert warning" role="status" data-test="degraded-banner">
                <p><strong>"This week may be incomplete."</strong>" These calendars are out of date:"</p>
                <ul>
                    {w.degraded.iter().map(|d| view! {
                        <li>{format!("{} — {} ({}); {}.", d.calendar, d.kind, d.last_sync, d.policy)}</li>
                    }).collect_view()}
                </ul>
                <p class="small">"See " <a href="/sync">"Sync"</a> " for what went wrong."</p>
            </div>
        })}
        <ul class="legend" aria-label="Calendars">
            {w.legend.iter().map(|l| view! { <li><span class=format!("swatch cal-c{}", l.color)></span>{l.calendar.clone()}</li> }).collect_view()}
        </ul>
        {empty.then(|| view! {
            <p class="alert info" data-test="week-empty">
                "No busy time this week. Events from your active calendars appear here once they have synced — see "
                <a href="/sync">"Sync"</a> " or " <a href="/calendars">"Calendars"</a> "."
            </p>
        })}
        // Focusable: on a narrow screen the week scrolls sideways, and a keyboard must reach it.
        <div class="week" role="table" aria-label="Busy time this week" tabindex="0">
            <div class="week-row week-head" role="row">
                <div class="hours-col" role="columnheader"></div>
                {w.days.iter().map(|d| view! { <div class="day-head" class:today=d.is_today role="columnheader">{d.label.clone()}</div> }).collect_view()}
            </div>
            {has_all_day.then(|| view! {
                <div class="week-row all-day-row" role="row">
                    <div class="hours-col small muted" role="rowheader">"all day"</div>
                    {w.days.iter().map(|d| view! {
                        <div class="all-day-cell" role="cell">
                            {d.all_day.iter().map(|b| view! {
                                <div class=format!("all-day cal-c{}{}", b.color, if b.maybe.is_some() { " maybe" } else { "" }) data-test="busy-block" title=format!("{} · {}", b.calendar, b.summary)>
                                    <strong>{b.calendar.clone()}</strong>" "{b.summary.clone()}{b.maybe.clone().map(|m| format!(" ({m})"))}
                                </div>
                            }).collect_view()}
                        </div>
                    }).collect_view()}
                </div>
            })}
            <div class="week-row week-body" role="row">
                <div class="hours-col" aria-hidden="true">
                    {(0..24).map(|h| view! { <div class="hour-label">{format!("{h:02}:00")}</div> }).collect_view()}
                </div>
                {w.days.into_iter().map(|d| view! { <DayColumn d/> }).collect_view()}
            </div>
        </div>
    }
}

#[component]
fn DayColumn(d: DayView) -> impl IntoView {
    view! {
        <div class="day-col" class:today=d.is_today role="cell" aria-label=d.label.clone()>
            {d.blocks.into_iter().map(|b| view! { <Block b/> }).collect_view()}
        </div>
    }
}

#[component]
fn Block(b: BlockView) -> impl IntoView {
    let style = format!("top: {:.3}%; height: {:.3}%;", b.top, b.height);
    let title = format!("{} · {} · {}{}", b.time, b.calendar, b.summary, b.maybe.as_ref().map(|m| format!(" ({m})")).unwrap_or_default());
    let class = format!("busy cal-c{}{}", b.color, if b.maybe.is_some() { " maybe" } else { "" });
    view! {
        <div class=class style=style title=title data-test="busy-block">
            <span class="busy-time">{b.time}{b.maybe.map(|m| view! { " · " <em>{m}</em> })}</span>
            <span class="busy-cal">{b.calendar}</span>
            <span class="busy-summary">{b.summary}</span>
        </div>
    }
}
