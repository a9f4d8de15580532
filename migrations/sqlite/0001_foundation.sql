-- Organisations own endpoints; feature flags admit organisations by name.
CREATE TABLE organisations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO organisations (name) VALUES ('default');

CREATE TABLE endpoints (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id           INTEGER NOT NULL REFERENCES organisations (id),
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
    created_at                DATETIME NOT NULL,
    updated_at                DATETIME NOT NULL,
    UNIQUE (organisation_id, name)
);

CREATE TABLE admins (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at    DATETIME NOT NULL
);

-- Sessions are stored by the SHA-256 of the cookie value, so a copy of the
-- database cannot be used to sign in.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    admin_id     INTEGER NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    remote_ip    TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    revoked_at DATETIME
);
