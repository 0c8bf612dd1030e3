-- A series' own start and end (the master's DTSTART and DTEND, Unix seconds; dates at midnight
-- UTC with all_day): what its recurrence rule counts from, so an export can write the series
-- rather than its occurrences. NULL where a provider answers occurrences only, and for series
-- stored before this, until their source changes.
ALTER TABLE event_series ADD COLUMN start_at BIGINT;
ALTER TABLE event_series ADD COLUMN end_at BIGINT;
ALTER TABLE event_series ADD COLUMN all_day BOOLEAN NOT NULL DEFAULT 0;
