-- Genesys retries a Bot Connector turn (the same botSessionId and messageId)
-- when the answer is slow or lost: each turn's answer is kept for a while, so
-- that a retry gets the same answer without asking the bot again, from any
-- instance (docs/genesys.md §BotConnector, "Retried turns"). An empty answer
-- means the first attempt is still asking the bot.
CREATE TABLE bot_connector_turns (
    endpoint_id    BIGINT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    bot_session_id TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    answer         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (endpoint_id, bot_session_id, message_id)
);
CREATE INDEX bot_connector_turns_created_at ON bot_connector_turns (created_at);
