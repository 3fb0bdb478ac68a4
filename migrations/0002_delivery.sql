-- Delivery guarantees: where a redriven job continues its sequence, and the redrives themselves.

ALTER TABLE content_dead_letters ADD COLUMN IF NOT EXISTS next_sequence integer;
CREATE INDEX IF NOT EXISTS content_dead_letters_time_idx ON content_dead_letters (dead_lettered_at DESC, dead_letter_id);

-- Kept apart from the dead letters: the two come from different topics, so either may be read first.
CREATE TABLE IF NOT EXISTS content_dead_letter_redrives (
    dead_letter_id  uuid PRIMARY KEY,
    job_id          uuid        NOT NULL,
    sequence        integer     NOT NULL,
    redriven_at     timestamptz NOT NULL
);
