-- Organisations own endpoints; feature flags admit organisations by name.
CREATE TABLE organisations (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX organisations_name ON organisations (lower(name));
INSERT INTO organisations (name) VALUES ('default');

CREATE TABLE endpoints (
    id                        BIGSERIAL PRIMARY KEY,
    organisation_id           BIGINT NOT NULL REFERENCES organisations (id),
    name                      TEXT NOT NULL,
    url_token                 TEXT NOT NULL UNIQUE,
    provider                  TEXT NOT NULL DEFAULT '',
    host                      TEXT NOT NULL DEFAULT '',
    deployment_name           TEXT NOT NULL DEFAULT '',
    queue_id                  TEXT NOT NULL DEFAULT '',
    client_id                 TEXT NOT NULL DEFAULT '',
    webhook_secret_sealed     TEXT NOT NULL DEFAULT '',
    client_secret_sealed      TEXT NOT NULL DEFAULT '',
    send_profile              BOOLEAN NOT NULL DEFAULT FALSE,
    default_language          TEXT NOT NULL DEFAULT '',
    default_skills            TEXT NOT NULL DEFAULT '[]',
    default_priority          INTEGER NOT NULL DEFAULT 0,
    default_custom_attributes TEXT NOT NULL DEFAULT '{}',
    relay_typing              BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                TIMESTAMPTZ NOT NULL,
    updated_at                TIMESTAMPTZ NOT NULL,
    UNIQUE (organisation_id, name)
);

CREATE TABLE admins (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX admins_username ON admins (lower(username));

-- Sessions are stored by the SHA-256 of the cookie value, so a copy of the
-- database cannot be used to sign in.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    admin_id     BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    remote_ip    TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_keys (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
