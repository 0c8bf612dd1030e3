-- One consent at Google or Microsoft: the account whose tokens every calendar picked from it
-- uses (Microsoft rotates refresh tokens on every use, so they must live in one place).
CREATE TABLE provider_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the integration type: Google Calendar | Outlook Calendar
    provider TEXT NOT NULL,
    email TEXT NOT NULL,
    -- sealed like the record's tokens (context provider_account:{id}:{column})
    access_token TEXT,
    refresh_token TEXT,
    token_expiry TIMESTAMP,
    refreshed_at TIMESTAMP,
    -- set when a refresh failed for good (invalid_grant): the reconnect message
    revoked_error TEXT,
    -- a process is refreshing the tokens until then (one refresh at a time per account,
    -- across processes, without a transaction held while the provider is asked)
    refreshing_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX idx_provider_accounts_user ON provider_accounts (user_id, provider, email);
ALTER TABLE calendar_integrations ADD COLUMN account_id BIGINT REFERENCES provider_accounts (id) ON DELETE SET NULL;
CREATE INDEX idx_integrations_account ON calendar_integrations (account_id);
