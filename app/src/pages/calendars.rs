//! The connection manager: every calendar of a user (or, for admins, of every user) as a card.
use crate::{
    api::{
        integrations::{list_integrations, ActionResult, DeleteIntegration, DisconnectAccount, IntegrationView, MakePrimary, SetIntegrationActive},
        sync::SyncNow,
    },
    components::{
        notices::{use_flash, NoticeList, Notices},
        poll::poll_while,
        user_filter::UserFilter,
    },
    error::AppError,
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use vocab::{IntegrationType, SyncStatus};

/// Turns the latest result of any card action into notices.
fn notices_of(r: Option<Result<ActionResult, AppError>>) -> Option<Notices> {
    r.map(|r| match r {
        Ok(a) => Notices::from_result(a.messages, a.warnings),
        Err(e) => Notices::from_error(&e),
    })
}

#[component]
pub fn CalendarsPage() -> impl IntoView {
    let query = use_query_map();
    let make_primary = ServerAction::<MakePrimary>::new();
    let set_active = ServerAction::<SetIntegrationActive>::new();
    let delete = ServerAction::<DeleteIntegration>::new();
    let disconnect = ServerAction::<DisconnectAccount>::new();
    let sync_now = ServerAction::<SyncNow>::new();
    let tick = RwSignal::new(0u32);
    let page = Resource::new(
        move || {
            (
                query.read().get("user"),
                make_primary.version().get(),
                set_active.version().get(),
                delete.version().get(),
                disconnect.version().get(),
                sync_now.version().get(),
                tick.get(),
            )
        },
        |(user, ..)| list_integrations(user),
    );
    // While a sync runs, follow it without a reload.
    let running =
        Signal::derive(move || page.get().and_then(Result::ok).is_some_and(|p| p.items.iter().any(|i| i.sync_status == SyncStatus::InProgress || i.queued)));
    poll_while(running, tick, std::time::Duration::from_millis(1000));
    // What the last action (or the save that brought us here) has to say.
    let last_action = RwSignal::new(None::<Notices>);
    Effect::new(move |_| {
        if let Some(n) = notices_of(make_primary.value().get()) {
            last_action.set(Some(n))
        }
    });
    Effect::new(move |_| {
        if let Some(n) = notices_of(set_active.value().get()) {
            last_action.set(Some(n))
        }
    });
    Effect::new(move |_| {
        if let Some(n) = notices_of(delete.value().get()) {
            last_action.set(Some(n))
        }
    });
    Effect::new(move |_| {
        if let Some(n) = notices_of(sync_now.value().get()) {
            last_action.set(Some(n))
        }
    });
    Effect::new(move |_| {
        if let Some(n) = notices_of(disconnect.value().get()) {
            last_action.set(Some(n))
        }
    });
    let flash = use_flash();
    let notices = Signal::derive(move || {
        last_action.get().unwrap_or_else(|| {
            flash
                .get()
                .flatten()
                .map(|f| match &f.error {
                    // A connection that failed (denied consent, an expired state, …).
                    Some(e) => Notices::from_error(e),
                    None => Notices::from_result(f.messages, f.warnings),
                })
                .unwrap_or_default()
        })
    });

    view! {
        <Title text="Calendars"/>
        <div class="page-head">
            <h1>"Calendars"</h1>
            <div class="actions">
                <a class="button primary" href="/calendars/new" data-test="add-ical">"Add iCal calendar"</a>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        // A full page load: the consent happens at the provider.
                        match page.await.map(|p| p.google_ready).unwrap_or(false) {
                            true => Either::Left(view! { <a class="button" href="/oauth/google/start" rel="external" data-test="connect-google">"Connect Google Calendar"</a> }),
                            false => Either::Right(view! { <ConnectInfo provider="Google Calendar" vars="CALSYNC_GOOGLE_CLIENT_ID and CALSYNC_GOOGLE_CLIENT_SECRET"/> }),
                        }
                    })}
                </Transition>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match page.await.map(|p| p.outlook_ready).unwrap_or(false) {
                            true => Either::Left(view! { <a class="button" href="/oauth/microsoft/start" rel="external" data-test="connect-outlook">"Connect Outlook Calendar"</a> }),
                            false => Either::Right(view! { <ConnectInfo provider="Outlook" vars="CALSYNC_MICROSOFT_CLIENT_ID and CALSYNC_MICROSOFT_CLIENT_SECRET (and CALSYNC_MICROSOFT_TENANT for a single-tenant app)"/> }),
                        }
                    })}
                </Transition>
            </div>
        </div>
        <Transition fallback=|| ()>
            <NoticeList notices/>
        </Transition>
        <Transition fallback=|| view! { <p class="loading">"Loading calendars…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(p) => Either::Right(view! {
                        {p.is_admin.then(|| view! { <UserFilter action="/calendars" users=p.users.clone() selected=p.filter_user.clone()/> })}
                        {if p.items.is_empty() {
                            Either::Left(view! { <EmptyState filtered=p.filter_user.is_some()/> })
                        } else {
                            Either::Right(view! {
                                <div class="cards">
                                    {p.items.into_iter().map(|i| view! {
                                        <CalendarCard item=i show_owner=p.is_admin make_primary set_active delete disconnect sync_now/>
                                    }).collect_view()}
                                </div>
                            })
                        }}
                    }),
                }
            })}
        </Transition>
    }
}

