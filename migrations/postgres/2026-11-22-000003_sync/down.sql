DROP TABLE change_history;
DROP TABLE event_instances;
DROP TABLE event_series;
DROP TABLE sync_runs;
DROP TABLE sync_cursors;
DROP TABLE sync_states;
