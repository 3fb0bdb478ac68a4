"""content_payloads: the output of each completed stage of a job, as JSON."""

from __future__ import annotations

import asyncpg

from projections.base import Record
from streams.events import StageCompleted
from streams.topics import JOB_EVENTS

UPSERT = """
INSERT INTO content_payloads (job_id, stage, attempt, kind, body, sequence, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
ON CONFLICT (job_id, stage) DO UPDATE SET
    attempt = EXCLUDED.attempt, kind = EXCLUDED.kind, body = EXCLUDED.body,
    sequence = EXCLUDED.sequence, created_at = EXCLUDED.created_at
WHERE content_payloads.sequence < EXCLUDED.sequence
"""


class PayloadsProjection:
    name = "payloads"
    sources = (JOB_EVENTS,)
    tables = ("content_payloads",)

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, StageCompleted)

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        rows = [
            (e.job_id, e.stage.value, e.attempt, e.output.kind, e.output.model_dump_json(), e.sequence, e.occurred_at)
            for r in records
            for e in [r.message]
        ]
        await conn.executemany(UPSERT, rows)
