-- Request budgets per provider, shared by every process: a fixed window per key
-- ("google:project", "google:user:…") and the requests taken in it.
CREATE TABLE rate_budgets (
    key TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    used BIGINT NOT NULL
);
-- How long a run waited for a provider (its Retry-After, calsync's own budgets).
ALTER TABLE sync_runs ADD COLUMN throttled_ms BIGINT NOT NULL DEFAULT 0;
