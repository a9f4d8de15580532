-- The integration id the endpoint's Deployment Name resolved to: webhooks are
-- matched to their endpoint by it (channel.id), also after a restart.
ALTER TABLE endpoints ADD COLUMN integration_id TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN integration_error TEXT NOT NULL DEFAULT '';
CREATE INDEX endpoints_integration_id ON endpoints (integration_id);

-- One handover of one bot session to Genesys.
CREATE TABLE conversations (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id             INTEGER NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    session_id              TEXT NOT NULL,
    user_id                 TEXT NOT NULL,
    customer_id             TEXT NOT NULL UNIQUE, -- channel.from.id, fresh per handover
    state                   TEXT NOT NULL,        -- queued, agent_joined, ended, failed
    end_reason              TEXT NOT NULL DEFAULT '',
    language                TEXT NOT NULL DEFAULT '',
    skills                  TEXT NOT NULL DEFAULT '[]',
    priority                INTEGER NOT NULL DEFAULT 0,
    custom_attributes       TEXT NOT NULL DEFAULT '{}',
    first_name              TEXT NOT NULL DEFAULT '',
    last_name               TEXT NOT NULL DEFAULT '',
    email                   TEXT NOT NULL DEFAULT '',
    genesys_conversation_id TEXT NOT NULL DEFAULT '',
    agent_name              TEXT NOT NULL DEFAULT '',
    created_at              DATETIME NOT NULL,
    updated_at              DATETIME NOT NULL,
    agent_joined_at         DATETIME,
    first_agent_message_at  DATETIME,
    ended_at                DATETIME
);
-- At most one open handover per bot session.
CREATE UNIQUE INDEX conversations_open_session ON conversations (endpoint_id, session_id) WHERE ended_at IS NULL;
CREATE INDEX conversations_genesys_id ON conversations (genesys_conversation_id) WHERE genesys_conversation_id <> '';
CREATE INDEX conversations_created ON conversations (created_at, id);

-- The timeline of a conversation and the event stream of its session: user,
-- agent, bot and system messages, typing, and state changes.
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    endpoint_id        INTEGER NOT NULL,
    session_id         TEXT NOT NULL,
    direction          TEXT NOT NULL, -- user, agent, bot, system
    kind               TEXT NOT NULL, -- text, transcript, typing, state
    text               TEXT NOT NULL DEFAULT '',
    data               TEXT NOT NULL DEFAULT '{}',
    genesys_message_id TEXT NOT NULL DEFAULT '',
    delivery           TEXT NOT NULL DEFAULT '', -- pending, sent, delivered, failed
    error              TEXT NOT NULL DEFAULT '',
    created_at         DATETIME NOT NULL
);
CREATE INDEX messages_session ON messages (endpoint_id, session_id, id);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
CREATE INDEX messages_genesys_id ON messages (genesys_message_id) WHERE genesys_message_id <> '';

-- Every call to Genesys, written before the bot is answered and sent by the
-- outbox worker, in order per conversation.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL,
    message_id      INTEGER,
    kind            TEXT NOT NULL, -- message, event, receipt, structured, disconnect
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL, -- pending, sent, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     DATETIME,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL,
    sent_at         DATETIME
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_conversation ON outbox (conversation_id, id) WHERE status = 'pending';

-- Each HTTP call made to Genesys, with its outcome.
CREATE TABLE api_calls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id     INTEGER NOT NULL,
    conversation_id INTEGER,
    outbox_id       INTEGER,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          INTEGER NOT NULL DEFAULT 0,
    latency_ms      INTEGER NOT NULL DEFAULT 0,
    attempt         INTEGER NOT NULL DEFAULT 1,
    error           TEXT NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL
);
CREATE INDEX api_calls_conversation ON api_calls (conversation_id, id);
CREATE INDEX api_calls_created ON api_calls (created_at, id);

-- Every request to the webhook URL, valid or not.
CREATE TABLE webhooks (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at        DATETIME NOT NULL,
    endpoint_id        INTEGER,
    conversation_id    INTEGER,
    integration_id     TEXT NOT NULL DEFAULT '',
    genesys_message_id TEXT NOT NULL DEFAULT '',
    event_type         TEXT NOT NULL DEFAULT '',
    headers            TEXT NOT NULL DEFAULT '{}',
    body               TEXT NOT NULL DEFAULT '',
    verdict            TEXT NOT NULL,
    verdict_detail     TEXT NOT NULL DEFAULT '',
    status             INTEGER NOT NULL,
    latency_us         INTEGER NOT NULL DEFAULT 0,
    dedupe_key         TEXT UNIQUE,
    outcome            TEXT NOT NULL DEFAULT '',
    processed_at       DATETIME
);
CREATE INDEX webhooks_received ON webhooks (received_at, id);
CREATE INDEX webhooks_unprocessed ON webhooks (id) WHERE processed_at IS NULL AND verdict = 'valid';
