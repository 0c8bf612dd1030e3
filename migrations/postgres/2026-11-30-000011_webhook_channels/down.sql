DROP TABLE webhook_channels;
