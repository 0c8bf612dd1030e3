DROP INDEX idx_integrations_account;
ALTER TABLE calendar_integrations DROP COLUMN account_id;
DROP TABLE provider_accounts;
