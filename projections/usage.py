"""usage_jobs and usage_calls: each model call of every stage attempt, and each job's totals and token budget."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from projections.base import Record
from streams.events import JobSubmitted, StageCompleted, StageFailed
from streams.pacing_payloads import PacingBrief
from streams.topics import JOB_EVENTS

SUBMITTED = """
INSERT INTO usage_jobs (job_id, job_type, user_id, token_budget, last_sequence)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
"""

# Totals grow by an attempt's calls once: the sequence guard makes a replayed or duplicated outcome change nothing.
ATTEMPT = """
UPDATE usage_jobs SET
    calls = calls + $2, input_tokens = input_tokens + $3, output_tokens = output_tokens + $4,
    cached_tokens = cached_tokens + $5, cost_usd = cost_usd + $6, last_sequence = $7
WHERE job_id = $1 AND last_sequence < $7
"""

CALL = """
INSERT INTO usage_calls (event_id, position, job_id, stage, attempt, provider, model, prompt, input_tokens,
                         output_tokens, cached_tokens, cost_usd, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT DO NOTHING
"""


class UsageProjection:
    name = "usage"
    sources = (JOB_EVENTS,)
    tables = ("usage_jobs", "usage_calls")

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (JobSubmitted, StageCompleted, StageFailed))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        submitted, attempts, calls = [], [], []
        for r in records:
            e = r.message
            if isinstance(e, JobSubmitted):
                user = e.brief.user_id if isinstance(e.brief, PacingBrief) else None
                submitted.append((e.job_id, e.job_type.value, user, e.token_budget, e.sequence))
                continue
            u = e.usage
            if not u.calls:  # offline, or a stage that asks no model: nothing to add
                continue
            cost = sum((Decimal(str(c.cost_usd)) for c in u.calls), Decimal(0))  # exactly what the calls sum to
            attempts.append((e.job_id, len(u.calls), u.input_tokens, u.output_tokens, u.cached_tokens, cost,
                             e.sequence))
            calls += [
                (e.event_id, i, e.job_id, e.stage.value, e.attempt, c.provider, c.model, c.prompt, c.input_tokens,
                 c.output_tokens, c.cached_tokens, Decimal(str(c.cost_usd)), e.occurred_at)
                for i, c in enumerate(u.calls)
            ]
        if submitted:
            await conn.executemany(SUBMITTED, submitted)
        if attempts:
            await conn.executemany(ATTEMPT, attempts)
        if calls:
            await conn.executemany(CALL, calls)
