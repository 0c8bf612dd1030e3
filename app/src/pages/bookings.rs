//! Bookings: book a meeting for a member (checked against their calendars and bookings; what
//! is in the way is listed, and can be overridden), see the coming ones, cancel one.
use crate::{
    api::bookings::{booking_form, list_bookings, BookResult, BookingFormData as Page, BookingView, CancelBooking, CopyLine, CreateBooking, UpdateBooking},
    components::form::{last_error, FieldError, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use vocab::CopyState;

#[component]
pub fn BookingsPage() -> impl IntoView {
    let query = use_query_map();
    let book = ServerAction::<CreateBooking>::new();
    let cancel = ServerAction::<CancelBooking>::new();
    // The form's data does not change when a booking is made, so the form (and what was typed
    // in it) stays while the list reloads.
    let form_data = Resource::new(move || query.read().get("user"), booking_form);
    // An edit made in a booking's own form: its message (with the warnings of the calendars it
    // could not be checked against), and a count that reloads the list.
    let edited = RwSignal::new(0u32);
    let saved = RwSignal::new(None::<(String, Vec<String>)>);
    let page = Resource::new(move || (query.read().get("user"), book.version().get(), cancel.version().get(), edited.get()), |(user, ..)| list_bookings(user));
    let error = last_error(book.value());
    let cancel_error = last_error(cancel.value());
    view! {
        <Title text="Bookings"/>
        <div class="page-head">
            <h1>"Bookings"</h1>
            <p class="muted">"Meetings booked through calsync. Each is checked against the member's calendars and other bookings before it is saved, and blocks their time."</p>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match form_data.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(p) => {
                        // Find a time's "Book" fills the form in.
                        let q = query.read_untracked();
                        let prefill = Prefill { team: q.get("team"), start: q.get("start").unwrap_or_default(), end: q.get("end").unwrap_or_default(), time_zone: q.get("time_zone") };
                        Either::Right(view! { <BookingForm p prefill book error/> })
                    }
                }
            })}
        </Transition>
        <section class="card">
            <h2>"Coming up"</h2>
            <FormAlert error=cancel_error/>
            {move || saved.get().map(|(m, warnings)| view! {
                <div class="alert success" role="status" data-test="saved">{m}</div>
                <UncheckedCalendars warnings test="saved-warning"/>
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    page.await.map(|items| if items.is_empty() {
                        Either::Left(view! { <p class="muted" data-test="no-bookings">"No bookings in the coming year. Book one above."</p> })
                    } else {
                        Either::Right(view! {
                            <ul class="bookings">
                                {items.into_iter().map(|b| view! { <BookingItem b cancel edited saved/> }).collect_view()}
                            </ul>
                        })
                    })
                })}
            </Transition>
        </section>
    }
}

/// What a link from Find a time fills in: a team (the member is picked on booking), the times
/// and their zone.
#[derive(Clone, Debug, Default)]
struct Prefill {
    team: Option<String>,
    start: String,
    end: String,
    time_zone: Option<String>,
}

