//! `/api/v1/integrations`: list, read, create, update (partial), delete, make-primary.
use super::{body, rfc3339_naive, ApiError, ApiUser, ErrorBody};
use crate::ssr::AppState;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use server::crypto::Secret;
use server::domain::{
    integrations::{self as ig, Filter, Integration, IntegrationType, Saved, SyncStatus},
    FieldMessage,
};
use utoipa::{IntoParams, ToSchema};

/// A calendar integration as the API returns it. Secrets are never returned: only whether one
/// is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationJson {
    /// `MM-CI-{user}-{####}`
    pub name: String,
    /// The owner's email.
    pub user: String,
    /// `Google Calendar`, `Outlook Calendar` or `iCal`
    pub integration_type: String,
    pub integration_name: String,
    pub is_active: bool,
    pub is_primary: bool,
    pub calendar_id: Option<String>,
    pub has_access_token: bool,
    pub has_refresh_token: bool,
    /// RFC 3339, UTC
    pub token_expiry: Option<String>,
    pub ical_url: Option<String>,
    /// `One-way (Read Only)` or `Two-way (Read & Write)`
    pub sync_direction: String,
    pub sync_past_days: i32,
    pub sync_future_days: i32,
    pub auto_sync_enabled: bool,
    pub sync_interval_minutes: i32,
    /// When it is out of date (failed, stale, never synced): `fail-open` (its last known busy
    /// time counts) or `fail-closed` (availability treats the whole range as busy).
    pub stale_policy: String,
    /// How a change made in the calendar to a booking's copy is followed: `last-write-wins`,
    /// `prefer-calsync`, `prefer-calendar` or `ask`.
    pub conflict_policy: String,
    /// What blocks the owner's time, per kind of event (`declined`, `unanswered`,
    /// `out_of_office`, `working_elsewhere`, `free`, `tentative`, `all_day`, `busy`): `busy`
    /// or `free`.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub busy_rules: std::collections::BTreeMap<&'static str, &'static str>,
    /// Case-insensitive parts of a title that make an event free whatever its kind.
    pub free_title_patterns: Vec<String>,
    /// The owner's addresses in this calendar, as entered (empty: the account's address, or
    /// the owner's email for a feed).
    pub own_addresses: Vec<String>,
    /// Last successful sync, RFC 3339, UTC
    pub last_sync: Option<String>,
    /// `Pending`, `Success`, `Failed` or `In Progress`
    pub sync_status: String,
    pub sync_error_log: Option<String>,
    /// Send it back on update to refuse a save over someone else's change (409).
    pub version: i64,
    pub created_at: String,
    pub modified_at: String,
}

impl From<&Integration> for IntegrationJson {
    fn from(i: &Integration) -> Self {
        IntegrationJson {
            name: i.name.clone(),
            user: i.user.clone(),
            integration_type: i.integration_type.as_str().into(),
            integration_name: i.integration_name.clone(),
            is_active: i.is_active,
            is_primary: i.is_primary,
            calendar_id: i.calendar_id.clone(),
            has_access_token: i.has_access_token,
            has_refresh_token: i.has_refresh_token,
            token_expiry: i.token_expiry.map(rfc3339_naive),
            ical_url: i.ical_url.clone(),
            sync_direction: i.sync_direction.as_str().into(),
            sync_past_days: i.sync_past_days,
            sync_future_days: i.sync_future_days,
            auto_sync_enabled: i.auto_sync_enabled,
            sync_interval_minutes: i.sync_interval_minutes,
            stale_policy: i.stale_policy.as_str().into(),
            conflict_policy: i.conflict_policy.as_str().into(),
            busy_rules: i.busy_rules.map(),
            free_title_patterns: i.busy_rules.patterns().to_vec(),
            own_addresses: i.own_addresses.clone(),
            last_sync: i.last_sync.map(rfc3339_naive),
            sync_status: i.sync_status.as_str().into(),
            sync_error_log: i.sync_error_log.clone(),
            version: i.version,
            created_at: rfc3339_naive(i.created_at),
            modified_at: rfc3339_naive(i.modified_at),
        }
    }
}

/// A write's answer: the record, plus its warnings and notices.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteJson {
    #[serde(flatten)]
    pub record: IntegrationJson,
    pub warnings: Vec<super::Message>,
    pub messages: Vec<String>,
}

