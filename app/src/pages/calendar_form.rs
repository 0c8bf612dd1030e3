//! Add or edit a calendar, laid out in the spec's sections. Works without JavaScript (a refusal
//! comes back with the values and messages, kept as a flash) and better with it (inline, no reload).
use crate::{
    api::{
        flash::Flash,
        integrations::{get_integration_form, FormData, SaveIntegration},
    },
    components::{
        form::{FieldError, Submit},
        notices::{use_flash, NoticeList, Notices},
    },
    error::AppError,
    pages::{busy_rules::BusyRulesSection, not_found::NotFound},
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use vocab::IntegrationType;

/// Warnings for one field (yellow; red when `danger`).
#[component]
fn FieldWarnings(#[prop(into)] error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    move || {
        error
            .get()
            .map(|e| e.warnings())
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w.field.as_deref() == Some(field))
            .map(|w| {
                let class = if w.danger { "field-error" } else { "field-warning" };
                view! { <p class=class data-test=format!("warning-{field}")>{w.message}</p> }
            })
            .collect_view()
    }
}

#[component]
pub fn CalendarFormPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    // A save that comes back here (with its flash) reads the record again: its version moved.
    let name = move || (params.read().get("name"), query.read().get("flash"));
    let data = Resource::new(name, |(name, _)| get_integration_form(name));
    let flash = use_flash();
    let save = ServerAction::<SaveIntegration>::new();

    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let flashed = flash.await;
                let said = flashed.clone().filter(|f| f.error.is_none()).map(|f| Notices::from_result(f.messages, f.warnings)).unwrap_or_default();
                let refused = flashed.filter(|f| f.error.is_some());
                match data.await {
                    Err(AppError::NotFound) => Either::Left(view! { <NotFound/> }),
                    Err(e) => Either::Right(Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> })),
                    Ok(d) => {
                        let name = d.record.as_ref().map(|r| r.name.clone());
                        Either::Right(Either::Right(view! {
                            <NoticeList notices=Signal::stored(said)/>
                            <CalendarForm data=d save refused/>
                            {name.map(|name| view! { <BusyRulesSection name/> })}
                        }))
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn CalendarForm(data: FormData, save: ServerAction<SaveIntegration>, refused: Option<Flash>) -> impl IntoView {
    let rec = data.record.clone();
    let is_new = rec.is_none();
    // After a refusal without JavaScript the typed values and the messages come back as a flash.
    let failed = refused.is_some();
    let refused_error = refused.as_ref().and_then(|f| f.error.clone());
    let error = Signal::derive(move || save.value().get().and_then(|r| r.err()).or_else(|| refused_error.clone()));
    let typed = move |k: &str| refused.as_ref().and_then(|f| f.value(k));
    let text = |k: &str, stored: Option<String>, default: &str| typed(k).or(stored).unwrap_or_else(|| default.to_string());
    let check = |k: &str, stored: Option<bool>, default: bool| if failed { typed(k).is_some() } else { stored.unwrap_or(default) };

    let integration_type = rec.as_ref().map(|r| r.integration_type).unwrap_or(IntegrationType::Ical);
    let is_ical = integration_type == IntegrationType::Ical;
    let title = rec.as_ref().map(|r| r.integration_name.clone()).unwrap_or_else(|| "Add an iCal calendar".into());
    let owner = rec.as_ref().map(|r| r.user.clone()).unwrap_or_else(|| data.me.clone());
    let name_value = text("integration_name", rec.as_ref().map(|r| r.integration_name.clone()), "");
    let url_value = text("ical_url", rec.as_ref().and_then(|r| r.ical_url.clone()), "");
    let calendar_id = text("calendar_id", rec.as_ref().and_then(|r| r.calendar_id.clone()), "");
    let direction =
        text("sync_direction", rec.as_ref().map(|r| r.sync_direction.clone()), if is_ical { "One-way (Read Only)" } else { "Two-way (Read & Write)" });
    let d = &data.defaults;
    let past = text("sync_past_days", rec.as_ref().map(|r| r.sync_past_days.to_string()), &d.sync_past_days.to_string());
    let future = text("sync_future_days", rec.as_ref().map(|r| r.sync_future_days.to_string()), &d.sync_future_days.to_string());
    let interval = text("sync_interval_minutes", rec.as_ref().map(|r| r.sync_interval_minutes.to_string()), &d.sync_interval_minutes.to_string());
    let active = check("is_active", rec.as_ref().map(|r| r.is_active), true);
    let primary = check("is_primary", rec.as_ref().map(|r| r.is_primary), false);
    let auto = check("auto_sync_enabled", rec.as_ref().map(|r| r.auto_sync_enabled), true);
    let stale_policy = text("stale_policy", rec.as_ref().map(|r| r.stale_policy.clone()), "fail-open");
    let conflict_policy = text("conflict_policy", rec.as_ref().map(|r| r.conflict_policy.clone()), "last-write-wins");
    let selected_user = text("user", None, &owner);
    let general = Signal::derive(move || error.get().and_then(|e| e.general()));
    let described = |f: &'static str| format!("{f}-error");

    view! {
        <Title text=title.clone()/>
        <p class="breadcrumb"><a href="/calendars">"← Calendars"</a></p>
        <h1>{title}</h1>
        {rec.as_ref().map(|r| view! { <p class="small"><a href=format!("/history?integration={}", crate::api::query_escape(&r.name))>"History of this calendar"</a></p> })}
        {move || general.get().map(|m| view! { <div class="alert error" role="alert" data-test="form-error">{m}</div> })}
        <ActionForm action=save attr:class="record-form" attr:novalidate=true attr:aria-label="Calendar">
            <input type="hidden" name="name" value=rec.as_ref().map(|r| r.name.clone()).unwrap_or_default()/>
            <input type="hidden" name="version" value=rec.as_ref().map(|r| r.version.to_string()).unwrap_or_default()/>
            <input type="hidden" name="integration_type" value=integration_type.as_str()/>

            <fieldset>
                <legend>"Basic Information"</legend>
                <div class="grid2">
                    <div class="field">
                        <label for="user">"User"</label>
                        {if data.is_admin && is_new {
                            Either::Left(view! {
                                <select id="user" name="user" aria-describedby=described("user")>
                                    {data.users.iter().map(|u| {
                                        let sel = *u == selected_user;
                                        view! { <option value=u.clone() selected=sel>{u.clone()}</option> }
                                    }).collect_view()}
                                </select>
                            })
                        } else {
                            Either::Right(view! { <input id="user" value=owner.clone() readonly/> })
                        }}
                        <FieldError error field="user"/>
                    </div>
                    <div class="field">
                        <label for="integration_type_shown">"Integration Type"</label>
                        <input id="integration_type_shown" value=integration_type.as_str() readonly/>
                        <FieldError error field="integration_type"/>
                    </div>
                </div>
                <div class="field">
                    <label for="integration_name">"Integration Name"</label>
                    <input id="integration_name" name="integration_name" value=name_value maxlength="140" required placeholder="e.g. Personal Apple Calendar" aria-describedby=described("integration_name")/>
                    <FieldError error field="integration_name"/>
                </div>
                <div class="checks">
                    <label class="check"><input type="checkbox" name="is_active" checked=active/>" Active"</label>
                    <label class="check"><input type="checkbox" name="is_primary" checked=primary/>" Is Primary Calendar"</label>
                </div>
                <p class="help">"Every active calendar blocks your availability; the primary one is where bookings are written."</p>
                <FieldError error field="is_active"/>
                <FieldError error field="is_primary"/>
                <FieldWarnings error field="is_primary"/>
                {(!is_ical).then(|| view! {
                    <div class="field">
                        <label for="calendar_id">"Calendar ID"</label>
                        <input id="calendar_id" name="calendar_id" value=calendar_id.clone() aria-describedby="calendar_id-help"/>
                        <p class="help" id="calendar_id-help">"Leave empty to use the account's primary calendar."</p>
                        <FieldError error field="calendar_id"/>
                        <FieldWarnings error field="calendar_id"/>
                    </div>
                })}
            </fieldset>

            <fieldset>
                <legend>"Authentication"</legend>
                {match &rec {
                    Some(r) => {
                        let class = if r.token_expired { "status status-error" } else if r.connected || is_ical { "status status-ok" } else { "status status-muted" };
                        Either::Left(view! { <p class=class data-test="auth-status">{r.auth_status.clone()}</p> })
                    }
                    None => Either::Right(view! { <p class="muted" data-test="auth-status">"Read-only feed: no sign-in needed."</p> }),
                }}
                <FieldError error field="access_token"/>
                <FieldWarnings error field="token_expiry"/>
                <FieldError error field="token_expiry"/>
            </fieldset>

            {is_ical.then(|| view! {
                <fieldset>
                    <legend>"iCal Settings"</legend>
                    <div class="field">
                        <label for="ical_url">"iCal URL"</label>
                        <input id="ical_url" name="ical_url" value=url_value.clone() inputmode="url" autocomplete="url" placeholder="https://… or webcal://…" aria-describedby="ical_url-help ical_url-error"/>
                        <p class="help" id="ical_url-help">
                            {if data.url_masked {
                                "Only the owner sees the whole address (it usually holds a private key). Leave it as it is to keep it, or type a new one."
                            } else {
                                "The calendar's private address in iCal format, starting with http://, https:// or webcal://. It is stored encrypted and shown only to you."
                            }}
                        </p>
                        <FieldError error field="ical_url"/>
                    </div>
                </fieldset>
            })}

            <fieldset>
                <legend>"Sync Settings"</legend>
                <div class="grid2">
                    <div class="field">
                        <label for="sync_direction">"Sync Direction"</label>
                        <select id="sync_direction" name="sync_direction">
                            {["One-way (Read Only)", "Two-way (Read & Write)"].into_iter().map(|d| {
                                let sel = d == direction;
                                view! { <option value=d selected=sel>{d}</option> }
                            }).collect_view()}
                        </select>
                        <FieldError error field="sync_direction"/>
                        <FieldWarnings error field="sync_direction"/>
                    </div>
                    <div class="field">
                        <label for="sync_interval_minutes">"Sync Interval (minutes)"</label>
                        <input id="sync_interval_minutes" name="sync_interval_minutes" type="number" value=interval.clone() aria-describedby=described("sync_interval_minutes")/>
                        <FieldError error field="sync_interval_minutes"/>
                    </div>
                    <div class="field">
                        <label for="sync_past_days">"Sync Past Days"</label>
                        <input id="sync_past_days" name="sync_past_days" type="number" value=past.clone() aria-describedby=described("sync_past_days")/>
                        <FieldError error field="sync_past_days"/>
                    </div>
                    <div class="field">
                        <label for="sync_future_days">"Sync Future Days"</label>
                        <input id="sync_future_days" name="sync_future_days" type="number" value=future.clone() aria-describedby=described("sync_future_days")/>
                        <FieldError error field="sync_future_days"/>
                    </div>
                </div>
                <label class="check"><input type="checkbox" name="auto_sync_enabled" checked=auto/>" Sync automatically"</label>
                <div class="field">
                    <label for="stale_policy">"When this calendar is out of date"</label>
                    <select id="stale_policy" name="stale_policy" aria-describedby="stale_policy-help stale_policy-error">
                        {[("fail-open", "Use its last known busy time"), ("fail-closed", "Treat the whole time as busy")].into_iter().map(|(v, label)| {
                            let sel = v == stale_policy;
                            view! { <option value=v selected=sel>{label}</option> }
                        }).collect_view()}
                    </select>
                    <p class="help" id="stale_policy-help">"Out of date: its last sync failed, it syncs automatically but has not succeeded for three intervals, or it never synced. Treating the whole time as busy means you are never double-booked, at the cost of free time."</p>
                    <FieldError error field="stale_policy"/>
                </div>
                <div class="field">
                    <label for="conflict_policy">"When a booking's copy is changed in this calendar"</label>
                    <select id="conflict_policy" name="conflict_policy" aria-describedby="conflict_policy-help conflict_policy-error">
                        {[
                            ("last-write-wins", "The later change wins"),
                            ("prefer-calsync", "calsync's booking wins (the copy is restored)"),
                            ("prefer-calendar", "The calendar wins (the booking follows it)"),
                            ("ask", "Ask me (nothing changes until I decide)"),
                        ].into_iter().map(|(v, label)| {
                            let sel = v == conflict_policy;
                            view! { <option value=v selected=sel>{label}</option> }
                        }).collect_view()}
                    </select>
                    <p class="help" id="conflict_policy-help">"Only a Two-way primary calendar holds copies of bookings. Whatever is chosen, the version that is overwritten is kept in the history, and the Conflicts page lets you choose differently afterwards."</p>
                    <FieldError error field="conflict_policy"/>
                </div>
            </fieldset>

            {rec.as_ref().map(|r| view! {
                <fieldset>
                    <legend>"Sync Status"</legend>
                    <dl class="facts">
                        <dt>"Status"</dt><dd>{r.sync_status.as_str()}</dd>
                        <dt>"Last successful sync"</dt><dd>{r.last_sync.clone().unwrap_or_else(|| "never".into())}</dd>
                        <dt>"Error log"</dt><dd>{r.sync_error_log.clone().unwrap_or_else(|| "—".into())}</dd>
                    </dl>
                </fieldset>
            })}

            <div class="actions">
                <Submit pending=save.pending() label=if is_new { "Add calendar" } else { "Save changes" } busy="Saving…"/>
                <a class="button" href="/calendars">"Cancel"</a>
            </div>
        </ActionForm>
    }
}
