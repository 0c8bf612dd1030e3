DROP INDEX idx_bookings_team;
ALTER TABLE bookings DROP COLUMN team_id;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE date_overrides;
DROP TABLE availability_settings;
