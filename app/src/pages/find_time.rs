//! Find a time: pick a team or a member, a meeting length and a week; see the free slots in
//! your zone, each with who is free, and book one (the booking form, filled in).
use crate::api::find_time::{find_time, FindTimeData, DURATIONS};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn FindTimePage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(
        move || {
            let q = query.read();
            (q.get("who"), q.get("mode"), q.get("duration"), q.get("week"))
        },
        |(who, mode, duration, week)| find_time(who, mode, duration, week),
    );
    view! {
        <Title text="Find a time"/>
        <div class="page-head">
            <h1>"Find a time"</h1>
            <p class="muted">"Free slots by everyone's working hours, date overrides, buffers, notice, limits and calendars. A team's booking goes to a free member, the one least recently booked for the team."</p>
        </div>
        <Transition fallback=|| view! { <p class="loading" role="status">"Looking for free time…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(p) => Either::Right(view! { <Search p/> }),
                }
            })}
        </Transition>
    }
}

#[component]
fn Search(p: FindTimeData) -> impl IntoView {
    let link = |week: &str| format!("/find-a-time?who={}&mode={}&duration={}&week={week}", crate::api::query_escape(&p.who), p.mode, p.duration);
    let (previous, next) = (link(&p.previous), link(&p.next));
    let team = p.who.starts_with("team:");
    let total: usize = p.days.iter().map(|d| d.slots.len()).sum();
    view! {
        <section class="card">
            <form method="get" action="/find-a-time" class="find-form" aria-label="Find a time">
                <div class="grid2">
                    <div class="field">
                        <label for="find-who">"Who"</label>
                        <select id="find-who" name="who">
                            {p.choices.iter().map(|c| { let sel = c.value == p.who; view! { <option value=c.value.clone() selected=sel>{c.label.clone()}</option> } }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="find-duration">"Meeting length"</label>
                        <select id="find-duration" name="duration">
                            {DURATIONS.iter().map(|d| { let sel = *d == p.duration; view! { <option value=*d selected=sel>{format!("{d} minutes")}</option> } }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="find-week">"Week of"</label>
                        <input id="find-week" name="week" type="date" value=p.week.clone()/>
                    </div>
                    <fieldset class="stack">
                        <legend>"A team's slots"</legend>
                        <label class="check"><input type="radio" name="mode" value="any" checked=p.mode == "any"/>" Any member free (round robin)"</label>
                        <label class="check"><input type="radio" name="mode" value="all" checked=p.mode == "all"/>" Everyone free (collective)"</label>
                    </fieldset>
                </div>
                <div class="actions"><button type="submit" class="button primary">"Find free slots"</button></div>
            </form>
        </section>
        {(!p.warnings.is_empty()).then(|| view! {
            <div class="alert warning" role="status" data-test="find-warnings">
                <ul>{p.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            </div>
        })}
        <section class="card" aria-labelledby="week-heading">
            <div class="week-nav">
                <a class="button small" href=previous>"← Previous week"</a>
                <h2 id="week-heading">{p.heading.clone()}</h2>
                <a class="button small" href=next>"Next week →"</a>
            </div>
            {if total == 0 {
                Either::Left(view! { <p class="muted" data-test="no-slots">"No free slots this week. Try another week, a shorter meeting, or check the working hours under Settings → Working hours."</p> })
            } else {
                Either::Right(view! {
                    <p class="small" data-test="slot-count">{format!("{total} free slots, times in {}.", p.time_zone)}</p>
                    <div class="slot-days">
                        {p.days.into_iter().map(|d| view! {
                            <section class="slot-day" aria-label=d.label.clone()>
                                <h3>{d.label.clone()}</h3>
                                <ul class="slots">
                                    {d.slots.into_iter().map(|s| {
                                        let label = format!("Book {} {}", d.label, s.label);
                                        view! {
                                            <li class="slot" data-test="slot">
                                                <span class="slot-time">{s.label.clone()}</span>
                                                {team.then(|| view! { <span class="slot-members small">{s.members.clone()}</span> })}
                                                <a class="button small" href=s.book.clone() aria-label=label>"Book"</a>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            </section>
                        }).collect_view()}
                    </div>
                })
            }}
        </section>
    }
}
