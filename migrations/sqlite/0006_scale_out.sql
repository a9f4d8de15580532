-- Several instances on one database: state that must be shared between them
-- lives here. rate_limits is the fiber.Storage of the sign-in throttle (web/
-- ratelimit.go), so failed sign-ins count across every instance.
CREATE TABLE rate_limits (
    name       TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    expires_at DATETIME -- NULL: never
);
CREATE INDEX rate_limits_expires_at ON rate_limits (expires_at);
