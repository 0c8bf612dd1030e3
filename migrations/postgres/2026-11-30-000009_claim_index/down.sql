ALTER TABLE sync_states DROP COLUMN lease_lapsed;
DROP INDEX idx_sync_states_queued;
CREATE INDEX idx_sync_states_queued ON sync_states (queued_at);
DROP INDEX idx_sync_states_due;
CREATE INDEX idx_sync_states_due ON sync_states (due_at);
ALTER TABLE sync_states DROP COLUMN scheduled;
CREATE INDEX idx_sync_due ON calendar_integrations (is_active, auto_sync_enabled, last_sync);
