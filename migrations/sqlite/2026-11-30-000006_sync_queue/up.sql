-- "Sync now" when every sync slot of the process is busy: the calendar waits in the queue
-- (and says so) until a slot frees up, instead of a sync being started without limit.
ALTER TABLE sync_states ADD COLUMN queued_at TIMESTAMP;
-- Who lifted the deletion guard for the queued sync ("Apply"), if anyone.
ALTER TABLE sync_states ADD COLUMN queued_by TEXT;
CREATE INDEX idx_sync_states_queued ON sync_states (queued_at);
