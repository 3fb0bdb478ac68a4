-- The per-job guard of the stage workers (agents/guard.py): how far each job's sequence has gone and what it is
-- doing. Written only by the worker that owns the job's partition; a write that does not supersede what is
-- stored (agents/progress.py `supersedes`) changes nothing, so a late write can never take a job back.
CREATE TABLE IF NOT EXISTS job_guard (
    job_id        uuid PRIMARY KEY,
    next_sequence integer     NOT NULL,
    state         text        NOT NULL,
    progress      jsonb       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
