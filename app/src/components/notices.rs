//! Notices after an action: what happened (green), warnings (yellow), red ones, errors.
use crate::{
    api::flash::{get_flash, Flash},
    error::{AppError, FieldMessage},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The flash the address names (`?flash=…`, left by a form posted without JavaScript).
pub fn use_flash() -> Resource<Option<Flash>> {
    let query = use_query_map();
    Resource::new(
        move || query.read().get("flash"),
        |id| async move {
            match id {
                Some(id) => get_flash(id).await.ok().flatten(),
                None => None,
            }
        },
    )
}

/// One batch of things to say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notices {
    pub messages: Vec<String>,
    pub warnings: Vec<FieldMessage>,
    pub error: Option<String>,
}

impl Notices {
    pub fn from_result(messages: Vec<String>, warnings: Vec<FieldMessage>) -> Self {
        Notices { messages, warnings, error: None }
    }
    pub fn from_error(e: &AppError) -> Self {
        Notices { messages: vec![], warnings: e.warnings(), error: Some(e.general().unwrap_or_else(|| e.to_string())) }
    }
}

#[component]
pub fn NoticeList(#[prop(into)] notices: Signal<Notices>) -> impl IntoView {
    move || {
        let n = notices.get();
        view! {
            <div class="notices" aria-live="polite">
                {n.error.map(|e| view! { <div class="alert error" role="alert" data-test="notice-error">{e}</div> })}
                {n.messages.into_iter().map(|m| view! { <div class="alert success" role="status" data-test="notice">{m}</div> }).collect_view()}
                {n.warnings.into_iter().map(|w| {
                    let class = if w.danger { "alert error" } else { "alert warning" };
                    view! { <div class=class data-test="notice-warning">{w.message}</div> }
                }).collect_view()}
            </div>
        }
    }
}
