-- Several instances that know each other (docs/scaling.md). Each instance
-- registers and heartbeats; one missing for HANDOVER_INSTANCE_DEAD_AFTER is
-- dead, and the others take over what it held.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    version      TEXT NOT NULL DEFAULT '',
    address      TEXT NOT NULL DEFAULT '',
    started_at   DATETIME NOT NULL,
    heartbeat_at DATETIME NOT NULL,
    stopped_at   DATETIME -- set on a graceful stop: dead at once
);
-- What must run on one instance at a time (an OAuth client's notification
-- channel and poll loop), held by its owner until expires_at and renewed
-- with each heartbeat. data is the owner's note for the next one (the
-- channel id to reuse).
CREATE TABLE ownerships (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    data       TEXT NOT NULL DEFAULT ''
);
-- One token bucket per OAuth client, shared by every instance: the calls to
-- Genesys of all instances together stay within the request budget.
CREATE TABLE genesys_budgets (
    client_key TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_at DATETIME NOT NULL
);
-- Freeing a dead instance's outbox leases looks them up by owner.
CREATE INDEX outbox_lease_owner ON outbox (lease_owner) WHERE lease_until IS NOT NULL;
