-- Pacing: users' schedules and context (folded from pacing-events), and their daily analyses and generated
-- pieces (folded from the pacing jobs' events on job-events).

CREATE TABLE IF NOT EXISTS pacing_schedules (
    schedule_id     uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    time_zone       text        NOT NULL,
    local_times     text[]      NOT NULL,
    days_of_week    text[]      NOT NULL,
    content_types   text[]      NOT NULL,
    window_days     integer     NOT NULL,
    active          boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,
    last_offset     bigint      NOT NULL  -- position of the last event applied (one user: one partition)
);
CREATE INDEX IF NOT EXISTS pacing_schedules_user_idx ON pacing_schedules (user_id, created_at);
CREATE INDEX IF NOT EXISTS pacing_schedules_active_idx ON pacing_schedules (schedule_id) WHERE active AND deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS pacing_knowledge_documents (
    document_id     uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    title           text        NOT NULL,
    format          text        NOT NULL,
    body            text        NOT NULL,
    char_count      integer     NOT NULL,
    chunk_count     integer     NOT NULL,
    chunker_version integer     NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS pacing_knowledge_documents_user_idx ON pacing_knowledge_documents (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS pacing_meetings (
    meeting_id      uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    title           text        NOT NULL,
    held_on         date        NOT NULL,
    participants    text[]      NOT NULL,
    kind            text        NOT NULL,
    notes           text        NOT NULL,
    char_count      integer     NOT NULL,
    chunk_count     integer     NOT NULL,
    chunker_version integer     NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS pacing_meetings_user_idx ON pacing_meetings (user_id, held_on DESC);

-- Retrieval: full-text search in PostgreSQL itself; the heading weighs more than the text under it.
CREATE TABLE IF NOT EXISTS pacing_context_chunks (
    chunk_id        uuid PRIMARY KEY,
    user_id         text        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('knowledge', 'meeting')),
    source_id       uuid        NOT NULL,
    source_title    text        NOT NULL,
    position        integer     NOT NULL,
    heading         text,
    body            text        NOT NULL,
    source_date     date        NOT NULL,
    created_at      timestamptz NOT NULL,
    search          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(heading, '')), 'A') || setweight(to_tsvector('english', body), 'B')
    ) STORED,
    UNIQUE (source_id, position)
);
CREATE INDEX IF NOT EXISTS pacing_context_chunks_search_idx ON pacing_context_chunks USING GIN (search);
CREATE INDEX IF NOT EXISTS pacing_context_chunks_user_date_idx ON pacing_context_chunks (user_id, source_date);

-- One row per pacing job; the unique (user_id, local_date) is the database's guard of one analysis a day.
CREATE TABLE IF NOT EXISTS pacing_context_analysis (
    analysis_id         uuid PRIMARY KEY,  -- the pacing job's id
    user_id             text        NOT NULL,
    local_date          date        NOT NULL,
    slot                text        NOT NULL,
    trigger             text        NOT NULL,
    schedule_id         uuid,
    time_zone           text        NOT NULL,
    content_types       text[]      NOT NULL,
    window_days         integer     NOT NULL,
    status              text        NOT NULL,
    outcome             text,
    knowledge_context   jsonb,
    meeting_context     jsonb,
    topics              jsonb,
    content_suggestions jsonb,
    attempts            integer     NOT NULL DEFAULT 0,
    error               text,
    last_sequence       integer     NOT NULL,
    requested_at        timestamptz NOT NULL,
    started_at          timestamptz,
    completed_at        timestamptz,
    failed_at           timestamptz,
    updated_at          timestamptz NOT NULL,
    UNIQUE (user_id, local_date)
);
CREATE INDEX IF NOT EXISTS pacing_context_analysis_status_idx ON pacing_context_analysis (status);

-- One row per suggestion, pending until the write stage produces its piece.
CREATE TABLE IF NOT EXISTS pacing_content_generation (
    generation_id   uuid PRIMARY KEY,  -- the suggestion's id
    analysis_id     uuid        NOT NULL,
    user_id         text        NOT NULL,
    position        integer     NOT NULL,
    content_type    text        NOT NULL,
    topic           text        NOT NULL,
    title           text,
    body            text,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status          text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    error           text,
    last_sequence   integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    completed_at    timestamptz,
    failed_at       timestamptz,
    updated_at      timestamptz NOT NULL,
    UNIQUE (analysis_id, position)
);
CREATE INDEX IF NOT EXISTS pacing_content_generation_user_idx ON pacing_content_generation (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS pacing_content_generation_status_idx ON pacing_content_generation (status);
