-- The booking flow of the spec: a member's working hours and rules (MM User Settings, MM User
-- Availability Rule), their date overrides (MM User Date Overrides), and teams (departments)
-- whose members a booking is assigned to.
CREATE TABLE availability_settings (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- IANA zone the hours and overrides are read in.
    time_zone TEXT NOT NULL,
    -- JSON [{"days":["mon",…],"start":"09:00","end":"17:00","overnight":false}]; NULL: any time.
    working_hours TEXT,
    buffer_before_minutes BIGINT NOT NULL DEFAULT 0,
    buffer_after_minutes BIGINT NOT NULL DEFAULT 0,
    minimum_notice_minutes BIGINT NOT NULL DEFAULT 0,
    max_bookings_per_day BIGINT,
    max_bookings_per_week BIGINT,
    modified_at TIMESTAMP NOT NULL
);

CREATE TABLE date_overrides (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The member's local date, YYYY-MM-DD.
    day TEXT NOT NULL,
    -- JSON [{"start":"10:00","end":"12:00","overnight":false}]; []: unavailable that day.
    hours TEXT NOT NULL,
    modified_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    modified_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idx_teams_name ON teams (lower(name));

CREATE TABLE team_members (
    team_id BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX idx_team_members_user ON team_members (user_id);

-- The team a booking was made for (its member was picked from it); NULL: booked for a member.
ALTER TABLE bookings ADD COLUMN team_id BIGINT REFERENCES teams (id) ON DELETE SET NULL;
CREATE INDEX idx_bookings_team ON bookings (team_id, user_id, created_at);
