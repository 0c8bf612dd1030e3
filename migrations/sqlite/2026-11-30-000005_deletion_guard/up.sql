-- A run held by the deletion guard (it would have removed most of a calendar's events), and
-- who lifted the guard for a run that applied such a removal.
ALTER TABLE sync_runs ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sync_runs ADD COLUMN applied_by TEXT;
