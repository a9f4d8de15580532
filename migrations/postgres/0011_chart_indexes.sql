-- The dashboard's charts count handovers by when an agent joined and when
-- they ended: one range scan each (store/charts.go), not a scan of every
-- conversation. Partial, so open and unanswered handovers cost nothing.
CREATE INDEX conversations_agent_joined ON conversations (agent_joined_at) WHERE agent_joined_at IS NOT NULL;
CREATE INDEX conversations_ended ON conversations (ended_at, state) WHERE ended_at IS NOT NULL;
