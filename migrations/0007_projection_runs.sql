-- Rebuild and verify runs, so that the monitor can show one while it runs and the latest results after. Written by
-- the run itself in the live schema (never in its shadow): at its start, about once a second, and at its end.

CREATE TABLE IF NOT EXISTS projection_runs (
    run_id          uuid        PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('rebuild', 'verify')),
    projections     text[]      NOT NULL,
    started_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    events_applied  bigint      NOT NULL DEFAULT 0,
    lag             bigint,
    state           text        NOT NULL
                    CHECK (state IN ('running', 'swapped', 'equal', 'different', 'refused', 'failed')),
    message         text        NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS projection_runs_started_idx ON projection_runs (started_at DESC);
