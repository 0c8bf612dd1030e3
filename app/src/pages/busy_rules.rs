//! "What blocks your time" on a calendar's page: a switch per kind of event, title patterns
//! and the owner's addresses. Saving first shows what the next 14 days of stored events would
//! do; Apply stores the rules, which take effect at once.
use crate::{
    api::busy_rules::{busy_rules_of, BusyRulesView, PreviewView, RuleView, SaveBusyRules},
    components::form::{last_error, FieldError, FormAlert, Submit},
};
use leptos::{either::Either, prelude::*};

#[component]
pub fn BusyRulesSection(name: String) -> impl IntoView {
    let data = Resource::new(move || name.clone(), busy_rules_of);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading what blocks your time…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => Either::Left(view! { <div class="alert error" role="alert">{e.to_string()}</div> }),
                    Ok(d) => Either::Right(view! { <RulesForm d/> }),
                }
            })}
        </Transition>
    }
}

/// The switches as form fields (`rule_declined` …): checkboxes, or hidden ones for Apply.
fn switches(rules: &[RuleView], hidden: bool) -> impl IntoView {
    rules
        .iter()
        .map(|r| {
            let field = format!("rule_{}", r.kind);
            match hidden {
                true => Either::Left(r.blocks.then(|| view! { <input type="hidden" name=field value="on"/> })),
                false => Either::Right(view! {
                    <label class="check switch">
                        <input type="checkbox" role="switch" name=field checked=r.blocks data-test=format!("switch-{}", r.kind)/>
                        " " {r.label.clone()}
                    </label>
                }),
            }
        })
        .collect_view()
}

#[component]
fn RulesForm(d: BusyRulesView) -> impl IntoView {
    let preview = ServerAction::<SaveBusyRules>::new();
    let apply = ServerAction::<SaveBusyRules>::new();
    let error = last_error(preview.value());
    let shown = move || preview.value().get().and_then(|r| r.ok());
    view! {
        <section class="card" aria-labelledby="busy-rules-title" data-test="busy-rules">
            <h2 id="busy-rules-title">"What blocks your time"</h2>
            <p class="help">"Which events in this calendar make you busy. The same rules read Google, Outlook and iCal events alike; a switch that is on blocks your time."</p>
            <ActionForm action=preview attr:aria-label="What blocks your time" attr:novalidate=true>
                <FormAlert error/>
                <input type="hidden" name="name" value=d.name.clone()/>
                <input type="hidden" name="version" value=d.version.to_string()/>
                <fieldset>
                    <legend>"These events block my time"</legend>
                    <div class="switches">{switches(&d.rules, false)}</div>
                    <FieldError error field="busy_rules"/>
                </fieldset>
                <div class="field">
                    <label for="patterns">"Titles that never block"</label>
                    <textarea id="patterns" name="patterns" rows="3" aria-describedby="patterns-help free_title_patterns-error">{d.patterns.clone()}</textarea>
                    <p class="help" id="patterns-help">"One per line: an event whose title contains one of these (ignoring case), such as “[free]” or “lunch?”, is free whatever its kind."</p>
                    <FieldError error field="free_title_patterns"/>
                </div>
                <div class="field">
                    <label for="addresses">"Your address in this calendar"</label>
                    <textarea id="addresses" name="addresses" rows="2" inputmode="email" aria-describedby="addresses-help own_addresses-error">{d.addresses.clone()}</textarea>
                    <p class="help" id="addresses-help">{format!("One per line. Invitations to these addresses are yours: the ones you declined or have not answered follow the switches above. Empty: {}.", d.default_address)}</p>
                    <FieldError error field="own_addresses"/>
                </div>
                <div class="actions">
                    <Submit pending=preview.pending() label="Save rules" busy="Working out what changes…"/>
                </div>
            </ActionForm>
            {move || shown().map(|p| view! { <Preview p apply preview/> })}
        </section>
    }
}

#[component]
fn Preview(p: PreviewView, apply: ServerAction<SaveBusyRules>, preview: ServerAction<SaveBusyRules>) -> impl IntoView {
    let error = last_error(apply.value());
    view! {
        <div class="preview" role="region" aria-labelledby="preview-title" data-test="busy-preview">
            <h3 id="preview-title">"Before you apply: the next 14 days"</h3>
            <p role="status" data-test="busy-preview-sentence">{p.sentence.clone()}</p>
            {p.addresses_changed.then(|| view! { <p class="help">"New addresses are read at the next sync, which applying starts: invitations to them follow these rules after it."</p> })}
            {(!p.items.is_empty()).then(|| view! {
                <div class="table-wrap"><table class="table compact">
                    <thead><tr><th scope="col">"When"</th><th scope="col">"Event"</th><th scope="col">"Blocks your time"</th></tr></thead>
                    <tbody>
                        {p.items.iter().map(|i| view! {
                            <tr data-test="preview-row">
                                <td>{i.when.clone()}</td>
                                <td>{i.summary.clone()}</td>
                                <td>{if i.blocks { "Yes".to_string() } else { format!("No — {}", i.reason) }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table></div>
            })}
            {(p.more > 0).then(|| view! { <p class="muted small">{format!("… and {} more.", p.more)}</p> })}
            <ActionForm action=apply attr:aria-label="Apply these rules">
                <FormAlert error/>
                <input type="hidden" name="name" value=p.name.clone()/>
                <input type="hidden" name="version" value=p.version.to_string()/>
                <input type="hidden" name="apply" value="1"/>
                {switches(&p.rules, true)}
                <input type="hidden" name="patterns" value=p.patterns.clone()/>
                <input type="hidden" name="addresses" value=p.addresses.clone()/>
                <div class="actions">
                    <Submit pending=apply.pending() label="Apply these rules" busy="Applying…"/>
                    <button type="button" class="button" on:click=move |_| preview.value().set(None)>"Keep editing"</button>
                </div>
            </ActionForm>
        </div>
    }
}