#[component]
fn BookingForm(p: Page, prefill: Prefill, book: ServerAction<CreateBooking>, error: Signal<Option<crate::error::AppError>>) -> impl IntoView {
    let busy = Signal::derive(move || match book.value().get() {
        Some(Ok(BookResult::Busy(messages))) => messages,
        _ => Vec::new(),
    });
    let booked = Signal::derive(move || match book.value().get() {
        Some(Ok(BookResult::Booked(message, _))) => Some(message),
        _ => None,
    });
    let unchecked = Signal::derive(move || match book.value().get() {
        Some(Ok(BookResult::Booked(_, warnings))) => warnings,
        _ => Vec::new(),
    });
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if booked.get().is_some() {
            if let Some(f) = form.get() {
                f.reset();
            }
        }
    });
    let member = match &prefill.team {
        Some(t) => format!("team {t}"),
        None => p.user.clone(),
    };
    let zone = prefill.time_zone.clone().filter(|z| p.zones.contains(z)).unwrap_or_else(|| p.time_zone.clone());
    view! {
        {p.is_admin.then(|| {
            let (users, me) = (p.users.clone(), p.user.clone());
            view! {
                <form method="get" action="/bookings" class="filter">
                    <label for="bookings-user">"Bookings of"</label>
                    <select id="bookings-user" name="user">
                        {users.into_iter().map(|u| { let sel = u == me; view! { <option value=u.clone() selected=sel>{u.clone()}</option> } }).collect_view()}
                    </select>
                    <button type="submit" class="button">"Show"</button>
                </form>
            }
        })}
        {move || booked.get().map(|m| view! { <div class="alert success" role="status" data-test="booked">{m}</div> })}
        {move || view! { <UncheckedCalendars warnings=unchecked.get() test="booked-warning"/> }}
        {move || (!busy.get().is_empty()).then(|| view! {
            <div class="alert warning" role="alert" data-test="clash">
                <p><strong>"Not booked: the time is taken."</strong></p>
                <ul>{busy.get().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                <p class="small">"Choose another time, or tick “Book even if the time is taken” and book again."</p>
            </div>
        })}
        <section class="card">
            <h2>{format!("Book a meeting for {member}")}</h2>
            <ActionForm action=book node_ref=form attr:aria-label="Book a meeting">
                <FormAlert error/>
                <input type="hidden" name="user" value=p.user.clone()/>
                {prefill.team.clone().map(|t| view! {
                    <input type="hidden" name="team" value=t/>
                    <p class="help" data-test="team-booking">"calsync picks the member: free for the whole meeting by their working hours and rules, least recently booked for the team first."</p>
                })}
                <div class="field">
                    <label for="booking-title">"Title"</label>
                    <input id="booking-title" name="title" maxlength="200" required aria-describedby="title-error"/>
                    <FieldError error field="title"/>
                </div>
                <div class="grid2">
                    <div class="field">
                        <label for="booking-start">"Start"</label>
                        <input id="booking-start" name="start" type="datetime-local" value=prefill.start.clone() required aria-describedby="start-error"/>
                        <FieldError error field="start"/>
                    </div>
                    <div class="field">
                        <label for="booking-end">"End"</label>
                        <input id="booking-end" name="end" type="datetime-local" value=prefill.end.clone() required aria-describedby="end-error"/>
                        <FieldError error field="end"/>
                    </div>
                    <div class="field">
                        <label for="booking-zone">"Time zone"</label>
                        <select id="booking-zone" name="time_zone" aria-describedby="time_zone-error">
                            {p.zones.iter().map(|z| { let sel = *z == zone; view! { <option value=z.clone() selected=sel>{z.clone()}</option> } }).collect_view()}
                        </select>
                        <FieldError error field="time_zone"/>
                    </div>
                    <div class="field">
                        <label for="booking-location">"Location"</label>
                        <input id="booking-location" name="location" maxlength="500"/>
                    </div>
                </div>
                <div class="field">
                    <label for="booking-attendees">"Attendees"</label>
                    <input id="booking-attendees" name="attendees" placeholder="lee@example.com, kim@example.com" aria-describedby="attendees-help attendees-error"/>
                    <p class="help" id="attendees-help">"Email addresses, separated by commas."</p>
                    <FieldError error field="attendees"/>
                </div>
                <div class="field">
                    <label for="booking-recurrence">"Repeats"</label>
                    <input id="booking-recurrence" name="recurrence" placeholder="RRULE:FREQ=WEEKLY;COUNT=10" aria-describedby="recurrence-help recurrence-error"/>
                    <p class="help" id="recurrence-help">"Leave empty for a single meeting; or an iCalendar rule such as RRULE:FREQ=WEEKLY;COUNT=10. Every occurrence in the next year is checked."</p>
                    <FieldError error field="recurrence"/>
                </div>
                // A team's booking goes to a free member: there is nothing to override.
                {prefill.team.is_none().then(|| view! {
                    <label class="check"><input type="checkbox" name="allow_conflict"/>" Book even if the time is taken"</label>
                })}
                <FieldError error field="user"/>
                <FieldError error field="team"/>
                <div class="actions">
                    <Submit pending=book.pending() label="Book" busy="Checking…"/>
                </div>
            </ActionForm>
        </section>
    }
}

