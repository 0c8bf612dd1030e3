-- The copies of a booking written into its member's calendars (two-way push): one row per
-- calendar written to. client_key is chosen once, before the first attempt, and sent as the
-- provider's idempotency key (Google's event id, Graph's transactionId): a retry after a
-- timeout finds the copy the first attempt made instead of making a second.
CREATE TABLE booking_copies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id BIGINT NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    -- NULL once the calendar record is deleted: the copy stays where it is.
    integration_id BIGINT REFERENCES calendar_integrations (id) ON DELETE SET NULL,
    -- The calendar's name when last written, shown after it is gone.
    calendar_label TEXT NOT NULL,
    client_key TEXT NOT NULL,
    external_id TEXT,
    -- pending, written or failed
    state TEXT NOT NULL DEFAULT 'pending',
    -- put (create or update) or remove (the booking was cancelled)
    action TEXT NOT NULL DEFAULT 'put',
    error TEXT,
    -- Why the copy is no longer updated (another primary calendar, a removed one).
    note TEXT,
    -- The booking version the copy holds.
    written_version BIGINT NOT NULL DEFAULT 0,
    etag TEXT,
    -- The fields as last written (JSON): the base of a three-way merge.
    base TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at TIMESTAMP,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idx_booking_copies_target ON booking_copies (booking_id, integration_id);
CREATE INDEX idx_booking_copies_due ON booking_copies (state, due_at);
CREATE INDEX idx_booking_copies_external ON booking_copies (integration_id, external_id);
