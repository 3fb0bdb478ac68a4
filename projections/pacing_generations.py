"""pacing_content_generation: one row per suggestion of an analysis, pending until the write stage produces it."""

from __future__ import annotations

import json

import asyncpg

from projections.base import Record
from streams.events import (
    JobCancelled, JobDeadLettered, JobRedriven, RetryScheduled, StageCompleted, StageFailed, StageStarted,
)
from streams.pacing_payloads import ContextAnalysis, GeneratedPiece, Generations
from streams.payloads import Stage
from streams.topics import JOB_EVENTS

SUGGESTED = """
INSERT INTO pacing_content_generation (generation_id, analysis_id, user_id, position, content_type, topic, metadata,
                                       status, last_sequence, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'pending', $8, $9, $9)
ON CONFLICT DO NOTHING
"""

# The write stage's life, applied to every piece of its analysis not yet written, in log order.
TRANSITION = """
UPDATE pacing_content_generation SET
    status = CASE $2
        WHEN 'StageStarted' THEN 'running'
        WHEN 'StageFailed' THEN 'retrying'
        WHEN 'RetryScheduled' THEN 'retrying'
        WHEN 'JobDeadLettered' THEN 'dead_lettered'
        WHEN 'JobRedriven' THEN 'pending'
        WHEN 'JobCancelled' THEN 'cancelled'
        ELSE status END,
    attempts = GREATEST(attempts, COALESCE($3::int, 0)),
    error = CASE WHEN $2 IN ('StageFailed', 'JobDeadLettered') THEN $4::text ELSE error END,
    started_at = CASE WHEN $2 = 'StageStarted' THEN COALESCE(started_at, $5) ELSE started_at END,
    failed_at = CASE WHEN $2 IN ('StageFailed', 'JobDeadLettered') THEN $5 ELSE failed_at END,
    last_sequence = $6,
    updated_at = $5
WHERE analysis_id = $1 AND status <> 'completed' AND last_sequence < $6
"""

# The row was created, with its user and position, by the analysis that suggested it (earlier in the log).
WRITTEN = """
UPDATE pacing_content_generation SET
    title = $2, body = $3, metadata = metadata || $4::jsonb, status = 'completed', error = NULL,
    attempts = GREATEST(attempts, $5), last_sequence = $6, completed_at = $7, updated_at = $7
WHERE generation_id = $1 AND last_sequence < $6
"""

WRITE_EVENTS = (StageStarted, StageFailed, RetryScheduled, JobDeadLettered, JobRedriven, JobCancelled)


class PacingGenerationsProjection:
    name = "pacing_generations"
    sources = (JOB_EVENTS,)
    tables = ("pacing_content_generation",)

    def wants(self, record: Record) -> bool:
        e = record.message
        if isinstance(e, StageCompleted):
            return e.stage in (Stage.ANALYZE, Stage.WRITE)
        return isinstance(e, WRITE_EVENTS) and e.stage is Stage.WRITE

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        # Suggestions first, then the write stage's transitions, then the pieces: within one job that is
        # also log order, since a job's write events all follow its analysis and precede nothing of it.
        suggested, transitions, written = [], [], []
        for r in records:
            e = r.message
            if isinstance(e, StageCompleted) and isinstance(e.output, ContextAnalysis):
                suggested += [
                    (s.suggestion_id, e.job_id, e.output.user_id, i, s.content_type.value, s.topic,
                     json.dumps({"confidence": s.confidence, "reasoning": s.reasoning,
                                 "suggested_chunk_ids": [str(c) for c in s.chunk_ids]}),
                     e.sequence, e.occurred_at)
                    for i, s in enumerate(e.output.suggestions)
                ]
            elif isinstance(e, StageCompleted) and isinstance(e.output, Generations):
                written += [_written(e, p) for p in e.output.pieces]
            elif not isinstance(e, StageCompleted):
                error = (f"{e.error_code}: {e.error}" if isinstance(e, StageFailed)
                         else e.reason if isinstance(e, (JobDeadLettered, JobCancelled)) else None)
                transitions.append((e.job_id, e.type, getattr(e, "attempt", None), error, e.occurred_at, e.sequence))
        if suggested:
            await conn.executemany(SUGGESTED, suggested)
        if transitions:
            await conn.executemany(TRANSITION, transitions)
        if written:
            await conn.executemany(WRITTEN, written)


def _written(e: StageCompleted, p: GeneratedPiece) -> tuple:
    metadata = {
        "query": p.query, "word_count": p.word_count, "char_count": p.char_count,
        "cited_chunk_ids": [str(c) for c in p.cited_chunk_ids],
        "sources": [s.model_dump(mode="json") for s in p.sources],
    }
    return (p.generation_id, p.title, p.body, json.dumps(metadata), e.attempt, e.sequence, e.occurred_at)
