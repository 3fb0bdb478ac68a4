"""content_job_stages: one row per stage of a job's pipeline, pending until it runs."""

from __future__ import annotations

import asyncpg

from projections.base import Record
from streams.events import (
    JobCancelled, JobDeadLettered, JobRedriven, JobSubmitted, RetryScheduled, StageCompleted, StageExtended,
    StageFailed, StageReturned, StageStarted,
)
from streams.payloads import PIPELINES
from streams.topics import JOB_EVENTS

PENDING = """
INSERT INTO content_job_stages (job_id, stage, position, status, attempts, max_attempts, last_sequence)
VALUES ($1, $2, $3, 'pending', 0, $4, $5)
ON CONFLICT DO NOTHING
"""

TRANSITION = """
UPDATE content_job_stages SET
    status = CASE $3
        WHEN 'StageStarted' THEN 'running'
        WHEN 'StageExtended' THEN status
        WHEN 'StageCompleted' THEN 'completed'
        WHEN 'StageFailed' THEN 'failed'
        WHEN 'RetryScheduled' THEN 'retrying'
        WHEN 'JobDeadLettered' THEN 'dead_lettered'
        WHEN 'JobRedriven' THEN 'queued'
        WHEN 'StageReturned' THEN 'returned'
        WHEN 'JobCancelled' THEN CASE WHEN status = 'completed' THEN status ELSE 'cancelled' END
        ELSE status END,
    attempts = GREATEST(attempts, COALESCE($4::int, 0)),
    started_at = CASE WHEN $3 = 'StageStarted' THEN $5 ELSE started_at END,
    visibility_timeout_at = CASE
        WHEN $3 = 'StageStarted' THEN $5 + $6::bigint * interval '1 millisecond'
        WHEN $3 = 'StageExtended' THEN $10::timestamptz
        ELSE visibility_timeout_at END,
    completed_at = CASE WHEN $3 = 'StageCompleted' THEN $5 ELSE completed_at END,
    failed_at = CASE WHEN $3 = 'StageFailed' THEN $5 ELSE failed_at END,
    duration_ms = CASE WHEN $3 IN ('StageCompleted', 'StageFailed') THEN $7::int ELSE duration_ms END,
    last_error = CASE WHEN $3 = 'StageFailed' THEN $8::text ELSE last_error END,
    last_sequence = $9
WHERE job_id = $1 AND stage = $2 AND last_sequence < $9
"""

STAGE_EVENTS = (StageStarted, StageExtended, StageCompleted, StageFailed, RetryScheduled, JobDeadLettered,
                JobRedriven, JobCancelled, StageReturned)


class StagesProjection:
    name = "stages"
    sources = (JOB_EVENTS,)
    tables = ("content_job_stages",)

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (JobSubmitted, *STAGE_EVENTS))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        pending, updates = [], []
        for r in records:
            e = r.message
            if isinstance(e, JobSubmitted):
                for pos, stage in enumerate(PIPELINES[e.job_type], start=1):
                    pending.append((e.job_id, stage.value, pos, e.max_attempts, e.sequence))
            elif getattr(e, "stage", None) is not None:
                error = f"{e.error_code}: {e.error}" if isinstance(e, StageFailed) else None
                updates.append((
                    e.job_id, e.stage.value, e.type, getattr(e, "attempt", None), e.occurred_at,
                    getattr(e, "time_limit_ms", None), getattr(e, "duration_ms", None), error, e.sequence,
                    getattr(e, "deadline_at", None),
                ))
        if pending:
            await conn.executemany(PENDING, pending)
        if updates:
            await conn.executemany(TRANSITION, updates)
