-- Availability reads only this index (no table lookups): since a booking's own copy is left out
-- by its uid, the uid is in it too.
DROP INDEX idx_event_instances_busy;
CREATE INDEX idx_event_instances_busy ON event_instances (integration_id, start_at, end_at, busy, all_day, summary, uid);
