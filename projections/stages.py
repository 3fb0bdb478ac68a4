"""content_job_stages: one row per stage of a job's pipeline, pending until it runs."""

from __future__ import annotations

import asyncpg

from projections.base import Record
from streams.events import JobSubmitted, StageCompleted, StageFailed, StageStarted
from streams.payloads import PIPELINES

PENDING = """
INSERT INTO content_job_stages (job_id, stage, position, status, attempts, max_attempts, last_sequence)
VALUES ($1, $2, $3, 'pending', 0, $4, $5)
ON CONFLICT DO NOTHING
"""

TRANSITION = """
UPDATE content_job_stages SET
    status = CASE $3 WHEN 'StageStarted' THEN 'running' WHEN 'StageCompleted' THEN 'completed'
                     ELSE 'failed' END,
    attempts = GREATEST(attempts, $4::int),
    started_at = CASE WHEN $3 = 'StageStarted' THEN $5 ELSE started_at END,
    visibility_timeout_at = CASE WHEN $3 = 'StageStarted' THEN $5 + make_interval(secs => $6::int)
                                 ELSE visibility_timeout_at END,
    completed_at = CASE WHEN $3 = 'StageCompleted' THEN $5 ELSE completed_at END,
    failed_at = CASE WHEN $3 = 'StageFailed' THEN $5 ELSE failed_at END,
    duration_ms = CASE WHEN $3 = 'StageStarted' THEN duration_ms ELSE $7::int END,
    last_error = CASE WHEN $3 = 'StageFailed' THEN $8::text ELSE last_error END,
    last_sequence = $9
WHERE job_id = $1 AND stage = $2 AND last_sequence < $9
"""


class StagesProjection:
    name = "stages"

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (JobSubmitted, StageStarted, StageCompleted, StageFailed))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        pending, updates = [], []
        for r in records:
            e = r.message
            match e:
                case JobSubmitted():
                    for pos, stage in enumerate(PIPELINES[e.job_type], start=1):
                        pending.append((e.job_id, stage.value, pos, e.max_attempts, e.sequence))
                case StageStarted():
                    updates.append((e.job_id, e.stage.value, e.type, e.attempt, e.occurred_at,
                                    e.time_limit_seconds, None, None, e.sequence))
                case StageCompleted():
                    updates.append((e.job_id, e.stage.value, e.type, e.attempt, e.occurred_at,
                                    None, e.duration_ms, None, e.sequence))
                case StageFailed():
                    updates.append((e.job_id, e.stage.value, e.type, e.attempt, e.occurred_at,
                                    None, e.duration_ms, f"{e.error_code}: {e.error}", e.sequence))
        if pending:
            await conn.executemany(PENDING, pending)
        if updates:
            await conn.executemany(TRANSITION, updates)