impl IntegrationJson {
    /// The record as `viewer` may see it: the full feed URL only when the calendar is theirs.
    fn for_viewer(i: &Integration, keys: &server::crypto::Keyring, viewer: server::domain::Actor) -> Self {
        IntegrationJson { ical_url: i.ical_url_for(keys, viewer.user_id), ..i.into() }
    }
}

impl WriteJson {
    fn for_viewer(s: Saved, keys: &server::crypto::Keyring, viewer: server::domain::Actor) -> Self {
        WriteJson {
            record: IntegrationJson::for_viewer(&s.integration, keys, viewer),
            warnings: s.warnings.into_iter().map(|w| super::Message { field: w.field, message: w.message }).collect(),
            messages: s.messages,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListJson {
    pub items: Vec<IntegrationJson>,
    pub total: i64,
}

/// What a create or update may carry (all optional on update). Secrets are write-only. A
/// client may send back the read-only fields of a read unchanged: they are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    /// Owner email; admins may name any user, others only themselves.
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub integration_type: Option<String>,
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub integration_name: Option<String>,
    /// `true`/`false`, or 1/0
    #[serde(default, deserialize_with = "body::de::flag")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub is_primary: Option<bool>,
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub calendar_id: Option<String>,
    /// Write-only: never returned. `""` or `null` clears.
    #[serde(default, deserialize_with = "secret")]
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Option<Secret>>,
    /// Write-only: never returned. `""` or `null` clears.
    #[serde(default, deserialize_with = "secret")]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<Option<Secret>>,
    /// RFC 3339, or `YYYY-MM-DD HH:MM:SS` in the owner's time zone.
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub token_expiry: Option<String>,
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub ical_url: Option<String>,
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub sync_direction: Option<String>,
    #[serde(default, deserialize_with = "body::de::number_text")]
    #[schema(value_type = Option<i64>)]
    pub sync_past_days: Option<String>,
    #[serde(default, deserialize_with = "body::de::number_text")]
    #[schema(value_type = Option<i64>)]
    pub sync_future_days: Option<String>,
    #[serde(default, deserialize_with = "body::de::flag")]
    pub auto_sync_enabled: Option<bool>,
    #[serde(default, deserialize_with = "body::de::number_text")]
    #[schema(value_type = Option<i64>)]
    pub sync_interval_minutes: Option<String>,
    /// `fail-open` (default) or `fail-closed`
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub stale_policy: Option<String>,
    /// `last-write-wins` (default), `prefer-calsync`, `prefer-calendar` or `ask`
    #[serde(default, deserialize_with = "body::de::emptied")]
    pub conflict_policy: Option<String>,
    /// Partial: only the kinds sent change, e.g. `{"tentative": "free"}` (needs `version`).
    #[serde(default, deserialize_with = "busy_rules")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub busy_rules: Option<Vec<(String, String)>>,
    /// Replaces the title patterns (needs `version`).
    #[serde(default, deserialize_with = "body::de::strings")]
    pub free_title_patterns: Option<Vec<String>>,
    /// Your addresses in this calendar; `[]` goes back to the default.
    #[serde(default, deserialize_with = "body::de::strings")]
    pub own_addresses: Option<Vec<String>>,
    /// The version you read; a different current version answers 409.
    #[serde(default, deserialize_with = "version")]
    pub version: Option<i64>,
}

/// The fields of a read a client may send back unchanged; they are ignored on write.
const READ_ONLY: &[&str] =
    &["name", "has_access_token", "has_refresh_token", "last_sync", "sync_status", "sync_error_log", "created_at", "modified_at", "warnings", "messages"];

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Secret>>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.is_empty() => Ok(Some(Some(Secret::new(s)))),
        serde_json::Value::String(_) | serde_json::Value::Null => Ok(Some(None)),
        _ => Err(D::Error::custom("must be a string")),
    }
}

/// `{"kind": "busy"|"free", …}`: the pairs as sent (the domain names a kind or value it
/// cannot read).
fn busy_rules<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<(String, String)>>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(map) => Ok(Some(map.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())),
        _ => Err(D::Error::custom("must be an object from kind to \"busy\" or \"free\", e.g. {\"tentative\": \"free\"}")),
    }
}

