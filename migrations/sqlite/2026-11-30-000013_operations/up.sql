-- Operations: what the admin's sync-health page, honest availability, export links and
-- retention need.

-- The last failure was transient (the provider was down, timed out or rate-limited): the
-- calendar is backing off rather than broken.
ALTER TABLE sync_states ADD COLUMN transient BOOLEAN NOT NULL DEFAULT 0;

-- "When this calendar is out of date": fail-open (its last known busy time counts) or
-- fail-closed (the whole asked range is busy).
ALTER TABLE calendar_integrations ADD COLUMN stale_policy TEXT NOT NULL DEFAULT 'fail-open';

-- Export links: a secret token (only its hash is kept) serves one user's calendars as .ics.
-- integrations: a JSON list of record names, NULL for all of the user's calendars.
CREATE TABLE export_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    integrations TEXT,
    include_bookings BOOLEAN NOT NULL DEFAULT 0,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_fetched_at TIMESTAMP,
    -- The feed as last served (its ETag), when that content first appeared (Last-Modified),
    -- and a digest of what it was made from: while that holds, a conditional GET is answered
    -- without writing the feed again.
    etag TEXT,
    changed_at TIMESTAMP,
    signature TEXT
);
CREATE INDEX idx_export_links_user ON export_links (user_id);

-- Retention prunes the oldest runs and history rows in small batches.
CREATE INDEX idx_sync_runs_started ON sync_runs (started_at);
CREATE INDEX idx_change_history_at ON change_history (at);
