"""Test helpers over a job event log (built by planperfect.bench.eventlog): produce it, read the tables back."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaProducer

from planperfect.bench.eventlog import T0, job_events  # noqa: F401  (the one log builder, shared with `bench`)
from streams.codec import encode, key_for
from streams.access import kafka_options

async def produce(bootstrap: str, topic: str, events: list, extra_raw: list[bytes] = ()) -> int:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, encode(e), key=key_for(e.job_id)) for e in events]
        futures += [await producer.send(topic, raw, key=b"poison") for raw in extra_raw]
        for f in futures:
            await f
    finally:
        await producer.stop()
    return len(futures)


READ_MODEL_TABLES = {
    "content_jobs": "job_id",
    "content_job_stages": "job_id, stage",
    "content_events": "job_id, sequence",
    "content_payloads": "job_id, stage",
    "content_dead_letters": "dead_letter_id",
    "content_dead_letter_redrives": "dead_letter_id",
    "usage_jobs": "job_id",
    "usage_calls": "event_id, position",
}


async def dump(dsn: str, *, without_positions: bool = False) -> dict[str, list[tuple]]:
    """Every read-model row, ordered, for comparing two databases (Kafka positions left out on request)."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = {}
        for table, order in READ_MODEL_TABLES.items():
            rows = await conn.fetch(f"SELECT * FROM {table} ORDER BY {order}")
            drop = {"kafka_partition", "kafka_offset", "kafka_topic", "dead_lettered_at"} if without_positions else set()
            tables[table] = [tuple(v for k, v in r.items() if k not in drop) for r in rows]
        return tables
    finally:
        await conn.close()
