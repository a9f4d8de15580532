-- The live console: the conversation list reads each conversation's last
-- message from these columns instead of the messages table (kept by
-- InsertMessage in the same transaction as the message).
ALTER TABLE conversations ADD COLUMN last_message_at TIMESTAMPTZ;
ALTER TABLE conversations ADD COLUMN last_message_preview TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_message_from TEXT NOT NULL DEFAULT '';
UPDATE conversations SET
    last_message_at = (SELECT m.created_at FROM messages m WHERE m.conversation_id = conversations.id AND m.kind IN ('text', 'transcript') ORDER BY m.id DESC LIMIT 1),
    last_message_from = COALESCE((SELECT m.direction FROM messages m WHERE m.conversation_id = conversations.id AND m.kind IN ('text', 'transcript') ORDER BY m.id DESC LIMIT 1), ''),
    last_message_preview = COALESCE((SELECT substr(m.text, 1, 140) FROM messages m WHERE m.conversation_id = conversations.id AND m.kind IN ('text', 'transcript') ORDER BY m.id DESC LIMIT 1), '');

-- The console lists page by id (keyset: WHERE id < cursor ORDER BY id DESC);
-- each filter has an index that ends in id, so a filtered page reads only its rows.
CREATE INDEX conversations_endpoint ON conversations (endpoint_id, id);
CREATE INDEX conversations_endpoint_state ON conversations (endpoint_id, state, id);
CREATE INDEX conversations_state ON conversations (state, id);
CREATE INDEX conversations_session ON conversations (session_id);
CREATE INDEX conversations_user ON conversations (user_id);

-- A replayed webhook is logged as a new row that points at the original.
ALTER TABLE webhooks ADD COLUMN replay_of BIGINT;
CREATE INDEX webhooks_replay_of ON webhooks (replay_of) WHERE replay_of IS NOT NULL;
CREATE INDEX webhooks_conversation ON webhooks (conversation_id, id) WHERE conversation_id IS NOT NULL;
CREATE INDEX webhooks_verdict ON webhooks (verdict, id);
CREATE INDEX webhooks_endpoint ON webhooks (endpoint_id, id);
-- Rejections and failures are few: partial indexes find them without reading the rest.
CREATE INDEX webhooks_rejected ON webhooks (id) WHERE verdict <> 'valid';

CREATE INDEX api_calls_endpoint ON api_calls (endpoint_id, id);
CREATE INDEX api_calls_failed ON api_calls (endpoint_id, id) WHERE status NOT BETWEEN 200 AND 399 OR error <> '';
