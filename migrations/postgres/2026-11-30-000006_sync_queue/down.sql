DROP INDEX idx_sync_states_queued;
ALTER TABLE sync_states DROP COLUMN queued_by;
ALTER TABLE sync_states DROP COLUMN queued_at;
