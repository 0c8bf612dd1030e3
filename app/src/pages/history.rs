//! History: a timeline, newest first — who or what changed it (a person, a sync, a webhook,
//! the merge, a conflict resolution, the push), when, and each field before and after. A
//! conflict resolution can be undone from its entry.
use crate::{
    api::history::{load_history, HistoryLine, UndoResolution},
    components::form::{last_error, FormAlert},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let undo = ServerAction::<UndoResolution>::new();
    let page = Resource::new(
        move || {
            let q = query.read();
            (
                q.get("booking").and_then(|b| b.parse::<i64>().ok()),
                q.get("integration"),
                q.get("event"),
                q.get("offset").and_then(|o| o.parse::<i64>().ok()),
                undo.version().get(),
            )
        },
        |(booking, integration, event, offset, _)| load_history(booking, integration, event, offset),
    );
    let error = last_error(undo.value());
    let done = move || undo.value().get().and_then(|r| r.ok());
    view! {
        <Title text="History"/>
        <FormAlert error/>
        {move || done().map(|m| view! { <div class="alert success" role="status" data-test="undone">{m}</div> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                page.await.map(|p| view! {
                    <div class="page-head">
                        <h1>"History"</h1>
                        <p class="muted">{format!("{} · {} entries, newest first", p.title, p.total)}</p>
                    </div>
                    <section class="card">
                        {if p.lines.is_empty() {
                            Either::Left(view! { <p class="muted">"Nothing recorded yet."</p> })
                        } else {
                            Either::Right(view! { <ol class="timeline">{p.lines.into_iter().map(|l| view! { <Line l undo/> }).collect_view()}</ol> })
                        }}
                    </section>
                })
            })}
        </Transition>
    }
}

#[component]
fn Line(l: HistoryLine, undo: ServerAction<UndoResolution>) -> impl IntoView {
    view! {
        <li class="entry" data-test="history-entry" data-source=l.source.clone()>
            <div class="entry-head">
                <span class="badge">{l.source.clone()}</span>
                <strong>{l.what.clone()}</strong>
                <span class="small muted">{format!(" · {} · {}", l.at, l.actor)}</span>
            </div>
            {(!l.changes.is_empty()).then(|| view! {
                <table class="compare">
                    <thead><tr><th scope="col">"Field"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                    <tbody>
                        {l.changes.iter().map(|c| view! { <tr><th scope="row">{c.field.clone()}</th><td>{c.before.clone()}</td><td>{c.after.clone()}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            })}
            {l.undo.map(|id| view! {
                <ActionForm action=undo attr:class="inline">
                    <input type="hidden" name="conflict" value=id/>
                    <button type="submit" class="button small">"Undo this resolution"</button>
                </ActionForm>
            })}
        </li>
    }
}
