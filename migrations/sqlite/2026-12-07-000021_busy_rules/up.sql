-- What counts as busy: each calendar's rules (a kind → "busy"/"free" map; '{}' is the
-- defaults), title patterns that free an event, and the owner's addresses ('' is the default:
-- the account's, or the owner's email for a feed); each instance's kind.
ALTER TABLE calendar_integrations ADD COLUMN busy_rules TEXT NOT NULL DEFAULT '{}';
ALTER TABLE calendar_integrations ADD COLUMN free_title_patterns TEXT NOT NULL DEFAULT '[]';
ALTER TABLE calendar_integrations ADD COLUMN own_addresses TEXT NOT NULL DEFAULT '';
ALTER TABLE event_instances ADD COLUMN kind TEXT NOT NULL DEFAULT 'busy';
-- What the stored columns tell until the next sync reads the providers' fields.
UPDATE event_instances SET kind = CASE
    WHEN status = 'cancelled' THEN 'busy'
    WHEN NOT busy THEN 'free'
    WHEN status = 'tentative' THEN 'tentative'
    WHEN all_day THEN 'all_day'
    ELSE 'busy' END;
DROP INDEX idx_event_instances_busy;
CREATE INDEX idx_event_instances_busy ON event_instances (integration_id, start_at, end_at, busy, all_day, kind, summary, uid);
-- Every calendar is read again in full, so declined and out-of-office events get their kind.
DELETE FROM sync_cursors;
