"""The Faust agents: per stage and lane, per delay tier, the dispatcher and job control; each only moves messages."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import UUID

import faust
from faust.types import TP

from agents.diagnostics import install as install_diagnostics
from agents.progress import Progress, carry_location, supersedes
from agents.redelivery import Redeliverer, kafka_reader
from agents.watchdog import EXIT_WEDGED, EndOffsets, FetchWatchdog
from agents.runner import DelayForwarder, Dispatcher, Emitter, JobControl, StageRunner
from streams.payloads import Stage
from streams.topics import DELAY_TIERS, PARTITIONS, Lane, Topics

log = logging.getLogger("planperfect.agents")

# How many requests of one stage a worker works on at once, per lane: high-priority jobs get the
# most room and never queue behind the low lane's backlog; the low lane always keeps one slot.
LANE_WEIGHT = {Lane.HIGH: 1.0, Lane.NORMAL: 0.5, Lane.LOW: 0.25}
DELAY_CONCURRENCY = 256
DISPATCH_CONCURRENCY = 16  # held messages only sleep; each needs a slot to wait in
REVOKE_DRAIN_SECONDS = 8.0  # how long a rebalance waits for running attempts (under the 10 s session timeout)
REDELIVERY_INTERVAL = 10.0  # seconds between sweeps for requests the consumer lost (two sweeps confirm one)
WATCHDOG_INTERVAL = 5.0  # seconds between checks that the consumer delivers what waits on its partitions


def faust_sender(app: faust.App):
    """A Send that returns (partition, offset) once the broker acknowledged (acks=all) the message."""

    async def send(topic: str, key: bytes, value: bytes) -> tuple[int, int]:
        fut = await app.topic(topic, key_serializer="raw", value_serializer="raw").send(key=key, value=value)
        meta = await fut
        return meta.partition, meta.offset

    return send


@dataclass
class TableGuard:
    """Progress in a changelog-backed table, co-partitioned with every job-keyed topic."""

    app: faust.App
    table: faust.Table

    def get(self, job_id: UUID) -> Progress | None:
        raw = self.table.get(str(job_id))
        return Progress.from_json(raw) if raw else None

    async def put(self, job_id: UUID, progress: Progress) -> None:
        current = self.get(job_id)
        if not supersedes(progress, current):
            return
        self.table[str(job_id)] = carry_location(progress, current).to_json()
        await self.app.producer.flush()  # the changelog write is durable before we go on


def _raw_topic(app: faust.App, name: str) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                     partitions=PARTITIONS)


def register(app: faust.App, topics: Topics, provider, stage_fn, concurrency: int) -> StageRunner:
    """Attach every agent to `app`; returns the stage runner (tests reach its running tasks)."""
    emit = Emitter(topics=topics, send=faust_sender(app))
    table = app.Table("progress", default=None, partitions=PARTITIONS, key_type=str, value_type=None)
    guard = TableGuard(app, table)
    runner = StageRunner(emit=emit, guard=guard, provider=provider, stage_fn=stage_fn)
    dispatcher = Dispatcher(emit=emit, guard=guard)
    forwarder = DelayForwarder(emit=emit, guard=guard)
    control = JobControl(emit=emit, guard=guard, runner=runner)

    for stage in Stage:
        for lane in Lane:
            _stage_agent(app, topics.stage(stage, lane), f"stage-{stage.value}-{lane.value}", runner,
                         max(1, round(concurrency * LANE_WEIGHT[lane])))

    for tier in DELAY_TIERS:
        _delay_agent(app, topics.delay(tier), tier, forwarder)

    # Dispatching is a short hop per job and jobs are independent: several at once, so a burst of
    # submissions does not make a later high-priority job wait for the whole burst to be dispatched.
    @app.agent(_raw_topic(app, topics.job_events), name="dispatcher", concurrency=DISPATCH_CONCURRENCY)
    async def dispatch(stream):
        async for raw in stream:
            await dispatcher.on_event(raw)

    @app.agent(_raw_topic(app, topics.job_control), name="job-control")
    async def job_control(stream):
        async for event in stream.events():
            await control.on_control(event.value, event.message.topic, event.message.partition, event.message.offset)

    @app.task
    async def diagnostics():
        install_diagnostics(asyncio.get_running_loop(), app)

    @app.on_partitions_revoked.connect
    async def finish_attempts(sender, revoked, **kwargs):
        # Awaited before the worker rejoins the group: no attempt runs on here once another owns its job.
        await runner.drain(REVOKE_DRAIN_SECONDS)

    bootstrap = ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)
    redeliverer = Redeliverer(send=faust_sender(app), read=kafka_reader(bootstrap), busy=lambda: runner.active)

    @app.timer(REDELIVERY_INTERVAL, name="redelivery")
    async def redelivery():
        if app.rebalancing or not app.flow_control.is_active():
            return
        consumer = app.consumer
        assigned = set(consumer.assignment())
        entries = [(UUID(k), Progress.from_json(v)) for k, v in list(table.items()) if v]
        await redeliverer.sweep(entries, committed=lambda t, p: consumer._committed_offset.get(TP(t, p)),
                                owned=lambda t, p: TP(t, p) in assigned, generation=app.consumer_generation_id)

    watchdog = FetchWatchdog()
    end_offsets = EndOffsets(bootstrap)

    @app.timer(WATCHDOG_INTERVAL, name="fetch-watchdog")
    async def fetch_watchdog():
        if app.rebalancing or app.in_recovery or not app.flow_control.is_active():
            watchdog.reset()
            return
        consumer = app.consumer
        owned = [tp for tp in consumer.assignment() if tp.topic not in app.tables.changelog_topics]
        if not owned:
            return
        ends = await end_offsets.of(owned)
        lag, delivered = {}, {}
        for tp in owned:
            read, committed = consumer._read_offset.get(tp), consumer._committed_offset.get(tp)
            delivered[tp] = read
            lag[tp] = max(0, ends.get(tp, 0) - max(committed or 0, read + 1 if read is not None else 0))
        in_flight = sum(1 for m in list(consumer._unacked_messages) if not m.acked)
        if not watchdog.check(lag, delivered, in_flight):
            return
        waiting = {tp: n for tp, n in lag.items() if n}
        names = {f"{tp.topic}[{tp.partition}]": n for tp, n in waiting.items()}
        if watchdog.nudged != app.consumer_generation_id:
            # First, in place: put the fetch position of each waiting partition back where it should be.
            watchdog.nudged = app.consumer_generation_id
            log.error("the consumer has delivered nothing for %d checks while messages wait on %s; seeking them "
                      "back to their committed offsets", watchdog.patience, names)
            for tp in waiting:  # nothing committed yet: from 0 (out of range resets to the log start)
                await consumer.seek(tp, consumer._committed_offset.get(tp) or 0)
            watchdog.reset()
            return
        log.critical("the consumer still delivers nothing while messages wait on %s; exiting with %d so that a "
                     "fresh worker takes over", names, EXIT_WEDGED)
        logging.shutdown()
        os._exit(EXIT_WEDGED)

    return runner


def _stage_agent(app: faust.App, name: str, agent_name: str, runner: StageRunner, concurrency: int) -> None:
    async def loop(stream):
        async for event in stream.events():
            await runner.on_request(event.value, name, event.message.partition, event.message.offset)

    app.agent(_raw_topic(app, name), name=agent_name, concurrency=concurrency)(loop)


def _delay_agent(app: faust.App, name: str, tier: int, forwarder: DelayForwarder) -> None:
    async def loop(stream):
        async for event in stream.events():
            msg = event.message
            enqueued = datetime.fromtimestamp(msg.timestamp, tz=timezone.utc)
            await forwarder.on_delay(event.value, name, msg.partition, msg.offset, tier, enqueued)

    app.agent(_raw_topic(app, name), name=f"delay-{tier}s", concurrency=DELAY_CONCURRENCY)(loop)
