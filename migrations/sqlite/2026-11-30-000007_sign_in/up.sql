-- Sign-in throttling: one counter per key ("ip:…" or "email:…"), read and bumped in one
-- statement so a parallel burst gets no extra tries.
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY NOT NULL,
    attempts BIGINT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    blocked_until TIMESTAMP
);
DROP TABLE login_failures;
-- Browsers that signed in to an account before (a long-lived cookie's SHA-256): a correct
-- password from one of them passes the account's lock, so an attacker cannot lock the owner out.
CREATE TABLE known_devices (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_seen TIMESTAMP NOT NULL
);
CREATE INDEX idx_known_devices_user ON known_devices (user_id);
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
-- Who did what to accounts and keys (no foreign keys: the trail outlives the users it names).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    subject TEXT,
    client TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX idx_audit_log_at ON audit_log (at);
CREATE INDEX idx_audit_log_kind ON audit_log (kind, at);
