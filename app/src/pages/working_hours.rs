//! Settings → Working hours: when a member can be booked (weekly hours in their zone, buffers,
//! notice, limits) and the dates that differ (a day off, other hours).
use crate::{
    api::working_hours::{working_hours, AddOverride, RemoveOverride, SaveWorkingHours, WorkingHoursData},
    components::form::{last_error, FieldError, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Each day's field, named as the server function's messages name it.
const DAY_FIELDS: [&str; 7] = ["hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri", "hours_sat", "hours_sun"];

#[component]
pub fn WorkingHoursPage() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SaveWorkingHours>::new();
    let add = ServerAction::<AddOverride>::new();
    let remove = ServerAction::<RemoveOverride>::new();
    // The weekly form loads once per member: what was typed stays after an error.
    let page = Resource::new(move || query.read().get("user"), working_hours);
    let overrides = Resource::new(move || (query.read().get("user"), add.version().get(), remove.version().get()), |(u, ..)| working_hours(u));
    view! {
        <Title text="Working hours"/>
        <div class="page-head">
            <h1>"Working hours"</h1>
            <p class="muted">"When you can be booked. A meeting is offered only inside these hours, after your minimum notice, below your limits, and with your buffers clear of anything busy in your calendars."</p>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(p) => Either::Right(view! { <WeeklyForm p save/> }),
                }
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                overrides.await.map(|p| view! { <Overrides p add remove/> })
            })}
        </Transition>
    }
}

