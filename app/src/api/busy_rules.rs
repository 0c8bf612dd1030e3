//! A calendar's "What blocks your time": the rules as the form shows them, a preview of the
//! next 14 days before they are saved, and saving them (which applies at once).
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One kind of event with its switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    /// `declined`, …: also the form field's name (`rule_declined`).
    pub kind: String,
    pub label: String,
    pub blocks: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyRulesView {
    pub name: String,
    pub version: i64,
    pub rules: Vec<RuleView>,
    /// One per line.
    pub patterns: String,
    /// As entered, one per line (empty: `default_address`).
    pub addresses: String,
    pub default_address: String,
}

/// One stored event in the preview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewItemView {
    /// "Tue 8 Dec 10:00–11:00" in the owner's zone.
    pub when: String,
    pub summary: String,
    /// "tentative", "title has \"[free]\""…
    pub reason: String,
    pub blocks: bool,
}

/// What saving would do: the sentence, the events, and the values to apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewView {
    pub sentence: String,
    pub items: Vec<PreviewItemView>,
    /// Events beyond those listed.
    pub more: usize,
    pub rules: Vec<RuleView>,
    pub patterns: String,
    pub addresses: String,
    /// New addresses are read at the next sync, which applying starts.
    pub addresses_changed: bool,
    pub name: String,
    pub version: i64,
}

/// The most preview rows a page lists.
pub const LISTED: usize = 30;

#[cfg(feature = "ssr")]
fn rule_views(rules: &server::busy::Rules) -> Vec<RuleView> {
    server::busy::Kind::ALL.into_iter().map(|k| RuleView { kind: k.as_str().into(), label: k.label().into(), blocks: rules.kind_blocks(k) }).collect()
}

#[server]
pub async fn busy_rules_of(name: String) -> Result<BusyRulesView, AppError> {
    use server::domain::integrations as ig;
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let i = ig::get(&mut conn, super::integrations::actor(&me), &name).await?;
    Ok(BusyRulesView {
        default_address: ig::default_address(&mut conn, &i).await?,
        name: i.name,
        version: i.version,
        rules: rule_views(&i.busy_rules),
        patterns: i.busy_rules.patterns().join("\n"),
        addresses: i.own_addresses.join("\n"),
    })
}

/// The form's values as a patch: every switch is sent (absent means off).
#[cfg(feature = "ssr")]
fn patch_of(switches: [&Option<String>; 8], patterns: &Option<String>, addresses: &Option<String>, version: i64) -> server::domain::integrations::Patch {
    use server::busy::{Kind, BUSY, FREE};
    server::domain::integrations::Patch {
        busy_rules: Some(
            Kind::ALL
                .iter()
                .zip(switches)
                .map(|(k, on)| (k.as_str().to_owned(), if super::integrations::checked(on) { BUSY } else { FREE }.to_owned()))
                .collect(),
        ),
        free_title_patterns: Some(patterns.as_deref().unwrap_or("").lines().map(str::to_owned).collect()),
        own_addresses: Some(addresses.clone().unwrap_or_default()),
        version: Some(version),
        ..Default::default()
    }
}

/// Saving: what the next 14 days of stored events would do under the rules typed (nothing
/// saved); with `apply`, the rules are saved and take effect at once, and the browser goes
/// back to the calendar with what they did.
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn save_busy_rules(
    name: String,
    version: i64,
    rule_declined: Option<String>,
    rule_unanswered: Option<String>,
    rule_out_of_office: Option<String>,
    rule_working_elsewhere: Option<String>,
    rule_free: Option<String>,
    rule_tentative: Option<String>,
    rule_all_day: Option<String>,
    rule_busy: Option<String>,
    patterns: Option<String>,
    addresses: Option<String>,
    apply: Option<String>,
) -> Result<PreviewView, AppError> {
    use server::domain::{busy_rules, integrations as ig};
    let me = super::ctx::user().await?;
    let state = super::ctx::state();
    let switches = [&rule_declined, &rule_unanswered, &rule_out_of_office, &rule_working_elsewhere, &rule_free, &rule_tentative, &rule_all_day, &rule_busy];
    let patch = patch_of(switches, &patterns, &addresses, version);
    let actor = super::integrations::actor(&me);
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let applied = match apply.is_some() {
        true => Some(ig::update(&mut conn, &state.keys, actor, &name, patch.clone()).await?.integration),
        false => None,
    };
    let now = server::domain::now();
    let to = now + chrono::Duration::days(busy_rules::DEFAULT_DAYS);
    let (current, draft, preview) = ig::preview_busy(&mut conn, actor, &name, &patch, now, to).await?;
    if let Some(saved) = applied {
        let message = format!("Saved what blocks your time in '{}'. Next 14 days: {}", saved.integration_name, preview.sentence());
        let flash = crate::api::flash::Flash { messages: vec![message], ..Default::default() };
        super::redirect::to_flash(&format!("/calendars/{}", saved.name), &flash).await;
    }
    let tz = current.tz();
    let when = |i: &busy_rules::Item| {
        let (s, e) = (i.start.with_timezone(&tz), i.end.with_timezone(&tz));
        match i.all_day {
            true => format!("{} all day", s.format("%a %-d %b")),
            false => format!("{}–{}", s.format("%a %-d %b %H:%M"), e.format("%H:%M")),
        }
    };
    Ok(PreviewView {
        sentence: preview.sentence(),
        more: preview.items.len().saturating_sub(LISTED),
        items: preview
            .items
            .iter()
            .take(LISTED)
            .map(|i| PreviewItemView { when: when(i), summary: i.summary.clone(), reason: i.reason(), blocks: i.blocks })
            .collect(),
        rules: rule_views(&draft.busy_rules),
        patterns: draft.busy_rules.patterns().join("\n"),
        addresses_changed: draft.own_addresses != current.own_addresses,
        addresses: draft.own_addresses.join("\n"),
        name: current.name,
        version: current.version,
    })
}
