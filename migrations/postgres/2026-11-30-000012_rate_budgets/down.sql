ALTER TABLE sync_runs DROP COLUMN throttled_ms;
DROP TABLE rate_budgets;
