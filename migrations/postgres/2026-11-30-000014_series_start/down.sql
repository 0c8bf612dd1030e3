ALTER TABLE event_series DROP COLUMN all_day;
ALTER TABLE event_series DROP COLUMN end_at;
ALTER TABLE event_series DROP COLUMN start_at;