/// "Connect Google/Outlook": until OAuth is configured, says which variables an admin must set.
#[component]
fn ConnectInfo(provider: &'static str, vars: &'static str) -> impl IntoView {
    view! {
        <details class="connect">
            <summary class="button">"Connect " {provider}</summary>
            <div class="popover" role="note">
                <strong>{provider} " is not set up on this server yet."</strong>
                <p>"An administrator must set " <code>{vars}</code> " and restart calsync. Until then, you can add the calendar's iCal address instead."</p>
            </div>
        </details>
    }
}

#[component]
fn EmptyState(filtered: bool) -> impl IntoView {
    view! {
        <section class="card empty" data-test="empty-state">
            <h2>{if filtered { "This user has no calendars yet" } else { "No calendars yet" }}</h2>
            <p>
                "Connect a calendar so that its events block your availability. "
                "Most calendar apps (Apple Calendar, Google, Outlook, Fastmail) can share a private iCal address: "
                "copy it, then choose " <strong>"Add iCal calendar"</strong> "."
            </p>
            <p><a class="button primary" href="/calendars/new">"Add your first calendar"</a></p>
        </section>
    }
}

fn status_of(i: &IntegrationView) -> (&'static str, String) {
    if !i.is_active {
        ("status-muted", "Inactive".into())
    } else if i.token_expired {
        ("status-error", "Token expired".into())
    } else {
        match i.sync_status {
            _ if i.queued => ("status-progress", "Queued".into()),
            SyncStatus::Success => ("status-ok", "Synced".into()),
            SyncStatus::Failed => ("status-error", "Sync failed".into()),
            SyncStatus::InProgress => ("status-progress", "Syncing…".into()),
            SyncStatus::Pending => ("status-pending", "Pending first sync".into()),
        }
    }
}

fn type_icon(t: IntegrationType) -> (&'static str, &'static str) {
    match t {
        IntegrationType::Google => ("type-google", "G"),
        IntegrationType::Outlook => ("type-outlook", "O"),
        IntegrationType::Ical => ("type-ical", "iC"),
    }
}

