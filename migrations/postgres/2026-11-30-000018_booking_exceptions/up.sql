-- The occurrences of a recurring booking that differ from its series, as JSON keyed by the
-- occurrence's original start (RFC 3339, UTC): {"cancelled": true} or the title, start and
-- end it has instead.
ALTER TABLE bookings ADD COLUMN exceptions TEXT NOT NULL DEFAULT '{}';
