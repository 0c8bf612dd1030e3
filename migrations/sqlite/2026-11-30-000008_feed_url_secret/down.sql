ALTER TABLE calendar_integrations DROP COLUMN ical_url_secret;
