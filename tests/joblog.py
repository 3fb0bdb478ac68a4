"""Builds a realistic job event log in-process (the same transitions and handlers the agents use) and reads tables back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
from aiokafka import AIOKafkaProducer

from agents import transitions
from agents.context import StageContext, StageInput
from agents.errors import TransientError
from agents.handlers import run_stage
from agents.providers.offline import OfflineProvider
from streams.codec import encode, key_for
from streams.commands import RequestStage
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import Brief, JobType, PIPELINES

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


async def job_events(n: int, *, fail_every: int = 0) -> list:
    """Events of `n` finished jobs; every `fail_every`-th job fails its draft once before succeeding."""
    provider = OfflineProvider()
    out = []
    for i in range(n):
        job_type = JobType.SCHEMA if i % 4 == 3 else JobType.ARTICLE
        job_id = uuid.UUID(int=i + 1)
        now = T0 + timedelta(minutes=i)
        brief = Brief(title=f"Field notes on topic number {i}", keywords=["topic", f"angle {i % 5}"], word_count=400)
        sub = JobSubmitted(
            event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=now, correlation_id=job_id,
            job_type=job_type, requester_email="a@example.com", brief=brief, initial_stage=PIPELINES[job_type][0],
            priority=5, delay_seconds=0, max_attempts=3, retry_delay_seconds=1, visibility_seconds=60,
        )
        out.append(sub)
        req: RequestStage | None = transitions.first_request(sub, now)
        failed_once = False
        while isinstance(req, RequestStage):
            now += timedelta(seconds=1)
            begun = transitions.started(req, now)
            out.append(begun)
            seq = begun.sequence + 1
            if fail_every and i % fail_every == 0 and req.stage.value == "draft" and not failed_once:
                failed_once = True
                events, retry = transitions.failed(req, begun, seq, TransientError("provider timed out"), 5, now)
                out.extend(events)
                req = retry.request if hasattr(retry, "request") else retry
                continue
            inp = StageInput(job_id=job_id, job_type=job_type, stage=req.stage, attempt=req.attempt,
                             brief=brief, outputs=req.outputs)
            output = await run_stage(inp, StageContext(provider=provider, clock=lambda: now))
            done, after = transitions.completed(req, begun, seq, output, 3, now)
            out.append(done)
            if isinstance(after, RequestStage):
                req = after
            else:
                out.append(after)
                req = None
    return out


async def produce(bootstrap: str, topic: str, events: list, extra_raw: list[bytes] = ()) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
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
