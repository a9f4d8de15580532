-- Limits on the public surfaces (docs/security.md), shared by every
-- instance: fixed-window request counts, and the event streams each live
-- instance holds open per key (a dead instance's rows go with it).
CREATE TABLE hit_counts (
    key        TEXT PRIMARY KEY,
    n          INTEGER NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX hit_counts_expires_at ON hit_counts (expires_at);
CREATE TABLE open_streams (
    instance_id TEXT NOT NULL,
    key         TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (instance_id, key)
);
CREATE INDEX open_streams_key ON open_streams (key);
