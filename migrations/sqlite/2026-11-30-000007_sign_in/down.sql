DROP TABLE audit_log;
ALTER TABLE api_tokens DROP COLUMN expires_at;
DROP TABLE known_devices;
DROP TABLE sign_in_throttle;
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX idx_login_failures_key ON login_failures (key, failed_at);
