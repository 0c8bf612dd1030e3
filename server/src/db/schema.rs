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
    sign_in_throttle (key) {
        key -> Text,
        attempts -> BigInt,
        window_start -> Timestamp,
        blocked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    known_devices (token_hash) {
        token_hash -> Text,
        user_id -> BigInt,
        last_seen -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        kind -> Text,
        actor -> Text,
        subject -> Nullable<Text>,
        client -> Nullable<Text>,
        detail -> Text,
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
        ical_url_secret -> Nullable<Text>,
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
        account_id -> Nullable<BigInt>,
        stale_policy -> Text,
        conflict_policy -> Text,
        busy_rules -> Text,
        free_title_patterns -> Text,
        own_addresses -> Text,
    }
}

diesel::table! {
    provider_accounts (id) {
        id -> BigInt,
        user_id -> BigInt,
        provider -> Text,
        email -> Text,
        access_token -> Nullable<Text>,
        refresh_token -> Nullable<Text>,
        token_expiry -> Nullable<Timestamp>,
        refreshed_at -> Nullable<Timestamp>,
        revoked_error -> Nullable<Text>,
        refreshing_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_channels (id) {
        id -> BigInt,
        integration_id -> BigInt,
        channel_id -> Text,
        resource_id -> Nullable<Text>,
        token_hash -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        last_message_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_budgets (key) {
        key -> Text,
        window_start -> Timestamp,
        used -> BigInt,
    }
}

diesel::table! {
    export_links (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        integrations -> Nullable<Text>,
        include_bookings -> Bool,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_fetched_at -> Nullable<Timestamp>,
        etag -> Nullable<Text>,
        changed_at -> Nullable<Timestamp>,
        signature -> Nullable<Text>,
    }
}

diesel::table! {
    bookings (id) {
        id -> BigInt,
        user_id -> BigInt,
        title -> Text,
        description -> Nullable<Text>,
        location -> Nullable<Text>,
        attendees -> Text,
        start_at -> Timestamp,
        end_at -> Timestamp,
        time_zone -> Text,
        recurrence -> Nullable<Text>,
        status -> Text,
        notify_attendees -> Bool,
        version -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
        modified_at -> Timestamp,
        exceptions -> Text,
        team_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    booking_copies (id) {
        id -> BigInt,
        booking_id -> BigInt,
        integration_id -> Nullable<BigInt>,
        calendar_label -> Text,
        client_key -> Text,
        external_id -> Nullable<Text>,
        state -> Text,
        action -> Text,
        error -> Nullable<Text>,
        note -> Nullable<Text>,
        written_version -> BigInt,
        etag -> Nullable<Text>,
        base -> Nullable<Text>,
        attempts -> Integer,
        due_at -> Nullable<Timestamp>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    conflicts (id) {
        id -> BigInt,
        booking_id -> BigInt,
        copy_id -> Nullable<BigInt>,
        integration_id -> Nullable<BigInt>,
        calendar_label -> Text,
        state -> Text,
        policy -> Text,
        base -> Text,
        local -> Text,
        remote -> Nullable<Text>,
        fields -> Text,
        outcome -> Nullable<Text>,
        remote_etag -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        prior -> Nullable<Text>,
        created_at -> Timestamp,
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
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sync_states (integration_id) {
        integration_id -> BigInt,
        due_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        failures -> Integer,
        event_count -> Integer,
        queued_at -> Nullable<Timestamp>,
        queued_by -> Nullable<Text>,
        scheduled -> Bool,
        lease_lapsed -> Bool,
        transient -> Bool,
    }
}

diesel::table! {
    sync_cursors (integration_id) {
        integration_id -> BigInt,
        state -> Text,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> BigInt,
        integration_id -> BigInt,
        trigger -> Text,
        status -> Text,
        worker -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        duration_ms -> Nullable<BigInt>,
        created_count -> Integer,
        updated_count -> Integer,
        deleted_count -> Integer,
        unchanged_count -> Integer,
        error -> Nullable<Text>,
        warnings -> Nullable<Text>,
        held -> Bool,
        applied_by -> Nullable<Text>,
        throttled_ms -> BigInt,
    }
}

diesel::table! {
    event_series (id) {
        id -> BigInt,
        integration_id -> BigInt,
        uid -> Text,
        summary -> Text,
        description -> Nullable<Text>,
        location -> Nullable<Text>,
        organizer -> Nullable<Text>,
        attendees -> Text,
        recurrence -> Text,
        tzid -> Nullable<Text>,
        status -> Text,
        transparent -> Bool,
        sequence -> BigInt,
        source_hash -> Text,
        created_at -> Timestamp,
        modified_at -> Timestamp,
        external_id -> Nullable<Text>,
        etag -> Nullable<Text>,
        start_at -> Nullable<BigInt>,
        end_at -> Nullable<BigInt>,
        all_day -> Bool,
    }
}

diesel::table! {
    event_instances (id) {
        id -> BigInt,
        integration_id -> BigInt,
        uid -> Text,
        recurrence_id -> Text,
        start_at -> BigInt,
        end_at -> BigInt,
        all_day -> Bool,
        busy -> Bool,
        status -> Text,
        summary -> Text,
        tzid -> Nullable<Text>,
        version_hash -> Text,
        kind -> Text,
    }
}

diesel::table! {
    change_history (id) {
        id -> BigInt,
        integration_id -> Nullable<BigInt>,
        entity -> Text,
        entity_key -> Text,
        action -> Text,
        actor -> Text,
        run_id -> Nullable<BigInt>,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    availability_settings (user_id) {
        user_id -> BigInt,
        time_zone -> Text,
        working_hours -> Nullable<Text>,
        buffer_before_minutes -> BigInt,
        buffer_after_minutes -> BigInt,
        minimum_notice_minutes -> BigInt,
        max_bookings_per_day -> Nullable<BigInt>,
        max_bookings_per_week -> Nullable<BigInt>,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    date_overrides (user_id, day) {
        user_id -> BigInt,
        day -> Text,
        hours -> Text,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    teams (id) {
        id -> BigInt,
        name -> Text,
        created_at -> Timestamp,
        modified_at -> Timestamp,
    }
}

diesel::table! {
    team_members (team_id, user_id) {
        team_id -> BigInt,
        user_id -> BigInt,
    }
}

diesel::joinable!(sync_states -> calendar_integrations (integration_id));
diesel::joinable!(calendar_integrations -> provider_accounts (account_id));
diesel::joinable!(sync_cursors -> calendar_integrations (integration_id));
diesel::joinable!(sync_runs -> calendar_integrations (integration_id));
diesel::joinable!(event_series -> calendar_integrations (integration_id));
diesel::joinable!(event_instances -> calendar_integrations (integration_id));
diesel::joinable!(calendar_integrations -> users (user_id));
diesel::joinable!(export_links -> users (user_id));
diesel::joinable!(bookings -> users (user_id));
diesel::joinable!(bookings -> teams (team_id));
diesel::joinable!(booking_copies -> bookings (booking_id));
diesel::joinable!(booking_copies -> calendar_integrations (integration_id));
diesel::joinable!(conflicts -> bookings (booking_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(availability_settings -> users (user_id));
diesel::joinable!(date_overrides -> users (user_id));
diesel::joinable!(team_members -> teams (team_id));
diesel::joinable!(team_members -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    sign_in_throttle,
    known_devices,
    audit_log,
    calendar_integrations,
    provider_accounts,
    webhook_channels,
    rate_budgets,
    export_links,
    bookings,
    booking_copies,
    conflicts,
    integration_counters,
    api_tokens,
    sync_states,
    sync_cursors,
    sync_runs,
    event_series,
    event_instances,
    change_history,
    availability_settings,
    date_overrides,
    teams,
    team_members
);
