-- API keys: who may call the HTTP API, with which role, within which tenant. Written only by api/keys.py.
-- The secret is never stored: `secret_hash` is SHA-256 of the whole key (a 256-bit random secret needs no slow
-- password hash; see the README's Security section). Revoked keys are kept, so that the audit trail and
-- `keys list` can say who revoked what and when.

CREATE TABLE IF NOT EXISTS api_keys (
    key_id       text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{12}$'),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text        NOT NULL CHECK (role IN ('submitter', 'reader', 'operator', 'admin')),
    tenant       text        CHECK (tenant IS NULL OR length(tenant) BETWEEN 1 AND 200),
    secret_hash  bytea       NOT NULL CHECK (length(secret_hash) = 32),
    created_at   timestamptz NOT NULL,
    created_by   text        NOT NULL,
    revoked_at   timestamptz,
    revoked_by   text
);

CREATE INDEX IF NOT EXISTS api_keys_created_idx ON api_keys (created_at DESC);
