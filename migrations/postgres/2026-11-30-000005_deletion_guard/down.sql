ALTER TABLE sync_runs DROP COLUMN applied_by;
ALTER TABLE sync_runs DROP COLUMN held;
