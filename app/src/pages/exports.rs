//! Settings → Calendar export: create a feed address (private or free/busy, all calendars or
//! some), copy it (https:// or webcal://), see when it was last fetched, revoke it.
use crate::{
    api::exports::{list_exports, CalendarChoice, CreateExport, ExportView, NewExport, RevokeExport},
    components::form::{last_error, FieldError, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;

#[component]
pub fn ExportsPage() -> impl IntoView {
    let create = ServerAction::<CreateExport>::new();
    let revoke = ServerAction::<RevokeExport>::new();
    let page = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_exports());
    let error = last_error(create.value());
    let revoke_error = last_error(revoke.value());
    view! {
        <Title text="Calendar export"/>
        <h1>"Calendar export"</h1>
        <p class="muted">
            "An export link publishes your calendars as one iCalendar feed that Google Calendar, Outlook, Apple Calendar or any booking page can subscribe to. "
            "Free/busy links show only “Busy” blocks; private links show titles, places, descriptions and attendees. Anyone with the address can read it: share it with care, and revoke it when it is no longer needed."
        </p>
        {move || create.value().get().and_then(|r| r.ok()).map(|n| view! { <NewLink n/> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(p) => Either::Right(view! {
                        <CreateForm calendars=p.calendars create error/>
                        <section class="card">
                            <h2>"Your export links"</h2>
                            <FormAlert error=revoke_error/>
                            {if p.links.is_empty() {
                                Either::Left(view! { <p class="muted" data-test="no-exports">"No export links yet. Create one above to publish your busy time."</p> })
                            } else {
                                Either::Right(view! { <LinkTable links=p.links revoke/> })
                            }}
                        </section>
                    }),
                }
            })}
        </Transition>
    }
}

#[component]
fn NewLink(n: NewExport) -> impl IntoView {
    let copied = RwSignal::new(false);
    let url = n.url.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&url);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &url;
        copied.set(true);
    };
    view! {
        <div class="alert success new-export" role="status" data-test="new-export">
            <p><strong>{format!("{} link created.", n.kind)}</strong>" Copy the address now: it is not shown again."</p>
            <div class="field">
                <label for="export-url">"Feed address"</label>
                <div class="copy-row">
                    <input id="export-url" readonly value=n.url.clone() data-test="export-url"/>
                    <button type="button" class="button small" on:click=copy data-test="copy-url">"Copy"</button>
                    <span class="small" aria-live="polite">{move || if copied.get() { "Copied." } else { "" }}</span>
                </div>
            </div>
            <p class="small">
                "Or subscribe straight from a calendar app: "
                <a href=n.webcal_url.clone() data-test="webcal-url">{n.webcal_url.clone()}</a>
            </p>
        </div>
    }
}

#[component]
fn CreateForm(calendars: Vec<CalendarChoice>, create: ServerAction<CreateExport>, error: Signal<Option<crate::error::AppError>>) -> impl IntoView {
    let chosen = RwSignal::new(Vec::<String>::new());
    let some = RwSignal::new(false);
    view! {
        <section class="card">
            <h2>"Create an export link"</h2>
            <ActionForm action=create attr:aria-label="Create an export link">
                <FormAlert error/>
                <fieldset class="stack">
                    <legend>"What it shows"</legend>
                    <label class="check"><input type="radio" name="kind" value="freebusy" checked=true/>" Free/busy: only “Busy” blocks, nothing else"</label>
                    <label class="check"><input type="radio" name="kind" value="private"/>" Private: titles, places, descriptions and attendees"</label>
                    <FieldError error field="kind"/>
                </fieldset>
                <fieldset class="stack">
                    <legend>"Which calendars"</legend>
                    <label class="check"><input type="radio" name="scope" value="all" checked=true prop:checked=move || !some.get() on:change=move |_| some.set(false)/>" All my active calendars (new ones too)"</label>
                    <label class="check"><input type="radio" name="scope" value="chosen" prop:checked=move || some.get() on:change=move |_| some.set(true)/>" Only these:"</label>
                    <input type="hidden" name="integrations" prop:value=move || chosen.get().join("\n")/>
                    <ul class="choices">
                        {calendars.into_iter().map(|c| {
                            let id = format!("export-{}", c.name);
                            let label_for = id.clone();
                            let name = c.name.clone();
                            let ticked = {
                                let name = name.clone();
                                move || chosen.with(|v| v.contains(&name))
                            };
                            let toggle = move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|v| {
                                    v.retain(|n| *n != name);
                                    if on {
                                        v.push(name.clone());
                                    }
                                });
                                if on {
                                    some.set(true);
                                }
                            };
                            view! { <li><label class="check" for=label_for><input type="checkbox" id=id prop:checked=ticked on:change=toggle/>" "{c.integration_name}</label></li> }
                        }).collect_view()}
                    </ul>
                    <FieldError error field="integrations"/>
                    {move || (some.get() && chosen.with(Vec::is_empty)).then(|| view! { <p class="help">"Tick the calendars to include."</p> })}
                </fieldset>
                <label class="check"><input type="checkbox" name="include_bookings" checked=true/>" Include meetings booked through calsync (each appears once, even when it is also in a synced calendar)"</label>
                <div class="actions">
                    <Submit pending=create.pending() label="Create link" busy="Creating…"/>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn LinkTable(links: Vec<ExportView>, revoke: ServerAction<RevokeExport>) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0" role="region" aria-label="Export links">
            <table class="table" data-test="exports-table">
                <thead><tr>
                    <th scope="col">"Shows"</th><th scope="col">"Calendars"</th><th scope="col">"Address"</th>
                    <th scope="col">"Created"</th><th scope="col">"Last fetched"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {links.into_iter().map(|l| view! {
                        <tr data-test="export-row">
                            <td>{l.kind}</td>
                            <td>{l.calendars}{l.include_bookings.then_some(" + bookings")}</td>
                            <td><code>{l.address}</code></td>
                            <td>{l.created}</td>
                            <td data-test="export-last-fetched">{l.last_fetched}</td>
                            <td>
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="id" value=l.id/>
                                    <button type="submit" class="button small subtle-danger" data-test="revoke-export">"Revoke"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
