"""`bench projections`: the live projector folding a log of real job events, then a rebuild of it from offset 0.

The log is the offline pipeline's events (`eventlog.job_events`, 400-word articles and schema jobs, some
drafts retried) copied under fresh job ids until it holds the events asked for.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Iterator

import asyncpg
from aiokafka import AIOKafkaProducer

from planperfect.bench.deployment import deployment
from planperfect.bench.eventlog import job_events
from planperfect.bench.report import Result
from planperfect.migrate import load_migrations
from planperfect.settings import Settings
from projections.rebuild import rebuild
from projections.replay import LogHead, catch_up
from projections.runner import ProjectionRunner
from streams.codec import encode, key_for
from streams.envelope import event_id_for
from streams.pacing_events import pacing_key
from streams.topics import Topics
from streams.access import kafka_options

TEMPLATE_JOBS = 200
EVENTS_PER_JOB = 14  # about: a small log needs fewer template jobs, and building them is the slow part


async def synthesise(count: int) -> list:
    """`count`+ events: real jobs from the offline pipeline, copied under fresh job ids."""
    return [e for part in copies(await template(count), count) for e in part]


async def template(count: int) -> list:
    """The real jobs a log of `count` events is copied from."""
    return await job_events(min(TEMPLATE_JOBS, max(8, count // EVENTS_PER_JOB)), fail_every=7)


def copies(jobs: list, count: int) -> Iterator[list]:
    """`jobs` copied under fresh job ids, one list per copy, until the copies hold `count`+ events: a log of a
    million events is made and sent a copy at a time, never held whole."""
    made = copy = 0
    while made < count:
        copy += 1
        renamed: dict[uuid.UUID, uuid.UUID] = {}
        part = []
        for e in jobs:
            job = uuid.UUID(int=copy * 1_000_000 + e.job_id.int)
            event_id = event_id_for(job, e.sequence)
            renamed[e.event_id] = event_id
            part.append(e.model_copy(update={
                "job_id": job, "event_id": event_id, "correlation_id": job,
                "causation_id": renamed.get(e.causation_id, e.causation_id),
            }))
        made += len(part)
        yield part


async def produce_fast(bootstrap: str, topic: str, events: Iterable, *, window: int = 20_000) -> int:
    """Send `events` (acks=all); at most `window` unacknowledged at once, so an iterator of any length fits in
    memory. Returns how many were sent."""
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=1 << 20, max_request_size=4 << 20)
    await producer.start()
    sent = 0
    try:
        pending = []
        for e in events:
            # Job events are keyed by job, pacing events by user: each lands where the live producers put it.
            key = pacing_key(e.user_id) if hasattr(e, "user_id") else key_for(e.job_id)
            pending.append(await producer.send(topic, encode(e), key=key))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending = []
        await asyncio.gather(*pending)
        return sent + len(pending)
    finally:
        await producer.stop()


async def fold_live(bootstrap: str, dsn: str, topics: Topics, echo: Callable[[str], None]) -> int:
    runner = ProjectionRunner(bootstrap=bootstrap, dsn=dsn, topics=topics)
    await runner.start()
    conn = await asyncpg.connect(dsn)
    try:
        async with LogHead(bootstrap, runner.sources) as head:
            return await catch_up(runner, conn, "public", [p.name for p in runner.projections], head,
                                  echo=echo, timeout=3600, label="live projector")
    finally:
        await conn.close()
        await runner.stop()


async def run_projections(base: Settings, *, events: int, batch_size: int = 1000,
                          echo: Callable[[str], None] = print) -> Result:
    result = Result("projections: live projector and rebuild")
    async with deployment(base, "projections") as dep:
        bootstrap, dsn = dep.settings.kafka(), dep.settings.database()
        topics = dep.settings.topics()
        began = time.perf_counter()
        jobs = await template(events)
        made = await produce_fast(bootstrap, topics.job_events, (e for part in copies(jobs, events) for e in part))
        echo(f"projections: made and produced {made:,} events in {time.perf_counter() - began:.1f}s")
        began = time.perf_counter()
        folded = await fold_live(bootstrap, dsn, topics, echo)
        live_s = time.perf_counter() - began
        ddl = [(f"{m.version:04d}_{m.name}", m.sql) for m in load_migrations()]
        rebuilt = await rebuild(bootstrap, dsn, topics, ddl, batch_size=batch_size, echo=echo)
        if not (rebuilt.swapped and rebuilt.comparison.same):
            raise RuntimeError("the rebuilt read model differs from the live one")
    result.add("live_events_per_s", f"live projector: events/s ({folded:,} events, batch 500)", folded / live_s,
               "events/s")
    result.add("rebuild_events_per_s", f"rebuild: events/s ({rebuilt.events:,} events, batch {batch_size})",
               rebuilt.rate, "events/s")
    result.notes.append("rebuild: replay into a shadow schema up to the live head; compare and swap not timed")
    return result
