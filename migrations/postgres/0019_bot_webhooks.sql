-- Event webhooks to the bot (issue 13, README "Event webhooks to the bot"):
-- an endpoint may name a URL that hears every session event, signed as the
-- Standard Webhooks specification says. The signing secret is sealed like the
-- other secrets; a replaced one keeps signing beside the new one for the
-- rotation grace period.
ALTER TABLE endpoints ADD COLUMN bot_webhook_url TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN bot_webhook_secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_bot_webhook_secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_bot_webhook_secret_until TIMESTAMPTZ;
-- The bot webhook's own durable outbox: one row per event, ordered per
-- session, leased like the Genesys outbox. A delivery of a timeline entry
-- names it (message_id) and its body is made from it when sent, so masking
-- and erasure reach what is sent later; typing and test events carry their
-- data. Also the console's "Bot deliveries" log.
CREATE TABLE bot_deliveries (
    id               BIGSERIAL PRIMARY KEY,
    endpoint_id      BIGINT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    conversation_id  BIGINT REFERENCES conversations (id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL DEFAULT '',
    message_id       BIGINT,
    event_id         TEXT NOT NULL UNIQUE,
    event_type       TEXT NOT NULL,
    data             TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL, -- pending, delivered, failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_until      TIMESTAMPTZ,
    url              TEXT NOT NULL DEFAULT '',
    response_status  INTEGER NOT NULL DEFAULT 0,
    response_excerpt TEXT NOT NULL DEFAULT '',
    latency_ms       INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    attempted_at     TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX bot_deliveries_due ON bot_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX bot_deliveries_session ON bot_deliveries (endpoint_id, session_id, id) WHERE status = 'pending';
CREATE INDEX bot_deliveries_conversation ON bot_deliveries (conversation_id, id);
CREATE INDEX bot_deliveries_endpoint ON bot_deliveries (endpoint_id, id);
-- The bot webhook's health per endpoint: when it last took an event, how
-- many attempts failed since, and when an event was given up on after the
-- whole retry period (the dashboard flags the endpoint until the next success).
CREATE TABLE bot_webhook_health (
    endpoint_id       BIGINT PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    last_success_at   TIMESTAMPTZ,
    last_failure_at   TIMESTAMPTZ,
    failures_in_a_row INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    gave_up_at        TIMESTAMPTZ
);
