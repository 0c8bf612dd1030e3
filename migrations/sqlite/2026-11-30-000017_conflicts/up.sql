-- How a calendar's changes to a booking's copy are followed (two-way sync).
ALTER TABLE calendar_integrations ADD COLUMN conflict_policy TEXT NOT NULL DEFAULT 'last-write-wins';

-- A booking and its copy that changed apart: the versions (base = as last written, local =
-- the booking, remote = the calendar's copy, NULL when it was deleted there), the fields that
-- differ, and what was taken for each. open: nothing changed yet (the ask policy); decided: a
-- policy chose and a person may still override; resolved: a person chose.
CREATE TABLE conflicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id BIGINT NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    copy_id BIGINT REFERENCES booking_copies (id) ON DELETE SET NULL,
    integration_id BIGINT REFERENCES calendar_integrations (id) ON DELETE SET NULL,
    calendar_label TEXT NOT NULL,
    state TEXT NOT NULL,
    policy TEXT NOT NULL,
    base TEXT NOT NULL,
    local TEXT NOT NULL,
    remote TEXT,
    -- JSON list of the fields that differ between local and remote
    fields TEXT NOT NULL,
    -- JSON map field -> "local" | "remote": what the outcome took
    outcome TEXT,
    -- the remote version this conflict is about (a second sync does not open it twice)
    remote_etag TEXT,
    decided_by TEXT,
    decided_at TIMESTAMP,
    -- What a person's resolution replaced (JSON: the conflict's state, outcome and decider,
    -- and the booking's fields and status), so it can be undone.
    prior TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_conflicts_booking ON conflicts (booking_id);
CREATE INDEX idx_conflicts_state ON conflicts (state, created_at);
