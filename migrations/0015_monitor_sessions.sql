-- The web monitor's sign-in sessions: the browser's cookie holds a random session id, never the API key. Only
-- SHA-256 of the id is stored (as api_keys keeps only its keys' hashes), with the key it was made with (its public
-- id: the session dies with the key) and when it expires. Written only by api/sessions.py.

CREATE TABLE IF NOT EXISTS monitor_sessions (
    session_hash bytea       PRIMARY KEY CHECK (length(session_hash) = 32),
    key_id       text        NOT NULL REFERENCES api_keys (key_id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL CHECK (expires_at > created_at)
);

-- Expired sessions are deleted at each sign-in.
CREATE INDEX IF NOT EXISTS monitor_sessions_expires_idx ON monitor_sessions (expires_at);
