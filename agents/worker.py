"""The stage worker's composition root: pool, producer, guard, actors, engine and the pacing timer, built once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agents import health
from agents.engine import Actors, Engine, EngineConfig, worker_consumer
from agents.guard import PgGuard
from agents.outage import Outage, database_unreachable, kafka_unreachable
from agents.pacing.ports import ScheduleSource
from agents.pacing.scheduler import Delivery, PacingScheduler, run_pacing
from agents.providers.base import ContentProvider
from agents.runner import DelayForwarder, Dispatcher, Emitter, JobControl, Message, SendMany, StageFn, StageRunner
from streams.topics import Topics
from streams.access import kafka_options

log = logging.getLogger("planperfect.worker")


@dataclass(frozen=True)
class WorkerConfig:
    bootstrap: str
    dsn: str
    topics: Topics
    engine: EngineConfig = EngineConfig()
    pacing_interval: float = 15.0
    pacing_catch_up: timedelta = timedelta(hours=6)
    pacing_delivery: Delivery = Delivery()
    linger_ms: int = 2  # concurrent attempts' messages go out in one batch


def kafka_sender(producer: AIOKafkaProducer, outage: Outage) -> SendMany:
    """A SendMany that puts every message in the producer's batches at once, in order, and returns their
    (partition, offset) once the broker acknowledged (acks=all) them all; while the broker is away it retries
    with backoff (a repeat is harmless: events have fixed ids, the guard drops repeats)."""

    async def send_many(messages: list[Message]) -> list[tuple[int, int]]:
        async def once():
            acks = [await producer.send(topic, value, key=key) for topic, key, value in messages]
            return await asyncio.gather(*acks)

        return [(meta.partition, meta.offset) for meta in await outage.call(once)]

    return send_many


async def _started(make, outage: Outage):
    """A client started, retrying (a new one each time) until its dependency answers."""

    async def attempt():
        client = make()
        try:
            await client.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await client.stop()
            raise
        return client

    return await outage.call(attempt)


class Stopped(Exception):
    """Told to stop while still waiting for a dependency at start."""


async def _unless_stopped(aw, stop: asyncio.Event):
    """`aw`'s result, unless `stop` is set first: a dependency that never comes must not hold up SIGTERM."""
    task = asyncio.ensure_future(aw)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise Stopped()


class _QuietWhileDown(logging.Filter):
    """While an outage of Kafka is known (and logged once), the client's own line per retry adds nothing."""

    def __init__(self, kafka: Outage) -> None:
        super().__init__()
        self.kafka = kafka

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.kafka.is_down and record.name.startswith("aiokafka"))


async def serve(config: WorkerConfig, provider: ContentProvider, stage_fn: StageFn, schedules: ScheduleSource,
                stop: asyncio.Event) -> Engine | None:
    """Run the worker until `stop` is set; Kafka or PostgreSQL going away only pauses it. None when stopped
    before both answered."""
    kafka = Outage(f"Kafka at {config.bootstrap}", kafka_unreachable)
    database = Outage("PostgreSQL", database_unreachable)
    quiet = _QuietWhileDown(kafka)
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
    async with contextlib.AsyncExitStack() as stack:
        try:
            pool = await _unless_stopped(
                database.call(lambda: asyncpg.create_pool(config.dsn, min_size=1, max_size=4)), stop)
            stack.push_async_callback(pool.close)
            producer = await _unless_stopped(_started(lambda: AIOKafkaProducer(
                **kafka_options(config.bootstrap), acks="all", enable_idempotence=True,
                # Batches of 1 MiB, not 16 KiB: a stage's messages carry its outputs, and a full batch makes every
                # sender to its partition wait for a drain.
                linger_ms=config.linger_ms, max_batch_size=1 << 20), kafka), stop)
            stack.push_async_callback(producer.stop)
        except Stopped:
            log.info("worker stopped while waiting for its dependencies")
            return None
        return await _run(config, provider, stage_fn, schedules, stop, kafka, database, pool, producer)


def _collect_less() -> None:
    """A worker holds many long-lived objects (the guard's cache, fetched batches, attempts in flight) and makes
    many short-lived ones; the cyclic collector's passes over the long-lived ones cost it a large share of its CPU
    (py-spy: allocation sites of every kind topping the profile). Reference counting frees almost everything here,
    so what start-up made is frozen out of collection and the youngest generation is collected less often."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _run(config: WorkerConfig, provider: ContentProvider, stage_fn: StageFn, schedules: ScheduleSource,
               stop: asyncio.Event, kafka: Outage, database: Outage, pool: asyncpg.Pool,
               producer: AIOKafkaProducer) -> Engine | None:
    guard = PgGuard(pool, database)
    guard.start()
    emit = Emitter(topics=config.topics, send_many=kafka_sender(producer, kafka))
    runner = StageRunner(emit=emit, guard=guard, provider=provider, stage_fn=stage_fn)
    actors = Actors(runner=runner, dispatcher=Dispatcher(emit=emit, guard=guard, locks=runner.locks),
                    forwarder=DelayForwarder(emit=emit, guard=guard, locks=runner.locks),
                    control=JobControl(emit=emit, guard=guard, runner=runner))

    async def settle_guard() -> None:
        # The next owner reads these jobs' rows: every accepted write is committed first, and the cache goes.
        try:
            await asyncio.wait_for(guard.quiesce(), config.engine.revoke_drain_seconds)
        except TimeoutError:
            log.error("guard: writes still pending after %.0f s at a rebalance", config.engine.revoke_drain_seconds)
        guard.forget()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.flush(), config.engine.revoke_drain_seconds)

    consumer: AIOKafkaConsumer = worker_consumer(config.bootstrap, config.topics.group("workers"), config.topics,
                                                 config.engine)
    engine = Engine(consumer, config.topics, actors, config.engine, kafka, database, on_revoked=settle_guard)
    runner.settled = engine.job_settled
    engine.subscribe()
    _collect_less()
    health.install(engine)
    try:
        try:
            await _unless_stopped(kafka.call(consumer.start), stop)
        except Stopped:
            return None
        scheduler = PacingScheduler(emit=emit, source=schedules, delivery=config.pacing_delivery,
                                    catch_up=config.pacing_catch_up)
        pacing = asyncio.create_task(run_pacing(scheduler, config.pacing_interval, stop), name="pacing-scheduler")
        try:
            await engine.run(stop)
        finally:
            pacing.cancel()
            await asyncio.gather(pacing, return_exceptions=True)
    finally:
        await guard.stop()
        await consumer.stop()
    return engine
