// The one schema both dialects share (migrations/postgres and migrations/sqlite).
diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        full_name -> Text,
        password_hash -> Text,
        role -> Text,
        time_zone -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<BigInt>,
        data -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        key -> Text,
        failed_at -> Timestamp,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    calendar_integrations (id) {
        id -> BigInt,
        name -> Text,
        user_id -> BigInt,
        integration_type -> Text,
        integration_name -> Text,
        is_active -> Bool,
        is_primary -> Bool,
        calendar_id -> Nullable<Text>,
        access_token -> Nullable<Text>,
        refresh_token -> Nullable<Text>,
        token_expiry -> Nullable<Timestamp>,
        ical_url -> Nullable<Text>,
        sync_direction -> Text,
        sync_past_days -> Integer,
        sync_future_days -> Integer,
        auto_sync_enabled -> Bool,
        sync_interval_minutes -> Integer,
        last_sync -> Nullable<Timestamp>,
        sync_status -> Text,
        sync_error_log -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        modified_at -> Timestamp,
        created_by -> Nullable<BigInt>,
        modified_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    integration_counters (user_id) {
        user_id -> BigInt,
        last_number -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        label -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(calendar_integrations -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    login_failures,
    calendar_integrations,
    integration_counters,
    api_tokens
);
