-- The scheduler's claim reads the due calendars straight from one partial index in due order
-- (it joined every calendar and sorted them all). `scheduled` mirrors "active and auto-sync
-- on" of the calendar's record; the record's saves keep it.
ALTER TABLE sync_states ADD COLUMN scheduled BOOLEAN NOT NULL DEFAULT 1;
UPDATE sync_states SET scheduled = (SELECT ci.is_active AND ci.auto_sync_enabled
  FROM calendar_integrations ci WHERE ci.id = sync_states.integration_id);
DROP INDEX idx_sync_states_due;
CREATE INDEX idx_sync_states_due ON sync_states (due_at) WHERE scheduled;
DROP INDEX idx_sync_states_queued;
CREATE INDEX idx_sync_states_queued ON sync_states (queued_at) WHERE queued_at IS NOT NULL;
