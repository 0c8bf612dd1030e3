-- Push channels (Google events.watch): a notification names its channel, which names the
-- calendar; the token calsync set on the channel is kept as a hash and checked on each.
CREATE TABLE webhook_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id BIGINT NOT NULL REFERENCES calendar_integrations (id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL UNIQUE,
    resource_id TEXT,
    token_hash TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_message_at TIMESTAMP
);
CREATE INDEX idx_webhook_channels_integration ON webhook_channels (integration_id);
