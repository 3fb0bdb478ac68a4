-- Read models of the content pipeline, folded from the job event log by projections/.

CREATE TABLE IF NOT EXISTS content_jobs (
    job_id              uuid PRIMARY KEY,
    job_type            text        NOT NULL,
    status              text        NOT NULL,
    current_stage       text,
    requester_email     text        NOT NULL,
    title               text        NOT NULL,
    brief               jsonb       NOT NULL,
    priority            integer     NOT NULL DEFAULT 0,
    attempts            integer     NOT NULL DEFAULT 0,
    max_attempts        integer     NOT NULL,
    retry_delay_seconds integer     NOT NULL,
    visibility_seconds  integer     NOT NULL,
    delay_seconds       integer     NOT NULL DEFAULT 0,
    idempotency_key     text UNIQUE,
    correlation_id      uuid        NOT NULL,
    last_sequence       integer     NOT NULL,
    last_error          text,
    queued_at           timestamptz NOT NULL,
    available_at        timestamptz NOT NULL,
    dequeued_at         timestamptz,
    completed_at        timestamptz,
    failed_at           timestamptz,
    dead_lettered_at    timestamptz,
    cancelled_at        timestamptz,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS content_jobs_status_idx ON content_jobs (status, queued_at DESC, job_id);
CREATE INDEX IF NOT EXISTS content_jobs_stage_idx ON content_jobs (current_stage, queued_at DESC, job_id);
CREATE INDEX IF NOT EXISTS content_jobs_queued_idx ON content_jobs (queued_at DESC, job_id);

CREATE TABLE IF NOT EXISTS content_job_stages (
    job_id              uuid        NOT NULL,
    stage               text        NOT NULL,
    position            integer     NOT NULL,
    status              text        NOT NULL,
    attempts            integer     NOT NULL DEFAULT 0,
    max_attempts        integer     NOT NULL,
    last_sequence       integer     NOT NULL,
    started_at          timestamptz,
    visibility_timeout_at timestamptz,
    completed_at        timestamptz,
    failed_at           timestamptz,
    duration_ms         integer,
    last_error          text,
    PRIMARY KEY (job_id, stage)
);

CREATE TABLE IF NOT EXISTS content_events (
    event_id        uuid PRIMARY KEY,
    job_id          uuid        NOT NULL,
    sequence        integer     NOT NULL,
    type            text        NOT NULL,
    schema_version  integer     NOT NULL,
    occurred_at     timestamptz NOT NULL,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    body            jsonb       NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    UNIQUE (job_id, sequence)
);

CREATE TABLE IF NOT EXISTS content_payloads (
    job_id      uuid        NOT NULL,
    stage       text        NOT NULL,
    attempt     integer     NOT NULL,
    kind        text        NOT NULL,
    body        jsonb       NOT NULL,
    sequence    integer     NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (job_id, stage)
);

CREATE TABLE IF NOT EXISTS content_dead_letters (
    dead_letter_id  uuid PRIMARY KEY,
    job_id          uuid,
    stage           text,
    reason          text        NOT NULL,
    error           text,
    attempts        integer     NOT NULL DEFAULT 0,
    original        jsonb,
    raw             bytea,
    source_topic    text        NOT NULL,
    source_partition integer,
    source_offset   bigint,
    status          text        NOT NULL DEFAULT 'dead',
    dead_lettered_at timestamptz NOT NULL,
    redriven_at     timestamptz
);
CREATE INDEX IF NOT EXISTS content_dead_letters_job_idx ON content_dead_letters (job_id);

-- Where each projection stands in each partition; written in the same transaction as its rows.
CREATE TABLE IF NOT EXISTS projection_offsets (
    projection  text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
