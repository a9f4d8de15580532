-- One credential per audience (docs/security.md): the bot keeps the URL
-- token (now rotatable with a grace period), agents' Copilot links carry a
-- Copilot token of their own (and, when the endpoint sets a secret, a signed
-- JWT), and the demo web chat has its own revocable link. Empty tokens are
-- filled at start, from a cryptographic source.
ALTER TABLE endpoints ADD COLUMN copilot_token TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN copilot_jwt_secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN demo_chat BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE endpoints ADD COLUMN demo_token TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_url_token TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_url_token_until TIMESTAMPTZ;
CREATE UNIQUE INDEX endpoints_copilot_token ON endpoints (copilot_token) WHERE copilot_token <> '';
CREATE UNIQUE INDEX endpoints_demo_token ON endpoints (demo_token) WHERE demo_token <> '';
CREATE INDEX endpoints_previous_url_token ON endpoints (previous_url_token) WHERE previous_url_token <> '';
