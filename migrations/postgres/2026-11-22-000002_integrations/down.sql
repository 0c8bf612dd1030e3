DROP TABLE api_tokens;
DROP TABLE integration_counters;
DROP TABLE calendar_integrations;
