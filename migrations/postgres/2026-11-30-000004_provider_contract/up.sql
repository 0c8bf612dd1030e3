-- Each adapter keeps its own opaque cursor (a feed's validators and body, a Google sync token,
-- a Graph delta link): one text the engine stores and hands back, never reads. Cursors of the
-- old shape are dropped; the next sync of each calendar simply fetches in full once.
DROP TABLE sync_cursors;
CREATE TABLE sync_cursors (
    integration_id BIGINT PRIMARY KEY NOT NULL REFERENCES calendar_integrations (id) ON DELETE CASCADE,
    state TEXT NOT NULL
);

-- The provider's own id of a series and its version (Google etag, Graph changeKey), for
-- incremental sync and writing back. iCal series have neither: their UID is their identity.
ALTER TABLE event_series ADD COLUMN external_id TEXT;
ALTER TABLE event_series ADD COLUMN etag TEXT;
