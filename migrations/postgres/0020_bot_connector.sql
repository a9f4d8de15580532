-- A bot behind every endpoint, and the Genesys Bot Connector endpoint type
-- (docs/genesys.md §BotConnector): the type, the external bot's URL ('' is
-- the built-in demo bot), and the credential header the Bot Connector
-- integration sends, its value sealed like every other secret.
ALTER TABLE endpoints ADD COLUMN type TEXT NOT NULL DEFAULT 'bot';
ALTER TABLE endpoints ADD COLUMN bot_url TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN bot_connector_header_name TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN bot_connector_header_value_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN bot_connector_integration_id TEXT NOT NULL DEFAULT '';
