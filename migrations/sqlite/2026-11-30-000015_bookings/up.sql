-- Meetings the booking side makes for a member (the spec's MM Meeting Booking, minimal). Times
-- are UTC instants; time_zone is the one they were booked in (and recur in).
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT,
    location TEXT,
    -- One email per line.
    attendees TEXT NOT NULL DEFAULT '',
    start_at TIMESTAMP NOT NULL,
    end_at TIMESTAMP NOT NULL,
    time_zone TEXT NOT NULL,
    -- "RRULE:…", or NULL for a single meeting.
    recurrence TEXT,
    -- confirmed or cancelled
    status TEXT NOT NULL DEFAULT 'confirmed',
    notify_attendees BOOLEAN NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_bookings_user_start ON bookings (user_id, start_at);
