"""pacing_context_analysis: one row per pacing job, from its JobSubmitted to its analyze stage's outcome."""

from __future__ import annotations

import json

import asyncpg

from projections.base import Record
from streams.events import (
    JobCancelled, JobDeadLettered, JobRedriven, JobSubmitted, RetryScheduled, StageCompleted, StageFailed, StageStarted,
)
from streams.pacing_payloads import ContextAnalysis, PacingBrief
from streams.payloads import JobType, Stage
from streams.topics import JOB_EVENTS

REQUESTED = """
INSERT INTO pacing_context_analysis (analysis_id, user_id, local_date, slot, trigger, schedule_id, time_zone,
                                     content_types, window_days, status, last_sequence, requested_at, updated_at,
                                     submitted_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $11, $11, $12)
ON CONFLICT DO NOTHING
"""

# Every later event of the analyze stage, in log order; the sequence guard makes a replay change nothing.
TRANSITION = """
UPDATE pacing_context_analysis SET
    status = CASE $2
        WHEN 'StageStarted' THEN 'running'
        WHEN 'StageFailed' THEN 'retrying'
        WHEN 'RetryScheduled' THEN 'retrying'
        WHEN 'StageCompleted' THEN 'completed'
        WHEN 'JobDeadLettered' THEN 'dead_lettered'
        WHEN 'JobRedriven' THEN 'queued'
        WHEN 'JobCancelled' THEN CASE WHEN status = 'completed' THEN status ELSE 'cancelled' END
        ELSE status END,
    attempts = GREATEST(attempts, COALESCE($3::int, 0)),
    error = CASE
        WHEN $2 IN ('StageFailed', 'JobDeadLettered') THEN $4::text
        WHEN $2 = 'StageCompleted' THEN NULL
        ELSE error END,
    outcome = COALESCE($5, outcome),
    knowledge_context = COALESCE($6::jsonb, knowledge_context),
    meeting_context = COALESCE($7::jsonb, meeting_context),
    topics = COALESCE($8::jsonb, topics),
    content_suggestions = COALESCE($9::jsonb, content_suggestions),
    started_at = CASE WHEN $2 = 'StageStarted' THEN COALESCE(started_at, $10) ELSE started_at END,
    completed_at = CASE WHEN $2 = 'StageCompleted' THEN $10 ELSE completed_at END,
    failed_at = CASE WHEN $2 IN ('StageFailed', 'JobDeadLettered') THEN $10 ELSE failed_at END,
    last_sequence = $11,
    updated_at = $10
WHERE analysis_id = $1 AND last_sequence < $11
"""

ANALYZE_EVENTS = (StageStarted, StageFailed, RetryScheduled, StageCompleted, JobDeadLettered, JobRedriven)


class PacingAnalysesProjection:
    name = "pacing_analyses"
    sources = (JOB_EVENTS,)
    tables = ("pacing_context_analysis",)

    def wants(self, record: Record) -> bool:
        e = record.message
        if isinstance(e, JobSubmitted):
            return e.job_type is JobType.PACING
        if isinstance(e, JobCancelled):
            return e.stage in (None, Stage.ANALYZE)
        return isinstance(e, ANALYZE_EVENTS) and e.stage is Stage.ANALYZE

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        requested, transitions = [], []
        for r in records:
            e = r.message
            if isinstance(e, JobSubmitted):
                b = e.brief
                assert isinstance(b, PacingBrief)
                requested.append((e.job_id, b.user_id, b.local_date, b.slot, b.trigger, b.schedule_id, b.time_zone,
                                  [t.value for t in b.content_types], b.window_days, e.sequence, e.occurred_at,
                                  e.submitted_by))
            else:
                transitions.append(_transition(e))
        if requested:
            await conn.executemany(REQUESTED, requested)
        if transitions:
            await conn.executemany(TRANSITION, transitions)


def _transition(e) -> tuple:
    error = None
    if isinstance(e, StageFailed):
        error = f"{e.error_code}: {e.error}"
    elif isinstance(e, JobDeadLettered):
        error = e.reason
    out = e.output if isinstance(e, StageCompleted) and isinstance(e.output, ContextAnalysis) else None
    return (
        e.job_id, e.type, getattr(e, "attempt", None), error,
        out.outcome.value if out else None,
        out.knowledge_context.model_dump_json() if out else None,
        out.meeting_context.model_dump_json() if out else None,
        json.dumps([t.model_dump(mode="json") for t in out.topics]) if out else None,
        json.dumps([s.model_dump(mode="json") for s in out.suggestions]) if out else None,
        e.occurred_at, e.sequence,
    )