#[component]
fn CalendarCard(
    item: IntegrationView,
    show_owner: bool,
    make_primary: ServerAction<MakePrimary>,
    set_active: ServerAction<SetIntegrationActive>,
    delete: ServerAction<DeleteIntegration>,
    disconnect: ServerAction<DisconnectAccount>,
    sync_now: ServerAction<SyncNow>,
) -> impl IntoView {
    let (status_class, status_text) = status_of(&item);
    let running = item.sync_status == SyncStatus::InProgress || item.queued;
    let events = match item.event_count {
        1 => "1 event".to_string(),
        n => format!("{n} events"),
    };
    let (icon_class, icon) = type_icon(item.integration_type);
    let name = item.name.clone();
    let edit_href = format!("/calendars/{}", item.name);
    let last = if item.last_sync.is_some() { format!("Last synced {}", item.last_sync_ago) } else { "Never synced".to_string() };
    let timing = match (&item.next_sync, item.is_active) {
        (Some(next), true) => format!("{last} · next sync {next}"),
        (None, true) => format!("{last} · automatic sync off"),
        _ => last,
    };
    let can_make_primary = item.is_active && !item.is_primary;
    let primary_form = can_make_primary.then(|| {
        let name = name.clone();
        view! {
            <ActionForm action=make_primary attr:class="inline">
                <input type="hidden" name="name" value=name/>
                <button type="submit" class="button small">"Make primary"</button>
            </ActionForm>
        }
    });
    let (name2, name3, name4) = (name.clone(), name.clone(), name.clone());
    view! {
        <article class="cal-card" class:inactive=!item.is_active data-test="calendar-card" data-name=item.name.clone() data-title=item.integration_name.clone()>
            <header class="cal-head">
                <span class=format!("cal-icon {icon_class}") aria-hidden="true">{icon}</span>
                <div class="cal-title">
                    <h2>{item.integration_name.clone()}</h2>
                    <p class="muted small">
                        {item.integration_type.as_str()}
                        {show_owner.then(|| format!(" · {}", item.user))}
                    </p>
                </div>
                {item.is_primary.then(|| view! { <span class="badge primary-badge" data-test="primary-badge">"Primary"</span> })}
            </header>
            <p class=format!("status {status_class}") data-test="status">{status_text}</p>
            <p class="small" data-test="event-count">{(item.last_sync.is_some()).then(|| format!("{events} in the sync window"))}</p>
            <p class="muted small">{timing}</p>
            {(item.integration_type != IntegrationType::Ical).then(|| view! { <p class="small" data-test="auth-status">{item.auth_status.clone()}</p> })}
            {item.push_until.clone().map(|p| view! { <p class="muted small" data-test="push-until">{p}</p> })}
            {match (item.token_expired, item.reconnect_href.clone()) {
                (true, Some(href)) => Some(Either::Left(view! { <a class="button small danger" href=href rel="external" data-test="reconnect">"Reconnect"</a> })),
                (true, None) => Some(Either::Right(view! {
                    <details class="connect">
                        <summary class="button small danger">"Reconnect"</summary>
                        <div class="popover" role="note">"Reconnecting signs you in to the provider again. It arrives with Outlook sign-in; until then an administrator can update the token through the API."</div>
                    </details>
                })),
                _ => None,
            }}
            {(item.sync_status == SyncStatus::Failed).then(|| item.sync_error_log.clone()).flatten().map(|e| view! { <p class="error-log small">{e}</p> })}
            <footer class="cal-actions">
                {item.is_active.then(|| {
                    let name = name.clone();
                    view! {
                        <ActionForm action=sync_now attr:class="inline">
                            <input type="hidden" name="name" value=name/>
                            <button type="submit" class="button small primary" disabled=running data-test="sync-now">
                                {if running { "Syncing…" } else { "Sync now" }}
                            </button>
                        </ActionForm>
                    }
                })}
                <a class="button small" href=edit_href>"Edit"</a>
                {primary_form}
                <ActionForm action=set_active attr:class="inline">
                    <input type="hidden" name="name" value=name2/>
                    <input type="hidden" name="active" value=(!item.is_active).to_string()/>
                    <input type="hidden" name="version" value=item.version/>
                    <button type="submit" class="button small">{if item.is_active { "Deactivate" } else { "Activate" }}</button>
                </ActionForm>
                <details class="confirm">
                    <summary class="button small subtle-danger">"Delete…"</summary>
                    <div class="popover" role="alertdialog" aria-label="Confirm delete">
                        <p>"Delete “" {item.integration_name.clone()} "”? Its synced events stop blocking your availability. This cannot be undone."</p>
                        <ActionForm action=delete attr:class="inline">
                            <input type="hidden" name="name" value=name3/>
                            <button type="submit" class="button small danger">"Delete calendar"</button>
                        </ActionForm>
                        {item.account_email.clone().map(|email| view! {
                            <p class="small">"Or disconnect " {email} ": every calendar from that account goes, and calsync's access is revoked."</p>
                            <ActionForm action=disconnect attr:class="inline">
                                <input type="hidden" name="name" value=name4/>
                                <button type="submit" class="button small danger" data-test="disconnect-account">"Disconnect account"</button>
                            </ActionForm>
                        })}
                    </div>
                </details>
            </footer>
        </article>
    }
}
