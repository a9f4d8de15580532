-- A console session also ends when it goes unused for
-- HANDOVER_SESSION_IDLE_TIMEOUT; last_seen_at is when it was last used, kept
-- to the minute. Sessions open at the upgrade count as last used when they
-- were created, so those idle for longer than the timeout sign in again.
ALTER TABLE sessions ADD COLUMN last_seen_at DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00+00:00';
UPDATE sessions SET last_seen_at = created_at;
