//! Admin → Audit: sign-ins, password changes and resets, role changes, disables, tokens and key
//! rotations, newest first, filtered by account and kind. The filter is a plain GET form.
use crate::{
    api::audit::{list_audit, AuditPage},
    components::admin_tabs::AdminTabs,
    error::AppError,
    pages::not_found::NotFound,
};
use leptos::{either::Either, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(
        move || {
            let q = query.read();
            (q.get("user"), q.get("kind"), q.get("page"))
        },
        |(user, kind, page)| list_audit(user, kind, page),
    );
    view! {
        <Title text="Audit"/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(AppError::NotFound) => Either::Left(view! { <NotFound/> }),
                    Err(e) => Either::Right(Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> })),
                    Ok(p) => Either::Right(Either::Right(view! { <AuditView p/> })),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditView(p: AuditPage) -> impl IntoView {
    let link = {
        let (user, kind) = (p.user.clone(), p.kind.clone());
        move |page: i64| {
            let mut parts = vec![format!("page={page}")];
            if let Some(u) = &user {
                parts.push(format!("user={}", crate::api::query_escape(u)));
            }
            if let Some(k) = &kind {
                parts.push(format!("kind={}", crate::api::query_escape(k)));
            }
            format!("/admin/audit?{}", parts.join("&"))
        }
    };
    let filtered = p.user.is_some() || p.kind.is_some();
    view! {
        <h1>"Audit"</h1>
        <AdminTabs/>
        <p class="muted">"Sign-ins, password changes and resets, role changes, disabled accounts, API tokens and key rotations: who, when and from which address."</p>
        <form method="get" action="/admin/audit" class="filter">
            <label for="audit-user">"Account"</label>
            <select id="audit-user" name="user">
                <option value="" selected=p.user.is_none()>"All accounts"</option>
                {p.users.iter().map(|u| {
                    let sel = p.user.as_deref() == Some(u.as_str());
                    view! { <option value=u.clone() selected=sel>{u.clone()}</option> }
                }).collect_view()}
            </select>
            <label for="audit-kind">"Event"</label>
            <select id="audit-kind" name="kind">
                <option value="" selected=p.kind.is_none()>"All events"</option>
                {p.kinds.iter().map(|k| {
                    let sel = p.kind.as_deref() == Some(k.as_str());
                    view! { <option value=k.clone() selected=sel>{k.clone()}</option> }
                }).collect_view()}
            </select>
            <button type="submit" class="button">"Show"</button>
        </form>
        {if p.rows.is_empty() {
            Either::Left(view! {
                <section class="card empty" data-test="audit-empty">
                    <p>{if filtered { "No events match this filter. Choose “All accounts” and “All events” to see everything." } else { "Nothing recorded yet: sign-ins and account changes appear here as they happen." }}</p>
                </section>
            })
        } else {
            Either::Right(view! {
                // Focusable: a narrow screen scrolls the table sideways, and a keyboard must reach it.
                <section class="card table-wrap" tabindex="0" aria-label="Audit events">
                    <table class="table" data-test="audit-table">
                        <caption class="visually-hidden">"Audit events, newest first"</caption>
                        <thead><tr>
                            <th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"By"</th>
                            <th scope="col">"Account"</th><th scope="col">"Address"</th><th scope="col">"Detail"</th>
                        </tr></thead>
                        <tbody>
                            {p.rows.into_iter().map(|r| { let kind = r.kind.clone(); view! {
                                <tr data-test="audit-row" data-kind=kind>
                                    <td class="nowrap">{r.at}</td><td>{r.kind}</td><td>{r.actor}</td>
                                    <td>{r.subject}</td><td>{r.client}</td><td>{r.detail}</td>
                                </tr>
                            }}).collect_view()}
                        </tbody>
                    </table>
                </section>
                <nav class="pager" aria-label="Pages">
                    <span class="muted">{format!("{} events · page {} of {}", p.total, p.page, p.pages)}</span>
                    {(p.page > 1).then(|| view! { <a class="button small" href=link(p.page - 1)>"Newer"</a> })}
                    {(p.page < p.pages).then(|| view! { <a class="button small" href=link(p.page + 1)>"Older"</a> })}
                </nav>
            })
        }}
    }
}
