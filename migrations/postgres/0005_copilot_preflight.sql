-- The AI Copilot app an endpoint's agents open beside the chat ('' = Handover's own /copilot workspace).
ALTER TABLE endpoints ADD COLUMN copilot_base_url TEXT NOT NULL DEFAULT '';

-- Each run of an endpoint's pre-flight check against Genesys: the checks with
-- their verdicts and fixes, as JSON. The endpoint page shows the latest.
CREATE TABLE preflight_results (
    id          BIGSERIAL PRIMARY KEY,
    endpoint_id BIGINT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    ran_at      TIMESTAMPTZ NOT NULL,
    results     TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX preflight_results_endpoint ON preflight_results (endpoint_id, ran_at, id);
