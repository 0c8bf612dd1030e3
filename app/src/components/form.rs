//! Pieces every form uses: inline field errors, the form-level alert, the submit button.
use crate::error::AppError;
use leptos::prelude::*;

/// The error of the last submission, if it failed.
pub fn last_error<T, S>(value: S) -> Signal<Option<AppError>>
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()))
}

/// The message under one field; its id is what the input's `aria-describedby` names.
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<AppError>>, field: &'static str) -> impl IntoView {
    move || {
        error.get().and_then(|e| e.for_field(field)).map(|m| {
            view! { <p class="field-error" id=format!("{field}-error") data-test=format!("error-{field}")>{m}</p> }
        })
    }
}

/// A form-level error (anything not tied to a field), announced to screen readers.
#[component]
pub fn FormAlert(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || error.get().and_then(|e| e.general()).map(|m| view! { <div class="alert error" role="alert">{m}</div> })
}

/// A submit button that says it is working while the action runs.
#[component]
pub fn Submit(#[prop(into)] pending: Signal<bool>, label: &'static str, busy: &'static str) -> impl IntoView {
    view! {
        <button type="submit" class="button primary" disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
            {move || if pending.get() { busy } else { label }}
        </button>
    }
}
