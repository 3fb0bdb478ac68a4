-- Model usage, folded by the usage projection (projections/usage.py) from job-events: every model call of every
-- stage attempt (StageCompleted and StageFailed v2 carry them), and each job's totals against its token budget.

CREATE TABLE IF NOT EXISTS usage_jobs (
    job_id          uuid PRIMARY KEY,
    job_type        text           NOT NULL,
    user_id         text,                       -- a pacing job's user; null for articles and schema jobs
    token_budget    integer,                    -- input + output tokens; null: no limit
    calls           integer        NOT NULL DEFAULT 0,
    input_tokens    bigint         NOT NULL DEFAULT 0,
    output_tokens   bigint         NOT NULL DEFAULT 0,
    cached_tokens   bigint         NOT NULL DEFAULT 0,
    cost_usd        numeric(20, 8) NOT NULL DEFAULT 0,
    last_sequence   integer        NOT NULL     -- the job's last event folded: a replay of it changes nothing
);
CREATE INDEX IF NOT EXISTS usage_jobs_user_idx ON usage_jobs (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS usage_calls (
    event_id        uuid           NOT NULL,    -- the StageCompleted or StageFailed that recorded the call
    position        integer        NOT NULL,    -- the call's place among its attempt's calls
    job_id          uuid           NOT NULL,
    stage           text           NOT NULL,
    attempt         integer        NOT NULL,
    provider        text           NOT NULL,
    model           text           NOT NULL,
    prompt          text           NOT NULL,    -- template and version, e.g. draft.v1
    input_tokens    integer        NOT NULL,
    output_tokens   integer        NOT NULL,
    cached_tokens   integer        NOT NULL,
    cost_usd        numeric(20, 8) NOT NULL,
    occurred_at     timestamptz    NOT NULL,
    PRIMARY KEY (event_id, position)
);
CREATE INDEX IF NOT EXISTS usage_calls_job_idx ON usage_calls (job_id);
CREATE INDEX IF NOT EXISTS usage_calls_time_idx ON usage_calls (occurred_at);
