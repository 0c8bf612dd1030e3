DROP INDEX idx_change_history_at;
DROP INDEX idx_sync_runs_started;
DROP TABLE export_links;
ALTER TABLE calendar_integrations DROP COLUMN stale_policy;
ALTER TABLE sync_states DROP COLUMN transient;