#[component]
fn WeeklyForm(p: WorkingHoursData, save: ServerAction<SaveWorkingHours>) -> impl IntoView {
    let error = last_error(save.value());
    let any_time = RwSignal::new(p.any_time);
    let saved = move || save.value().get().and_then(|r| r.ok());
    let member = p.user.clone();
    let number = move |name: &'static str, label: &'static str, value: String, help: &'static str| {
        let help_id = format!("{name}-help");
        view! {
            <div class="field">
                <label for=name>{label}</label>
                <input id=name name=name inputmode="numeric" value=value aria-describedby=format!("{help_id} {name}-error")/>
                <p class="help" id=help_id>{help}</p>
                <FieldError error field=name/>
            </div>
        }
    };
    view! {
        {p.is_admin.then(|| {
            let (users, me) = (p.users.clone(), p.user.clone());
            view! {
                <form method="get" action="/settings/working-hours" class="filter">
                    <label for="hours-user">"Working hours of"</label>
                    <select id="hours-user" name="user">
                        {users.into_iter().map(|u| { let sel = u == me; view! { <option value=u.clone() selected=sel>{u.clone()}</option> } }).collect_view()}
                    </select>
                    <button type="submit" class="button">"Show"</button>
                </form>
            }
        })}
        <section class="card">
            <h2>{format!("Weekly hours of {member}")}</h2>
            <ActionForm action=save attr:aria-label="Weekly hours">
                <FormAlert error/>
                {move || saved().map(|m| view! { <div class="alert success" role="status" data-test="hours-saved">{m}</div> })}
                <input type="hidden" name="user" value=p.user.clone()/>
                <div class="field">
                    <label for="hours-zone">"Time zone of these hours"</label>
                    <select id="hours-zone" name="time_zone" aria-describedby="time_zone-error">
                        {p.zones.iter().map(|z| { let sel = *z == p.time_zone; view! { <option value=z.clone() selected=sel>{z.clone()}</option> } }).collect_view()}
                    </select>
                    <FieldError error field="time_zone"/>
                </div>
                <label class="check">
                    <input type="checkbox" name="any_time" prop:checked=move || any_time.get() on:change=move |ev| any_time.set(event_target_checked(&ev)) data-test="any-time"/>
                    " Available at any time (no working hours)"
                </label>
                <fieldset class="stack week">
                    <legend>"Hours per day"</legend>
                    <p class="help" id="week-help">"Like 09:00–17:00, or several: 09:00–12:00, 13:00–17:00. An end before the start runs into the next day (22:00–02:00). Leave a day empty when you do not work."</p>
                    {p.days.iter().enumerate().map(|(i, d)| {
                        let field = DAY_FIELDS[i];
                        let id = format!("hours-{}", d.key);
                        view! {
                            <div class="field day-row">
                                <label for=id.clone()>{d.label.clone()}</label>
                                <input id=id name=d.key.clone() value=d.text.clone() placeholder="09:00–17:00" aria-describedby=format!("week-help {field}-error") data-test=format!("day-{}", d.key)/>
                                <FieldError error field/>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
                <div class="grid2">
                    {number("buffer_before", "Buffer before (minutes)", p.buffer_before.clone(), "Kept free before each meeting.")}
                    {number("buffer_after", "Buffer after (minutes)", p.buffer_after.clone(), "Kept free after each meeting.")}
                    {number("notice", "Minimum notice (minutes)", p.notice.clone(), "How long before a meeting it can be booked at the latest.")}
                    {number("per_day", "Most bookings per day", p.per_day.clone(), "Empty: no limit. External events do not count.")}
                    {number("per_week", "Most bookings per week", p.per_week.clone(), "Monday to Sunday in your zone. Empty: no limit.")}
                </div>
                <div class="actions">
                    <Submit pending=save.pending() label="Save working hours" busy="Saving…"/>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn Overrides(p: WorkingHoursData, add: ServerAction<AddOverride>, remove: ServerAction<RemoveOverride>) -> impl IntoView {
    let error = last_error(add.value());
    let remove_error = last_error(remove.value());
    let said = move || add.value().get().and_then(|r| r.ok()).or_else(|| remove.value().get().and_then(|r| r.ok()));
    let user = p.user.clone();
    view! {
        <section class="card">
            <h2>"Dates that differ"</h2>
            <p class="muted">{format!("Dates are read in {}. An override replaces that day's weekly hours.", p.time_zone)}</p>
            {move || said().map(|m| view! { <div class="alert success" role="status" data-test="override-saved">{m}</div> })}
            <FormAlert error=remove_error/>
            {if p.overrides.is_empty() {
                Either::Left(view! { <p class="muted" data-test="no-overrides">"No dates differ. Add a day off or other hours below."</p> })
            } else {
                Either::Right(view! {
                    <ul class="overrides" data-test="overrides">
                        {p.overrides.into_iter().map(|o| {
                            let user = user.clone();
                            let (label, form_label) = (format!("Remove the override of {}", o.label), format!("Remove the override of {}", o.label));
                            view! {
                                <li data-test="override">
                                    <span class="override-date">{o.label.clone()}</span>
                                    <span>{o.hours.clone()}</span>
                                    <ActionForm action=remove attr:class="inline" attr:aria-label=form_label>
                                        <input type="hidden" name="user" value=user/>
                                        <input type="hidden" name="date" value=o.date.clone()/>
                                        <button type="submit" class="button small" aria-label=label>"Remove"</button>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })
            }}
            <ActionForm action=add attr:aria-label="Add a date">
                <FormAlert error/>
                <input type="hidden" name="user" value=p.user.clone()/>
                <div class="grid2">
                    <div class="field">
                        <label for="override-date">"Date"</label>
                        <input id="override-date" name="date" type="date" required aria-describedby="override_date-error"/>
                        <FieldError error field="override_date"/>
                    </div>
                    <div class="field">
                        <label for="override-hours">"Hours that day"</label>
                        <input id="override-hours" name="hours" placeholder="10:00–12:00" aria-describedby="override-help override_hours-error"/>
                        <p class="help" id="override-help">"Leave empty for a day off."</p>
                        <FieldError error field="override_hours"/>
                    </div>
                </div>
                <div class="actions">
                    <Submit pending=add.pending() label="Add date" busy="Saving…"/>
                </div>
            </ActionForm>
        </section>
    }
}
