ALTER TABLE event_series DROP COLUMN etag;
ALTER TABLE event_series DROP COLUMN external_id;
DROP TABLE sync_cursors;
CREATE TABLE sync_cursors (
    integration_id BIGINT PRIMARY KEY NOT NULL REFERENCES calendar_integrations (id) ON DELETE CASCADE,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,
    body TEXT,
    window_from TIMESTAMP,
    window_to TIMESTAMP
);
