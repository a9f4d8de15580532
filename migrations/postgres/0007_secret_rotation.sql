-- A rotated webhook secret keeps verifying until previous_webhook_secret_until,
-- so Genesys and Handover need not change it at the same instant.
ALTER TABLE endpoints ADD COLUMN previous_webhook_secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN previous_webhook_secret_until TIMESTAMPTZ;
