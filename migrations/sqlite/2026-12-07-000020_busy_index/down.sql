DROP INDEX idx_event_instances_busy;
CREATE INDEX idx_event_instances_busy ON event_instances (integration_id, start_at, end_at, busy, all_day, summary);
