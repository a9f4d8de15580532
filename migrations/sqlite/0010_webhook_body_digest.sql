-- A refused, malformed or stale webhook keeps only the first 4 KB of its body
-- (one client sending megabytes must not fill the disk); body_bytes and
-- body_sha256 say what the whole body was. Rows written before keep 0 and ''.
ALTER TABLE webhooks ADD COLUMN body_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
