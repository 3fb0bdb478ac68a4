"""content_dead_letters and their redrives: every dead-lettered message with its reason, error and original bytes."""

from __future__ import annotations

import base64

import asyncpg

from projections.base import Record
from streams.deadletters import DeadLettered
from streams.events import JobRedriven
from streams.topics import DEAD_LETTERS, JOB_EVENTS

INSERT = """
INSERT INTO content_dead_letters (dead_letter_id, job_id, stage, reason, error, attempts, original, raw,
                                  source_topic, source_partition, source_offset, status, dead_lettered_at,
                                  next_sequence)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, 'dead', $12, $13)
ON CONFLICT DO NOTHING
"""
REDRIVEN = """
INSERT INTO content_dead_letter_redrives (dead_letter_id, job_id, sequence, redriven_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""


class DeadLettersProjection:
    name = "dead_letters"
    sources = (DEAD_LETTERS, JOB_EVENTS)
    tables = ("content_dead_letters", "content_dead_letter_redrives")

    def wants(self, record: Record) -> bool:
        return isinstance(record.message, (DeadLettered, JobRedriven))

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        rows, redriven = [], []
        for r in records:
            d = r.message
            if isinstance(d, JobRedriven):
                redriven.append((d.dead_letter_id, d.job_id, d.sequence, d.occurred_at))
                continue
            rows.append((
                d.dead_letter_id, d.job_id, d.stage.value if d.stage else None, d.reason, d.error, d.attempts,
                d.original.model_dump_json() if d.original else None,
                base64.b64decode(d.raw_base64) if d.raw_base64 else None,
                d.source_topic, d.source_partition, d.source_offset, d.dead_lettered_at, d.next_sequence,
            ))
        if rows:
            await conn.executemany(INSERT, rows)
        if redriven:
            await conn.executemany(REDRIVEN, redriven)
