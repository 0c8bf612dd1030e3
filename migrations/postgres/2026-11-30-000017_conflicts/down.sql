DROP TABLE conflicts;
ALTER TABLE calendar_integrations DROP COLUMN conflict_policy;
