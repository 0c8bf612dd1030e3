//! After consenting at the provider: the account's calendars to tick, and "Add selected
//! calendars". Calendars already connected are marked; read-only ones say they sync one way.
use crate::{
    api::connect::{get_picker, AddCalendars, PickerCalendar},
    components::form::{last_error, FieldError, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn ConnectPage() -> impl IntoView {
    let params = use_params_map();
    let account = move || params.read().get("account").and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
    let picker = Resource::new(account, get_picker);
    let add = ServerAction::<AddCalendars>::new();
    let error = last_error(add.value());
    // Added: on to the calendars, where the first syncs show.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            navigate("/calendars", Default::default());
        }
    });
    view! {
        <Title text="Choose calendars"/>
        <h1>"Choose calendars"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading the account's calendars…"</p> }>
            {move || Suspend::new(async move {
                match picker.await {
                    Err(e) => Either::Left(view! {
                        <div class="alert error" role="alert">{e.to_string()}</div>
                        <p><a class="button" href="/calendars">"Back to calendars"</a></p>
                    }),
                    Ok(p) => Either::Right(view! {
                        <p class="muted" data-test="picker-account">{format!("{} · {}", p.provider, p.email)}</p>
                        <section class="card">
                            <ActionForm action=add attr:aria-label="Choose calendars to add">
                                <FormAlert error/>
                                <input type="hidden" name="account_id" value=p.account_id/>
                                <fieldset class="picker" aria-describedby="ids-error">
                                    <legend>"Calendars in this account"</legend>
                                    {p.calendars.into_iter().enumerate().map(|(i, c)| view! { <PickerRow index=i calendar=c/> }).collect_view()}
                                </fieldset>
                                <FieldError error field="ids"/>
                                <p class="help">"Each calendar you add syncs on its own; its events block your availability."</p>
                                <div class="form-actions">
                                    <Submit pending=add.pending() label="Add selected calendars" busy="Adding…"/>
                                    <a class="button" href="/calendars">"Cancel"</a>
                                </div>
                            </ActionForm>
                        </section>
                    }),
                }
            })}
        </Transition>
    }
}

#[component]
fn PickerRow(index: usize, calendar: PickerCalendar) -> impl IntoView {
    let id = format!("calendar-{index}");
    let connected = calendar.connected_as.is_some();
    let swatch = calendar.color.clone().unwrap_or_else(|| "#888888".into());
    let mut details = vec![calendar.access.clone()];
    if calendar.primary {
        details.insert(0, "Primary".into());
    }
    let note = if connected {
        Some("Already connected.".to_string())
    } else if !calendar.writable {
        Some("Read-only: it syncs one way (calsync reads it, never writes to it).".to_string())
    } else {
        None
    };
    view! {
        <div class="picker-row" data-test="picker-row">
            <input type="checkbox" id=id.clone() name=format!("ids[{index}]") value=calendar.id.clone() disabled=connected checked=connected/>
            <span class="swatch" style=format!("background:{swatch}") aria-hidden="true"></span>
            <label for=id>{calendar.name.clone()}</label>
            <span class="muted small">{details.join(" · ")}</span>
            {note.map(|n| view! { <span class="small picker-note">{n}</span> })}
        </div>
    }
}
