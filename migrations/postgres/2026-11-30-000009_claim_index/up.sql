-- The scheduler's claim reads the due calendars straight from one partial index in due order
-- (it joined every calendar and sorted them all: 6 ms a claim at 5,000 due). `scheduled`
-- mirrors "active and auto-sync on" of the calendar's record; the record's saves keep it.
ALTER TABLE sync_states ADD COLUMN scheduled BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE sync_states SET scheduled = ci.is_active AND ci.auto_sync_enabled
  FROM calendar_integrations ci WHERE ci.id = sync_states.integration_id;
DROP INDEX idx_sync_states_due;
CREATE INDEX idx_sync_states_due ON sync_states (due_at NULLS FIRST) WHERE scheduled;
DROP INDEX idx_sync_states_queued;
CREATE INDEX idx_sync_states_queued ON sync_states (queued_at) WHERE queued_at IS NOT NULL;
-- Nothing reads calendars by (is_active, auto_sync_enabled, last_sync) since the scheduler
-- claims from sync_states; without it, recording a run's last_sync touches no index.
DROP INDEX idx_sync_due;
-- Set by each claim: the lease it replaced had lapsed (its holder crashed or stalled), so a run
-- may be left open; a normal end releases the lease. Spares a look for open runs per claim.
ALTER TABLE sync_states ADD COLUMN lease_lapsed BOOLEAN NOT NULL DEFAULT FALSE;
