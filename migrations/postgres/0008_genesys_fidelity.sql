-- What real Genesys sends (docs/genesys.md §RealGenesys):
-- an endpoint chooses whether Architect flow messages reach the user, and
-- remembers the last clock skew its webhooks showed; each webhook keeps its own.
ALTER TABLE endpoints ADD COLUMN flow_messages TEXT NOT NULL DEFAULT 'show';
ALTER TABLE endpoints ADD COLUMN clock_skew_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN clock_skew_at TIMESTAMPTZ;
ALTER TABLE webhooks ADD COLUMN clock_skew_ms BIGINT NOT NULL DEFAULT 0;
-- When Genesys says the named agent connected: a snapshot older than that
-- (a poll overtaken by a queue event) does not rename the agent back.
ALTER TABLE conversations ADD COLUMN agent_connected_at TIMESTAMPTZ;
