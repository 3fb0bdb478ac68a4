"""content_events: every event of every job, once, in sequence order."""

from __future__ import annotations

import asyncpg

from projections.base import Record
from streams.events import EVENT_TYPES
from streams.topics import JOB_EVENTS

INSERT = """
INSERT INTO content_events (event_id, job_id, sequence, type, schema_version, occurred_at,
                            correlation_id, causation_id, body, kafka_topic, kafka_partition, kafka_offset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12)
ON CONFLICT DO NOTHING
"""


class EventsProjection:
    name = "events"
    sources = (JOB_EVENTS,)
    tables = ("content_events",)

    def wants(self, record: Record) -> bool:
        return getattr(record.message, "type", None) in EVENT_TYPES

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        rows = [
            (
                e.event_id, e.job_id, e.sequence, e.type, e.schema_version, e.occurred_at,
                e.correlation_id, e.causation_id, e.model_dump_json(), r.topic, r.partition, r.offset,
            )
            for r in records
            for e in [r.message]
        ]
        await conn.executemany(INSERT, rows)
