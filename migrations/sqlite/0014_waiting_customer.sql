-- The waiting customer (README "While the customer waits"): what a handover
-- does when nobody is On Queue, how often the session hears about the queue,
-- when a wait or a silence ends it, and the words the user sees.
ALTER TABLE endpoints ADD COLUMN if_no_agents TEXT NOT NULL DEFAULT 'queue';
ALTER TABLE endpoints ADD COLUMN queue_update_seconds INTEGER NOT NULL DEFAULT 60;
ALTER TABLE endpoints ADD COLUMN queue_timeout_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN inactivity_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN messages TEXT NOT NULL DEFAULT '{}';
-- When the next queue update is due (claimed by one instance at a time), and
-- the last time the user or the agent wrote (the inactivity timer).
ALTER TABLE conversations ADD COLUMN next_queue_update_at DATETIME;
ALTER TABLE conversations ADD COLUMN last_exchange_at DATETIME;
CREATE INDEX conversations_waiting ON conversations (state, id) WHERE ended_at IS NULL;
