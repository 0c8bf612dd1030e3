-- MM Calendar Integration: a user's connection to one external calendar.
CREATE TABLE calendar_integrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- MM-CI-{user email}-{####}
    name TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    integration_type TEXT NOT NULL,
    integration_name TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT 1,
    is_primary BOOLEAN NOT NULL DEFAULT 0,
    calendar_id TEXT,
    -- encrypted: v1:{key id}:{base64 nonce+ciphertext}
    access_token TEXT,
    refresh_token TEXT,
    token_expiry TIMESTAMP,
    ical_url TEXT,
    sync_direction TEXT NOT NULL,
    sync_past_days INTEGER NOT NULL DEFAULT 30,
    sync_future_days INTEGER NOT NULL DEFAULT 90,
    auto_sync_enabled BOOLEAN NOT NULL DEFAULT 1,
    sync_interval_minutes INTEGER NOT NULL DEFAULT 15,
    last_sync TIMESTAMP,
    sync_status TEXT NOT NULL DEFAULT 'Pending',
    sync_error_log TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    modified_by BIGINT REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX idx_user_active ON calendar_integrations (user_id, is_active);
CREATE INDEX idx_user_primary ON calendar_integrations (user_id, is_primary, is_active);
CREATE INDEX idx_sync_due ON calendar_integrations (is_active, auto_sync_enabled, last_sync);
CREATE UNIQUE INDEX idx_user_integration_name ON calendar_integrations (user_id, integration_name);

-- The per-user counter behind record names: only ever increases, so numbers are never reused.
CREATE TABLE integration_counters (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_number BIGINT NOT NULL
);

-- Personal API tokens, stored as SHA-256; the token itself is shown once.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX idx_api_tokens_user ON api_tokens (user_id);
