DROP INDEX idx_event_instances_busy;
CREATE INDEX idx_event_instances_busy ON event_instances (integration_id, start_at, end_at, busy, all_day, summary, uid);
ALTER TABLE event_instances DROP COLUMN kind;
ALTER TABLE calendar_integrations DROP COLUMN own_addresses;
ALTER TABLE calendar_integrations DROP COLUMN free_title_patterns;
ALTER TABLE calendar_integrations DROP COLUMN busy_rules;
