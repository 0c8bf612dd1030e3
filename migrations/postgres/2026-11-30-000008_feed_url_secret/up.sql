-- A feed URL often embeds a private token: it is stored encrypted (as OAuth tokens are) in
-- ical_url_secret, and ical_url keeps only a masked form to show (https://host/…/basic.ics).
-- Rows written before are sealed at the next start (server::keys::load).
ALTER TABLE calendar_integrations ADD COLUMN ical_url_secret TEXT;
