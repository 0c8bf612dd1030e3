//! Conflicts: where a booking and its copy in a calendar changed apart. The list puts open
//! ones first; one conflict shows calsync's version and the calendar's side by side, with the
//! base both came from and the differing fields marked, and resolves it whole or per field.
use crate::{
    api::conflicts::{get_conflict, list_conflicts, ConflictDetail, ConflictRow, FieldRow, ResolveConflict},
    components::form::{last_error, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};
use vocab::ConflictState;

fn state_badge(state: ConflictState) -> (&'static str, &'static str) {
    let class = match state {
        ConflictState::Open => "status status-warn",
        ConflictState::Decided => "status status-muted",
        ConflictState::Resolved => "status status-ok",
    };
    (class, state.label())
}

#[component]
pub fn ConflictsPage() -> impl IntoView {
    let query = use_query_map();
    let items = Resource::new(move || query.read().get("state"), list_conflicts);
    let filters = std::iter::once(("", "All")).chain(ConflictState::ALL.map(|s| (s.as_str(), s.label())));
    view! {
        <Title text="Conflicts"/>
        <div class="page-head">
            <h1>"Conflicts"</h1>
            <p class="muted">"A booking and its copy in your calendar that were changed apart. Open ones wait for you; decided ones were settled by the calendar's policy and can still be changed."</p>
        </div>
        <nav class="tabs" aria-label="Filter conflicts">
            {filters.map(|(v, label)| {
                let href = if v.is_empty() { "/conflicts".to_string() } else { format!("/conflicts?state={v}") };
                let current = move || query.read().get("state").unwrap_or_default() == v;
                view! { <a href=href aria-current=move || current().then_some("page")>{label}</a> }
            }).collect_view()}
        </nav>
        <section class="card">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    items.await.map(|rows| if rows.is_empty() {
                        Either::Left(view! { <p class="muted" data-test="no-conflicts">"No conflicts. When a booking's copy is changed in your calendar while the booking changes too, or under the Ask policy, it shows here."</p> })
                    } else {
                        Either::Right(view! { <ul class="conflicts">{rows.into_iter().map(|c| view! { <ConflictItem c/> }).collect_view()}</ul> })
                    })
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ConflictItem(c: ConflictRow) -> impl IntoView {
    let (class, label) = state_badge(c.state);
    view! {
        <li class="conflict" data-test="conflict" data-state=c.state.as_str()>
            <div>
                <A href=format!("/conflicts/{}", c.id)><strong>{c.title.clone()}</strong></A>
                " " <span class=class>{label}</span>
                <div class="small">{format!("{} — in '{}'", c.summary, c.calendar)}</div>
                <div class="small muted">{format!("{} · {}", c.when, c.decided.clone().unwrap_or_else(|| "Waiting for you".into()))}</div>
            </div>
        </li>
    }
}

#[component]
pub fn ConflictPage() -> impl IntoView {
    let params = use_params_map();
    let resolve = ServerAction::<ResolveConflict>::new();
    let id = move || params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0);
    let detail = Resource::new(move || (id(), resolve.version().get()), |(id, _)| get_conflict(id));
    let error = last_error(resolve.value());
    let done = move || resolve.value().get().and_then(|r| r.ok());
    view! {
        <Title text="Conflict"/>
        <p><A href="/conflicts">"← All conflicts"</A></p>
        <FormAlert error/>
        {move || done().map(|m| view! { <div class="alert success" role="status" data-test="resolved">{m}</div> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                detail.await.map(|d| view! { <Detail d resolve/> })
            })}
        </Transition>
    }
}

#[component]
fn Detail(d: ConflictDetail, resolve: ServerAction<ResolveConflict>) -> impl IntoView {
    let (class, label) = state_badge(d.state);
    let open_to_change = d.state != ConflictState::Resolved;
    let id = d.id;
    let deleted = d.deleted;
    view! {
        <div class="page-head">
            <h1>{d.title.clone()}</h1>
            <p>
                <span class=class data-test="conflict-state">{label}</span>
                {format!(" · in '{}' · policy {}", d.calendar, d.policy)}
            </p>
            {d.decided.clone().map(|t| view! { <p class="muted" data-test="decided">{t}</p> })}
        </div>
        <section class="card">
            <h2>"Side by side"</h2>
            {deleted.then(|| view! { <p class="alert warning">"The copy was deleted in the calendar."</p> })}
            <ActionForm action=resolve attr:aria-label="Choose field by field">
                <input type="hidden" name="id" value=id/>
                <div class="table-wrap" tabindex="0" role="region" aria-label="The two versions side by side">
                    <table class="compare">
                        <caption class="visually-hidden">"The booking in calsync and its copy in the calendar"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Field"</th>
                                <th scope="col">"Before (as last written)"</th>
                                <th scope="col">"calsync"</th>
                                <th scope="col">"Calendar"</th>
                                {open_to_change.then(|| view! { <th scope="col">"Keep"</th> })}
                            </tr>
                        </thead>
                        <tbody>
                            {d.rows.clone().into_iter().map(|r| view! { <Row r open_to_change deleted/> }).collect_view()}
                        </tbody>
                    </table>
                </div>
                {(open_to_change && !deleted).then(|| view! {
                    <div class="actions"><Submit pending=resolve.pending() label="Apply my choices" busy="Applying…"/></div>
                })}
            </ActionForm>
            {open_to_change.then(|| view! {
                <div class="actions">
                    <ActionForm action=resolve attr:class="inline">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="take" value="local"/>
                        <button type="submit" class="button">"Keep calsync's version"</button>
                    </ActionForm>
                    <ActionForm action=resolve attr:class="inline">
                        <input type="hidden" name="id" value=id/>
                        <input type="hidden" name="take" value="remote"/>
                        <button type="submit" class="button">{if deleted { "Keep the deletion" } else { "Keep the calendar's version" }}</button>
                    </ActionForm>
                </div>
            })}
            <p class="small"><A href=format!("/history?booking={}", d.booking_id)>"The booking's history"</A></p>
        </section>
    }
}

#[component]
fn Row(r: FieldRow, open_to_change: bool, deleted: bool) -> impl IntoView {
    let name = format!("fields[{}]", r.name);
    // "Title" reads "title" inside a sentence; "Occurrence of Wed …" keeps its day's capital.
    let label = {
        let mut c = r.label.chars();
        c.next().map(|f| f.to_lowercase().chain(c).collect::<String>()).unwrap_or_default()
    };
    let take = r.taken.clone().unwrap_or_else(|| "local".into());
    let pick = (open_to_change && r.differs && !deleted).then(|| {
        let (l, rm) = (take == "local", take == "remote");
        view! {
            <td class="keep">
                <label class="check"><input type="radio" name=name.clone() value="local" checked=l aria-label=format!("Keep calsync's {label}")/>" calsync"</label>
                <label class="check"><input type="radio" name=name.clone() value="remote" checked=rm aria-label=format!("Keep the calendar's {label}")/>" calendar"</label>
            </td>
        }
    });
    let empty_keep = (open_to_change && (!r.differs || deleted)).then(|| view! { <td></td> });
    let taken = r.taken.clone().filter(|_| r.differs).map(|t| if t == "local" { " (kept calsync's)" } else { " (kept the calendar's)" });
    view! {
        <tr class:differs=r.differs data-test="field" data-field=r.name.clone()>
            <th scope="row">{r.label.clone()}{r.differs.then(|| view! { <span class="badge">"differs"</span> })}{taken.map(|t| view! { <span class="small muted">{t}</span> })}</th>
            <td>{r.base.clone()}</td>
            <td data-side="local">{r.local.clone()}</td>
            <td data-side="remote">{r.remote.clone()}</td>
            {pick}
            {empty_keep}
        </tr>
    }
}
