"""content_jobs: one row per job with its current status, stage, attempts and timestamps."""

from __future__ import annotations

import json

import asyncpg

from projections.base import Record
from streams.events import EVENT_CLASSES, JobDeadLettered, JobSubmitted, StageFailed
from streams.topics import JOB_EVENTS

SUBMITTED = """
INSERT INTO content_jobs (job_id, job_type, status, current_stage, requester_email, title, brief, priority,
                          max_attempts, retry_delay_seconds, visibility_seconds, delay_seconds, idempotency_key,
                          correlation_id, last_sequence, queued_at, available_at, updated_at, tenant, submitted_by,
                          request_fingerprint)
VALUES ($1, $2, 'queued', $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11::int, $12, $13, $14, $15::timestamptz,
        $15::timestamptz + make_interval(secs => $11::int), $15::timestamptz, $16, $17, $18)
ON CONFLICT DO NOTHING
"""

# One statement for every later event, run in log order; the sequence guard makes a replay or a
# duplicate change nothing, so the table is the same however the log is cut into batches.
TRANSITION = """
UPDATE content_jobs SET
    status = CASE $2
        WHEN 'StageStarted' THEN 'running'
        WHEN 'StageCompleted' THEN CASE WHEN $3::text IS NULL THEN status ELSE 'queued' END
        WHEN 'StageFailed' THEN 'retrying'
        WHEN 'RetryScheduled' THEN 'retrying'
        WHEN 'JobCompleted' THEN 'completed'
        WHEN 'JobDeadLettered' THEN 'dead_lettered'
        WHEN 'JobRedriven' THEN 'queued'
        WHEN 'JobCancelled' THEN 'cancelled'
        ELSE status END,
    current_stage = CASE $2
        WHEN 'StageStarted' THEN $4::text
        WHEN 'StageCompleted' THEN COALESCE($3::text, current_stage)
        WHEN 'JobRedriven' THEN $4::text
        ELSE current_stage END,
    attempts = CASE $2
        WHEN 'StageStarted' THEN $5::int
        WHEN 'StageCompleted' THEN CASE WHEN $3::text IS NULL THEN attempts ELSE 0 END
        WHEN 'JobRedriven' THEN 0
        ELSE attempts END,
    available_at = CASE WHEN $2 = 'RetryScheduled' THEN $9::timestamptz ELSE available_at END,
    dequeued_at = CASE WHEN $2 = 'StageStarted' THEN COALESCE(dequeued_at, $7) ELSE dequeued_at END,
    completed_at = CASE WHEN $2 = 'JobCompleted' THEN $7 ELSE completed_at END,
    failed_at = CASE WHEN $2 = 'JobDeadLettered' THEN $7 ELSE failed_at END,
    dead_lettered_at = CASE WHEN $2 = 'JobDeadLettered' THEN $7 ELSE dead_lettered_at END,
    cancelled_at = CASE WHEN $2 = 'JobCancelled' THEN $7 ELSE cancelled_at END,
    last_error = CASE WHEN $2 IN ('StageFailed', 'JobDeadLettered') THEN $6::text ELSE last_error END,
    last_sequence = $8,
    updated_at = $7
WHERE job_id = $1 AND last_sequence < $8
"""

TRANSITIONS = tuple(cls for cls in EVENT_CLASSES if cls is not JobSubmitted)


class JobsProjection:
    name = "jobs"
    sources = (JOB_EVENTS,)
    tables = ("content_jobs",)

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (JobSubmitted, *TRANSITIONS))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        inserts, updates = [], []
        for r in records:
            e = r.message
            if isinstance(e, JobSubmitted):
                inserts.append((
                    e.job_id, e.job_type.value, e.initial_stage.value, e.requester_email, e.brief.title,
                    json.dumps(e.brief.model_dump(mode="json")), e.priority, e.max_attempts,
                    e.retry_delay_seconds, e.visibility_seconds, e.delay_seconds, e.idempotency_key,
                    e.correlation_id, e.sequence, e.occurred_at, e.tenant, e.submitted_by, e.request_fingerprint,
                ))
            else:
                updates.append(_transition(e))
        if inserts:
            await conn.executemany(SUBMITTED, inserts)
        if updates:
            await conn.executemany(TRANSITION, updates)


def _transition(e) -> tuple:
    stage = getattr(e, "stage", None)
    next_stage = getattr(e, "next_stage", None)
    match e:
        case StageFailed():
            error = f"{e.error_code}: {e.error}"
        case JobDeadLettered():
            error = e.reason
        case _:
            error = None
    return (
        e.job_id, e.type, next_stage.value if next_stage else None, stage.value if stage else None,
        getattr(e, "attempt", None), error, e.occurred_at, e.sequence, getattr(e, "due_at", None),
    )
