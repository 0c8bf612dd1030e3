//! The OpenAPI 3 document, generated from the handlers' types.
use super::{availability, bookings, conflicts, exports, health, history, integrations, occurrences, slots, sync, teams, working_hours, ErrorBody, Message};
use axum::Json;
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token (Settings → API tokens, or `calsync token create EMAIL`)."))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "calsync API", version = "1", description = "Calendar integrations, sync runs, availability, working hours, teams, free slots, bookings, export links and sync health of calsync. Errors: {\"errors\":[{\"field\",\"message\"}],\"warnings\":[…]}."),
    paths(
        integrations::list,
        integrations::create,
        integrations::read,
        integrations::update,
        integrations::delete,
        integrations::make_primary,
        integrations::busy_preview,
        sync::sync_now,
        sync::apply_held,
        sync::runs,
        availability::availability,
        availability::check,
        health::sync_health,
        exports::create,
        exports::list,
        exports::delete,
        bookings::create,
        bookings::list,
        bookings::read_one,
        bookings::update,
        bookings::cancel,
        occurrences::update,
        occurrences::cancel,
        conflicts::list,
        conflicts::read_one,
        conflicts::resolve,
        conflicts::undo,
        history::history,
        working_hours::read,
        working_hours::put,
        working_hours::overrides,
        working_hours::put_override,
        working_hours::delete_override,
        teams::list,
        teams::create,
        teams::read_one,
        teams::update,
        teams::delete,
        slots::find
    ),
    components(schemas(
        integrations::IntegrationJson, integrations::WriteJson, integrations::ListJson, integrations::IntegrationInput, integrations::PreviewJson, integrations::PreviewItemJson,
        sync::StartedJson, sync::RunJson, sync::RunListJson,
        availability::AvailabilityJson, availability::BusyJson, availability::SourceJson, availability::CheckJson,
        availability::ConflictJson, availability::CheckInput, availability::DegradedJson,
        health::HealthJson, health::HealthItemJson, exports::ExportJson, exports::ExportListJson, exports::ExportInput,
        bookings::BookingJson, bookings::BookingListJson, bookings::BookingInput, bookings::ClashJson, bookings::CopyJson, bookings::BookingChanges, occurrences::OccurrenceJson, occurrences::OccurrenceChanges, occurrences::OccurrenceCancel, conflicts::ConflictJson, conflicts::ConflictListJson, conflicts::VersionJson, conflicts::ResolveInput, history::HistoryEntryJson, history::HistoryListJson,
        working_hours::HoursJson, working_hours::SettingsJson, working_hours::SettingsInput, working_hours::OverrideJson, working_hours::OverridesJson, working_hours::OverrideInput,
        teams::TeamJson, teams::TeamListJson, teams::TeamInput, slots::SlotJson, slots::SlotsJson, ErrorBody, Message
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
