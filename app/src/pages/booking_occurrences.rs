//! A recurring booking's coming occurrences on the Bookings page: each with what was changed
//! about it alone, and cancelling, changing or bringing back one while the series stays.
use crate::{
    api::bookings::BookResult,
    api::occurrences::{CancelOccurrence, ChangeOccurrence, OccurrenceLine},
    components::form::{last_error, FormAlert, Submit},
};
use leptos::prelude::*;

/// The coming occurrences, folded away until opened.
#[component]
pub fn Occurrences(
    id: i64,
    version: i64,
    time_zone: String,
    lines: Vec<OccurrenceLine>,
    edited: RwSignal<u32>,
    saved: RwSignal<Option<(String, Vec<String>)>>,
) -> impl IntoView {
    let changed = lines.iter().filter(|l| l.state != "as-series").count();
    let summary = match changed {
        0 => "Coming occurrences".to_string(),
        1 => "Coming occurrences (1 changed)".to_string(),
        n => format!("Coming occurrences ({n} changed)"),
    };
    view! {
        <details class="occurrences">
            <summary>{summary}</summary>
            <p class="help">{format!("Change or cancel one occurrence; the rest of the series stays. Times are in {time_zone}.")}</p>
            <ul class="occurrence-list">
                {lines.into_iter().enumerate().map(|(n, line)| view! { <OccurrenceItem id version n line edited saved/> }).collect_view()}
            </ul>
        </details>
    }
}

#[component]
fn OccurrenceItem(
    id: i64,
    version: i64,
    n: usize,
    line: OccurrenceLine,
    edited: RwSignal<u32>,
    saved: RwSignal<Option<(String, Vec<String>)>>,
) -> impl IntoView {
    let cancel = ServerAction::<CancelOccurrence>::new();
    let change = ServerAction::<ChangeOccurrence>::new();
    Effect::new(move |_| {
        if let Some(Ok(m)) = cancel.value().get() {
            saved.set(Some((m, Vec::new())));
            edited.update(|k| *k += 1);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(BookResult::Booked(m, warnings))) = change.value().get() {
            saved.set(Some((m, warnings)));
            edited.update(|k| *k += 1);
        }
    });
    let cancel_error = last_error(cancel.value());
    let change_error = last_error(change.value());
    let busy = Signal::derive(move || match change.value().get() {
        Some(Ok(BookResult::Busy(messages))) => messages,
        _ => Vec::new(),
    });
    let (status, label) = match line.state.as_str() {
        "cancelled" => (Some("status status-muted"), "Cancelled"),
        "changed" => (Some("status status-pending"), "Changed"),
        _ => (None, ""),
    };
    let cancelled = line.state == "cancelled";
    let key = line.key.clone();
    let hidden = move || {
        view! {
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="key" value=key.clone()/>
            <input type="hidden" name="version" value=version/>
        }
    };
    let field = move |name: &'static str, text: &'static str, kind: &'static str, value: String| {
        let input_id = format!("occ-{id}-{n}-{name}");
        let error_id = format!("{input_id}-error");
        let message = move || change_error.get().and_then(|e| e.for_field(name));
        view! {
            <div class="field">
                <label for=input_id.clone()>{text}</label>
                <input id=input_id name=name type=kind value=value required=true aria-describedby=error_id.clone()/>
                {move || message().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
            </div>
        }
    };
    let (back, drop, keep) = (hidden(), hidden(), hidden());
    let form_label = format!("Change the occurrence of {}", line.when);
    view! {
        <li class="small" data-test="occurrence" data-state=line.state.clone()>
            <span>{line.when.clone()}</span>
            {format!(" · {}", line.title)}
            {status.map(|c| view! { " " <span class=c>{label}</span> })}
            <FormAlert error=cancel_error/>
            {if cancelled {
                view! {
                    <ActionForm action=change attr:class="inline">
                        {back}
                        <button type="submit" class="button small">"Bring it back"</button>
                    </ActionForm>
                }.into_any()
            } else {
                view! {
                    <ActionForm action=cancel attr:class="inline">
                        {drop}
                        <button type="submit" class="button small subtle-danger" aria-label=format!("Cancel this one: {}", line.when)>"Cancel this one"</button>
                    </ActionForm>
                    <details class="edit">
                        <summary>"Change this one"</summary>
                        <ActionForm action=change attr:aria-label=form_label>
                            <FormAlert error=change_error/>
                            {move || (!busy.get().is_empty()).then(|| view! {
                                <div class="alert warning" role="alert"><ul>{busy.get().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul></div>
                            })}
                            {keep}
                            {field("title", "Title", "text", line.title.clone())}
                            <div class="grid2">
                                {field("start", "Start", "datetime-local", line.start_input.clone())}
                                {field("end", "End", "datetime-local", line.end_input.clone())}
                            </div>
                            <label class="check"><input type="checkbox" name="allow_conflict"/>" Save even if the time is taken"</label>
                            <div class="actions"><Submit pending=change.pending() label="Save this occurrence" busy="Saving…"/></div>
                        </ActionForm>
                    </details>
                }.into_any()
            }}
        </li>
    }
}