fn version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    serde_json::Value::deserialize(d)?.as_i64().map(Some).ok_or_else(|| D::Error::custom("must be an integer"))
}

impl IntegrationInput {
    /// The body read, as the domain's change (422 for a body that cannot be one).
    fn read(bytes: &[u8]) -> Result<ig::Patch, ApiError> {
        let i: IntegrationInput = body::read_except(bytes, READ_ONLY)?;
        if (i.busy_rules.is_some() || i.free_title_patterns.is_some()) && i.version.is_none() {
            return Err(ApiError::invalid(vec![FieldMessage::new("version", body::MSG_VERSION_REQUIRED)]));
        }
        Ok(ig::Patch {
            user: i.user,
            integration_type: i.integration_type,
            integration_name: i.integration_name,
            is_active: i.is_active,
            is_primary: i.is_primary,
            calendar_id: i.calendar_id,
            access_token: i.access_token,
            refresh_token: i.refresh_token,
            token_expiry: i.token_expiry,
            ical_url: i.ical_url,
            sync_direction: i.sync_direction,
            sync_past_days: i.sync_past_days,
            sync_future_days: i.sync_future_days,
            auto_sync_enabled: i.auto_sync_enabled,
            sync_interval_minutes: i.sync_interval_minutes,
            stale_policy: i.stale_policy,
            conflict_policy: i.conflict_policy,
            busy_rules: i.busy_rules,
            free_title_patterns: i.free_title_patterns,
            own_addresses: i.own_addresses.map(|a| a.join("\n")),
            version: i.version,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Owner email (admins: any user; others: only themselves)
    pub user: Option<String>,
    pub integration_type: Option<String>,
    /// `true`/`false` or 1/0
    pub is_active: Option<String>,
    pub sync_status: Option<String>,
    /// Default 100, at most 1000
    pub limit: Option<String>,
    pub offset: Option<String>,
}

fn list_filter(q: &ListQuery) -> Result<Filter, ApiError> {
    let mut errors = Vec::new();
    let integration_type = q.integration_type.as_deref().and_then(|t| {
        IntegrationType::parse(t).or_else(|| {
            errors.push(FieldMessage::new("integration_type", format!("Integration Type '{t}' is not one of Google Calendar, Outlook Calendar, iCal.")));
            None
        })
    });
    let sync_status = q.sync_status.as_deref().and_then(|s| {
        SyncStatus::parse(s).or_else(|| {
            errors.push(FieldMessage::new("sync_status", format!("Sync Status '{s}' is not one of Pending, Success, Failed, In Progress.")));
            None
        })
    });
    let is_active = q.is_active.as_deref().and_then(|v| body::boolean("is_active", &serde_json::Value::String(v.into()), &mut errors));
    let mut int = |field: &str, v: &Option<String>, default: i64, max: i64| -> i64 {
        match v.as_deref().map(str::parse::<i64>) {
            None => default,
            Some(Ok(n)) if (0..=max).contains(&n) => n,
            Some(_) => {
                errors.push(FieldMessage::new(field, format!("{field} must be a whole number from 0 to {max}.")));
                default
            }
        }
    };
    let limit = int("limit", &q.limit, 100, 1000).max(1);
    let offset = int("offset", &q.offset, 0, i64::MAX);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    Ok(Filter { user: q.user.clone(), integration_type, is_active, sync_status, limit, offset })
}

#[utoipa::path(get, path = "/api/v1/integrations", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = ListJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, caller: ApiUser, Query(q): Query<ListQuery>) -> Result<Json<ListJson>, ApiError> {
    let filter = list_filter(&q)?;
    let mut pooled = state.pool.get().await?;
    let (items, total) = ig::list(&mut pooled.conn(), caller.actor(), &filter).await?;
    Ok(Json(ListJson { items: items.iter().map(|i| IntegrationJson::for_viewer(i, &state.keys, caller.actor())).collect(), total }))
}

#[utoipa::path(get, path = "/api/v1/integrations/{name}", params(("name" = String, Path, description = "MM-CI-{user}-{####}")),
    security(("bearer" = [])), responses((status = 200, body = IntegrationJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<Json<IntegrationJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let i = ig::get(&mut pooled.conn(), caller.actor(), &name).await?;
    Ok(Json(IntegrationJson::for_viewer(&i, &state.keys, caller.actor())))
}

#[utoipa::path(post, path = "/api/v1/integrations", request_body = IntegrationInput, security(("bearer" = [])),
    responses((status = 201, body = WriteJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(State(state): State<AppState>, caller: ApiUser, bytes: Bytes) -> Result<(StatusCode, Json<WriteJson>), ApiError> {
    let patch = IntegrationInput::read(&bytes)?;
    let mut pooled = state.pool.get().await?;
    let saved = ig::create(&mut pooled.conn(), &state.keys, caller.actor(), patch).await?;
    Ok((StatusCode::CREATED, Json(WriteJson::for_viewer(saved, &state.keys, caller.actor()))))
}

#[utoipa::path(patch, path = "/api/v1/integrations/{name}", request_body = IntegrationInput, params(("name" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = WriteJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>, bytes: Bytes) -> Result<Json<WriteJson>, ApiError> {
    let patch = IntegrationInput::read(&bytes)?;
    let mut pooled = state.pool.get().await?;
    let saved = ig::update(&mut pooled.conn(), &state.keys, caller.actor(), &name, patch).await?;
    Ok(Json(WriteJson::for_viewer(saved, &state.keys, caller.actor())))
}

#[utoipa::path(delete, path = "/api/v1/integrations/{name}", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = WriteJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<Json<WriteJson>, ApiError> {
    let (gone, warning) = state.engine.delete_calendar(caller.actor(), &name).await?;
    let messages = std::iter::once(format!("Deleted '{}'.", gone.integration_name)).chain(warning).collect();
    Ok(Json(WriteJson { record: IntegrationJson::for_viewer(&gone, &state.keys, caller.actor()), warnings: vec![], messages }))
}

#[utoipa::path(post, path = "/api/v1/integrations/{name}/make-primary", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = WriteJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn make_primary(State(state): State<AppState>, caller: ApiUser, Path(name): Path<String>) -> Result<Json<WriteJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let saved = ig::make_primary(&mut pooled.conn(), caller.actor(), &name).await?;
    Ok(Json(WriteJson::for_viewer(saved, &state.keys, caller.actor())))
}

/// One stored event under the calendar's rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewItemJson {
    pub summary: String,
    /// RFC 3339, UTC
    pub start: String,
    pub end: String,
    pub all_day: bool,
    /// `declined`, `unanswered`, `out_of_office`, `working_elsewhere`, `free`, `tentative`,
    /// `all_day` or `busy`
    pub kind: String,
    pub blocks: bool,
    /// The title pattern that makes it free, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewJson {
    pub items: Vec<PreviewItemJson>,
    pub blocking: usize,
    pub not_blocking: usize,
    /// "6 events will block your time, 3 won't: 'Lunch' (free), …"
    pub summary: String,
}

impl From<server::domain::busy_rules::Preview> for PreviewJson {
    fn from(p: server::domain::busy_rules::Preview) -> Self {
        PreviewJson {
            summary: p.sentence(),
            blocking: p.blocking,
            not_blocking: p.not_blocking,
            items: p
                .items
                .into_iter()
                .map(|i| PreviewItemJson {
                    summary: i.summary,
                    start: super::rfc3339(i.start),
                    end: super::rfc3339(i.end),
                    all_day: i.all_day,
                    kind: i.kind.as_str().into(),
                    blocks: i.blocks,
                    pattern: i.pattern,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// RFC 3339, or a date in the owner's zone [default: now].
    pub from: Option<String>,
    /// [default: 14 days after `from`]
    pub to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/integrations/{name}/busy-preview", params(("name" = String, Path), PreviewQuery), security(("bearer" = [])),
    responses((status = 200, body = PreviewJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn busy_preview(
    State(state): State<AppState>,
    caller: ApiUser,
    Path(name): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Result<Json<PreviewJson>, ApiError> {
    let mut pooled = state.pool.get().await?;
    let mut conn = pooled.conn();
    let i = ig::get(&mut conn, caller.actor(), &name).await?;
    let (from, to) = server::domain::busy_rules::window(q.from.as_deref(), q.to.as_deref(), i.tz())?;
    let preview = server::domain::busy_rules::preview(&mut conn, &i, &i.busy_rules, from, to).await?;
    Ok(Json(preview.into()))
}