/// What a booking made or moved could not be checked against: a warning per calendar
/// ("Booked, but 'Work' has not synced since 09:12 — a clash there would not be seen").
#[component]
fn UncheckedCalendars(warnings: Vec<String>, test: &'static str) -> impl IntoView {
    (!warnings.is_empty()).then(|| {
        view! {
            <div class="alert warning" role="status" data-test=test>
                <ul>{warnings.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                <p class="small">"See " <a href="/sync">"Sync"</a> " for what went wrong."</p>
            </div>
        }
    })
}

/// A booking's own edit form, folded away until opened.
#[component]
fn EditBooking(b: BookingView, edited: RwSignal<u32>, saved: RwSignal<Option<(String, Vec<String>)>>) -> impl IntoView {
    let update = ServerAction::<UpdateBooking>::new();
    let error = last_error(update.value());
    Effect::new(move |_| {
        if let Some(Ok(BookResult::Booked(m, warnings))) = update.value().get() {
            saved.set(Some((m, warnings)));
            edited.update(|n| *n += 1);
        }
    });
    let busy = Signal::derive(move || match update.value().get() {
        Some(Ok(BookResult::Busy(messages))) => messages,
        _ => Vec::new(),
    });
    let id = b.id;
    let form_label = format!("Edit {}", b.title);
    let field = move |name: &'static str, label: &'static str, kind: &'static str, value: String| {
        let input_id = format!("edit-{id}-{name}");
        let error_id = format!("{input_id}-error");
        let message = move || error.get().and_then(|e| e.for_field(name));
        view! {
            <div class="field">
                <label for=input_id.clone()>{label}</label>
                <input id=input_id name=name type=kind value=value required=name != "location" aria-describedby=error_id.clone()/>
                {move || message().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
            </div>
        }
    };
    view! {
        <details class="edit">
            <summary>"Edit"</summary>
            <ActionForm action=update attr:aria-label=form_label>
                <FormAlert error/>
                {move || (!busy.get().is_empty()).then(|| view! {
                    <div class="alert warning" role="alert" data-test="edit-clash">
                        <ul>{busy.get().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                    </div>
                })}
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="version" value=b.version/>
                <input type="hidden" name="time_zone" value=b.time_zone.clone()/>
                {field("title", "Title", "text", b.title.clone())}
                <div class="grid2">
                    {field("start", "Start", "datetime-local", b.start_input.clone())}
                    {field("end", "End", "datetime-local", b.end_input.clone())}
                </div>
                {field("location", "Location", "text", b.location.clone().unwrap_or_default())}
                <p class="help">{format!("Times are in {}.", b.time_zone)}</p>
                <label class="check"><input type="checkbox" name="allow_conflict"/>" Save even if the time is taken"</label>
                <div class="actions"><Submit pending=update.pending() label="Save changes" busy="Saving…"/></div>
            </ActionForm>
        </details>
    }
}

/// Where a booking was written: "Work (Google): Written".
#[component]
fn CopyItem(c: CopyLine) -> impl IntoView {
    let (class, label) = match c.state {
        CopyState::Written => ("status status-ok", "Written"),
        CopyState::Failed => ("status status-error", "Failed"),
        CopyState::Pending => ("status status-pending", "Pending"),
    };
    view! {
        <li class="small" data-test="copy" data-state=c.state.as_str()>
            {format!("{}: ", c.calendar)}
            <span class=class>{label}</span>
            {c.detail.map(|d| view! { <span class="muted">{format!(" — {d}")}</span> })}
        </li>
    }
}

#[component]
fn BookingItem(b: BookingView, cancel: ServerAction<CancelBooking>, edited: RwSignal<u32>, saved: RwSignal<Option<(String, Vec<String>)>>) -> impl IntoView {
    let title = b.title.clone();
    view! {
        <li class="booking" class:muted-row=b.cancelled data-test="booking" data-title=title>
            <div>
                <strong>{b.title.clone()}</strong>
                {b.cancelled.then(|| view! { " " <span class="status status-muted">"Cancelled"</span> })}
                <div class="small muted">{b.when.clone()}</div>
                {b.recurrence.clone().map(|r| view! { <div class="small muted">{format!("Repeats: {r}")}</div> })}
                {b.location.clone().map(|l| view! { <div class="small">{l}</div> })}
                {(!b.attendees.is_empty()).then(|| view! { <div class="small muted">{format!("With {}", b.attendees)}</div> })}
                <ul class="copies">
                    {b.copies.clone().into_iter().map(|c| view! { <CopyItem c/> }).collect_view()}
                </ul>
                {(!b.occurrences.is_empty()).then(|| view! {
                    <super::booking_occurrences::Occurrences id=b.id version=b.version time_zone=b.time_zone.clone() lines=b.occurrences.clone() edited saved/>
                })}
                <a class="small" href=format!("/history?booking={}", b.id)>"History"</a>
                {(!b.cancelled).then(|| view! { <EditBooking b=b.clone() edited saved/> })}
            </div>
            {(!b.cancelled).then(|| view! {
                <ActionForm action=cancel attr:class="inline">
                    <input type="hidden" name="id" value=b.id/>
                    <button type="submit" class="button small subtle-danger">"Cancel booking"</button>
                </ActionForm>
            })}
        </li>
    }
}
