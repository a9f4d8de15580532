-- Data protection per endpoint (docs/privacy.md). Stored so that zero means
-- today's behaviour: texts kept, HTML removed from user input, nothing
-- masked, conversations kept until an admin sets a retention.
ALTER TABLE endpoints ADD COLUMN mask_sensitive_logging BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN mask_ip_address BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN discard_conversation_text BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN keep_input_html BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN conversation_retention_days INTEGER NOT NULL DEFAULT 0;
-- A webhook whose body was masked after processing cannot be replayed.
ALTER TABLE webhooks ADD COLUMN masked BOOLEAN NOT NULL DEFAULT FALSE;
-- One row per erasure of a person's data: who, when, a hash of the user id, what went.
CREATE TABLE erasures (
    id           BIGSERIAL PRIMARY KEY,
    erased_at    TIMESTAMPTZ NOT NULL,
    erased_by    TEXT NOT NULL,
    user_id_hash TEXT NOT NULL,
    endpoint_id  BIGINT,
    counts       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX conversations_ended_at ON conversations (endpoint_id, ended_at) WHERE ended_at IS NOT NULL;
