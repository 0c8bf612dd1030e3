-- Scheduling and lease state of each integration's sync (kept apart from the spec's record,
-- so the scheduler's frequent writes touch a small row).
CREATE TABLE sync_states (
    integration_id BIGINT PRIMARY KEY NOT NULL REFERENCES calendar_integrations (id) ON DELETE CASCADE,
    -- when the next sync is due (NULL: now)
    due_at TIMESTAMP,
    -- the process running it, until when (a crashed process's lease simply expires)
    lease_owner TEXT,
    lease_until TIMESTAMP,
    -- failed attempts in a row, for the back-off
    failures INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_sync_states_due ON sync_states (due_at);

-- What a provider needs to fetch incrementally: feed validators and the last body, so a 304
-- can still be expanded for a window that moved.
CREATE TABLE sync_cursors (
    integration_id BIGINT PRIMARY KEY NOT NULL REFERENCES calendar_integrations (id) ON DELETE CASCADE,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    body TEXT,
    window_from TIMESTAMP,
    window_to TIMESTAMP
);

-- Every sync attempt.
CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id BIGINT NOT NULL REFERENCES calendar_integrations (id) ON DELETE CASCADE,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    duration_ms BIGINT,
    created_count INTEGER NOT NULL DEFAULT 0,
    updated_count INTEGER NOT NULL DEFAULT 0,
    deleted_count INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    warnings TEXT
);
CREATE INDEX idx_sync_runs_integration ON sync_runs (integration_id, id);

-- MM Calendar Event Sync: one row per external event (the master's fields) ...
-- The event tables carry their calendar's id without a foreign key: a sync writes tens of
-- thousands of rows, and a per-row key check was a fifth of that write on PostgreSQL. The sync
-- locks the calendar's row while it writes, and deleting a calendar deletes its copies.
CREATE TABLE event_series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id BIGINT NOT NULL,
    uid TEXT NOT NULL,
    summary TEXT NOT NULL,
    description TEXT,
    location TEXT,
    organizer TEXT,
    attendees TEXT NOT NULL,
    recurrence TEXT NOT NULL,
    tzid TEXT,
    status TEXT NOT NULL,
    transparent BOOLEAN NOT NULL,
    sequence BIGINT NOT NULL,
    source_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idx_event_series_uid ON event_series (integration_id, uid);

-- ... and one per occurrence inside the sync window ('' recurrence id: a single event).
CREATE TABLE event_instances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id BIGINT NOT NULL,
    uid TEXT NOT NULL,
    recurrence_id TEXT NOT NULL,
    -- Unix seconds (UTC; all-day: midnight UTC of the date): read by every availability query,
    -- and integers read an order of magnitude faster than SQLite's timestamp text.
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    all_day BOOLEAN NOT NULL,
    busy BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    tzid TEXT,
    version_hash TEXT NOT NULL
);
CREATE UNIQUE INDEX idx_event_instances_key ON event_instances (integration_id, uid, recurrence_id);
-- Availability reads only this index (no table lookups): every column it needs is in it.
CREATE INDEX idx_event_instances_busy ON event_instances (integration_id, start_at, end_at, busy, all_day, summary);

-- Who or what changed a synced event, and how (JSON before and after). No foreign key on
-- purpose: history outlives what it describes (a deleted calendar's history keeps its id), and
-- a sync writes a row per change, where a per-row key check would cost a third of the write.
CREATE TABLE change_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id BIGINT,
    entity TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    run_id BIGINT,
    before TEXT,
    after TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX idx_change_history_integration ON change_history (integration_id, id);

INSERT INTO sync_states (integration_id) SELECT id FROM calendar_integrations;
