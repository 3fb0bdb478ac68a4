"""The worker's engine: one aiokafka consumer and one producer carry every actor's messages (stage lanes, delay
tiers, the dispatcher, job control) with manual commits that never pass a message still in flight."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Awaitable, Callable
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from agents.context import utc_now
from agents.health import check_stall
from agents.lanes import STAGE_RANK, FairQueue
from agents.offsets import OffsetTracker
from agents.outage import Outage, through
from agents.runner import DelayForwarder, Dispatcher, JobControl, StageRunner
from agents.transitions import first_request
from streams.codec import DecodeError, decode_command, decode_delay, decode_event, key_for
from streams.commands import DelayStage, RequestStage
from streams.events import JobSubmitted
from streams.payloads import Stage
from streams.topics import DELAY_TIERS, Lane, Topics
from streams.access import kafka_options

log = logging.getLogger("planperfect.engine")


class Kind(StrEnum):
    STAGE = "stage"
    DELAY = "delay"
    DISPATCH = "dispatch"
    CONTROL = "control"


class Pause(StrEnum):
    """Why fetching from a partition stopped (it resumes when no reason is left)."""

    QUEUE_FULL = "queue-full"      # the waiting work of the lane and stage rank reached the in-flight budget
    CONTROL_FULL = "control-full"  # too many dispatches and control commands in flight
    HEAD_WAITS = "head-waits"      # a delay tier's first message is not due yet; the rest are due later


@dataclass(frozen=True)
class EngineConfig:
    in_flight: int = 2048  # stage attempts at once in this worker, all lanes together (network-bound calls)
    control_in_flight: int = 1024  # dispatches and control commands at once
    commit_interval: float = 0.3  # seconds between commits of what is done
    revoke_drain_seconds: float = 8.0  # how long a rebalance waits for running work (under the session timeout)
    stall_seconds: float = 30.0  # lag with nothing delivered for this long is a stall
    fetch_max_records: int = 500


@dataclass
class Owned:
    """A partition this worker owns in the current group generation."""

    tp: TopicPartition
    kind: Kind
    lane: Lane | None = None
    tier: int = 0
    rank: int = 0  # a stage topic's STAGE_RANK
    tracker: OffsetTracker = field(default_factory=OffsetTracker)
    tasks: set[asyncio.Task] = field(default_factory=set)
    held: deque = field(default_factory=deque)  # delay tiers: (release, offset, DelayStage, bytes), due order
    timer: asyncio.TimerHandle | None = None
    paused: set[Pause] = field(default_factory=set)
    closed: bool = False  # given up: what finishes from now on is not counted done (the next owner redoes it)


@dataclass
class Work:
    owned: Owned
    offset: int
    key: bytes
    value: bytes


@dataclass
class Stats:
    received: int = 0
    attempts: int = 0
    commits: int = 0
    stalls: int = 0
    failed: int = 0  # messages whose handling failed outside a stage's own logic (each is dead-lettered)
    dead_lettered: int = 0  # of those, the ones whose dead letter is written
    last_delivery: float = field(default_factory=time.monotonic)


@dataclass
class Actors:
    runner: StageRunner
    dispatcher: Dispatcher
    forwarder: DelayForwarder
    control: JobControl


def topic_kinds(topics: Topics) -> dict[str, tuple[Kind, Lane | None, int, int]]:
    """Every topic the workers consume, and what it carries: (kind, lane, delay tier, stage rank)."""
    kinds: dict[str, tuple[Kind, Lane | None, int, int]] = {
        topics.job_events: (Kind.DISPATCH, None, 0, 0), topics.job_control: (Kind.CONTROL, None, 0, 0)}
    for stage in Stage:
        for lane in Lane:
            kinds[topics.stage(stage, lane)] = (Kind.STAGE, lane, 0, STAGE_RANK[stage])
    for tier in DELAY_TIERS:
        kinds[topics.delay(tier)] = (Kind.DELAY, None, tier, 0)
    return kinds


def worker_consumer(bootstrap: str, group: str, topics: Topics, config: EngineConfig) -> AIOKafkaConsumer:
    """The one consumer of a worker process (subscribed by the engine, with its rebalance listener)."""
    return AIOKafkaConsumer(
        **kafka_options(bootstrap), group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
        # Range assignment over topics of equal partition count gives partition p of every topic to one
        # worker: a job's requests, its cancel and its guard rows meet in the same process.
        partition_assignment_strategy=(RangePartitionAssignor,),
        # A worker that dies is noticed within 10 s, so its partitions move to a survivor quickly.
        session_timeout_ms=10_000, heartbeat_interval_ms=3_000,
        max_poll_records=config.fetch_max_records, fetch_max_wait_ms=100,
    )


class Engine:
    """Runs until `stop` is set: fetch, hand each message to its actor, commit what is done."""

    def __init__(self, consumer: AIOKafkaConsumer, topics: Topics, actors: Actors, config: EngineConfig,
                 kafka: Outage, database: Outage, on_revoked: Callable[[], Awaitable[None]] | None = None) -> None:
        self.consumer = consumer
        self.kafka = kafka
        self.database = database
        # A dead letter that cannot be written is tried again until it is: the message is never lost.
        self.letters = Outage("the dead-letter topic", lambda exc: True, initial=kafka.initial, cap=kafka.cap)
        self.topics = topics
        self.actors = actors
        self.config = config
        self.kinds = topic_kinds(topics)
        self.parts: dict[TopicPartition, Owned] = {}
        self.fair: FairQueue[Work] = FairQueue()
        self.busy: dict[bytes, Work] = {}  # job key -> its stage attempt running here
        self.running = 0
        self.control_running = 0
        self._key_users: dict[bytes, tuple[asyncio.Lock, int]] = {}
        self._on_revoked = on_revoked  # e.g. the guard: settle writes, forget the cache
        self._revoking = False
        self._full: set[tuple[Lane, int]] = set()  # (lane, stage rank) paused: its waiting work reached the budget
        self._control_full = False
        self.ready = False  # assigned partitions and not stalled
        self.stats = Stats()
        self.stalled = False
        self._announced = False  # "Worker ready" was logged (once per process: tests and operators wait for it)

    def subscribe(self) -> None:
        self.consumer.subscribe(list(self.kinds), listener=_Listener(self))

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        last_commit = last_check = time.monotonic()
        while not stop.is_set():
            try:
                fetched = await self.consumer.getmany(timeout_ms=100)
            except KafkaError as exc:  # the coordinator reports a lost group etc.; the consumer recovers by itself
                log.warning("fetch: %s", exc)
                fetched = {}
            for tp, msgs in fetched.items():
                owned = self.parts.get(tp)
                if owned is None:
                    continue  # not ours in this generation (cannot happen after an assignment; defensive)
                for msg in msgs:
                    owned.tracker.received(msg.offset)
                    self._accept(owned, msg)
                if msgs:
                    self.stats.received += len(msgs)
                    self.stats.last_delivery = time.monotonic()
            self._start_stages()
            now = time.monotonic()
            if now - last_commit >= self.config.commit_interval:
                await self.commit()
                last_commit = now
            if now - last_check >= 5.0:
                check_stall(self)
                last_check = now
        await self.shutdown()

    def _accept(self, owned: Owned, msg) -> None:
        value, key = msg.value or b"", msg.key or b""
        if owned.kind is Kind.STAGE:
            self.fair.put(owned.lane, key, Work(owned, msg.offset, key, value), owned.rank)
            self._flow(owned.lane, owned.rank)
        elif owned.kind is Kind.DISPATCH:
            if b"JobSubmitted" not in value:
                owned.tracker.done(msg.offset)  # the dispatcher acts on submissions only (the projector reads all)
                return
            self._control(owned, msg.offset, key, value, lambda: self.actors.dispatcher.on_event(value))
        elif owned.kind is Kind.CONTROL:
            tp = owned.tp
            self._control(owned, msg.offset, key, value,
                          lambda: self.actors.control.on_control(value, tp.topic, tp.partition, msg.offset))
        else:
            self._hold(owned, msg)

    # ------------------------------------------------------------------ stage attempts

    def _start_stages(self) -> None:
        while not self._revoking and self.running < self.config.in_flight:
            work = self.fair.take(self.busy)
            if work is None:
                break
            self.busy[work.key] = work
            self.running += 1
            tp = work.owned.tp
            self._flow(work.owned.lane, work.owned.rank)
            self._spawn(work.owned, work.offset, work.value,
                        lambda w=work, tp=tp: self.actors.runner.on_request(w.value, tp.topic, tp.partition, w.offset),
                        lambda w=work: self._stage_finished(w))

    def _stage_finished(self, work: Work) -> None:
        if self.busy.get(work.key) is work:  # not if the job settled and its next attempt runs already
            del self.busy[work.key]
        self.running -= 1
        self.stats.attempts += 1
        self._start_stages()

    def job_settled(self, job_id: UUID) -> None:
        """The job's outcome is written and its next state taken: its next request may start now, while the
        finished attempt waits for that state to be durable (its slot in the budget is kept until then)."""
        if self.busy.pop(key_for(job_id), None) is not None:
            self._start_stages()

    def _flow(self, lane: Lane, rank: int) -> None:
        """Fetching pauses per lane and stage rank, so that a backlog of first stages never holds back the requests
        of later ones (they start first, see agents/lanes.py) and memory stays bounded under any backlog."""
        waiting = self.fair.waiting(lane, rank)
        if waiting >= self.config.in_flight and (lane, rank) not in self._full:
            self._full.add((lane, rank))
            self._pause_where(lambda o: o.kind is Kind.STAGE and o.lane == lane and o.rank == rank, Pause.QUEUE_FULL)
        elif waiting < self.config.in_flight // 2 and (lane, rank) in self._full:
            self._full.discard((lane, rank))
            self._resume_where(lambda o: o.kind is Kind.STAGE and o.lane == lane and o.rank == rank, Pause.QUEUE_FULL)

    # ------------------------------------------------------------------ dispatcher and job control

    def _control(self, owned: Owned, offset: int, key: bytes, value: bytes, act: Callable[[], Awaitable[None]]) -> None:
        """Dispatches and control commands run at once, beside any attempt (a cancel must reach a running
        attempt); those of one job one after another, so a cancel and the job's dispatch never interleave."""
        self.control_running += 1
        if self.control_running >= self.config.control_in_flight and not self._control_full:
            self._control_full = True
            self._pause_where(lambda o: o.kind in (Kind.DISPATCH, Kind.CONTROL), Pause.CONTROL_FULL)
        self._spawn(owned, offset, value, lambda: self._one_at_a_time(key, act), self._control_finished)

    def _control_finished(self) -> None:
        self.control_running -= 1
        if self.control_running < self.config.control_in_flight // 2 and self._control_full:
            self._control_full = False
            self._resume_where(lambda o: o.kind in (Kind.DISPATCH, Kind.CONTROL), Pause.CONTROL_FULL)

    async def _one_at_a_time(self, key: bytes, act: Callable[[], Awaitable[None]]) -> None:
        lock, users = self._key_users.get(key, (asyncio.Lock(), 0))
        self._key_users[key] = (lock, users + 1)
        try:
            async with lock:
                await act()
        finally:
            lock, users = self._key_users[key]
            if users == 1:
                del self._key_users[key]
            else:
                self._key_users[key] = (lock, users - 1)

    # ------------------------------------------------------------------ delay tiers

    def _hold(self, owned: Owned, msg) -> None:
        tp, raw = owned.tp, msg.value or b""
        try:
            held = decode_delay(raw)
        except DecodeError as exc:
            self._spawn(owned, msg.offset, raw, lambda exc=exc, offset=msg.offset:
                        self.actors.runner.emit.undecodable(exc, tp.topic, tp.partition, offset))
            return
        enqueued = datetime.fromtimestamp(msg.timestamp / 1000, tz=timezone.utc)
        owned.held.append((DelayForwarder.release_at(held, owned.tier, enqueued), msg.offset, held, raw))
        self._release(owned)

    def _release(self, owned: Owned) -> None:
        """Forward every held message that is due; while the first one waits, fetch no more from the partition
        (what follows in a tier is due later) and wake when it is due: one timer per partition, no sleeping tasks."""
        if owned.timer is not None:
            owned.timer.cancel()
            owned.timer = None
        if self._revoking or self.parts.get(owned.tp) is not owned:
            return
        now = utc_now()
        while owned.held and owned.held[0][0] <= now:
            _, offset, held, raw = owned.held.popleft()
            self._spawn(owned, offset, raw, lambda held=held: self._forward(held))
        if owned.held:
            self._pause(owned, Pause.HEAD_WAITS)
            wait = (owned.held[0][0] - now).total_seconds()
            owned.timer = asyncio.get_running_loop().call_later(wait, self._release, owned)
        else:
            self._resume(owned, Pause.HEAD_WAITS)

    async def _forward(self, held: DelayStage) -> None:
        await self.actors.forwarder.forward(held)

    # ------------------------------------------------------------------ tasks and offsets

    def _spawn(self, owned: Owned, offset: int, value: bytes, act: Callable[[], Awaitable[None]],
               finished: Callable[[], None] | None = None) -> None:
        task = asyncio.create_task(self._handle(owned, offset, value, act))
        owned.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            owned.tasks.discard(t)
            if finished is not None:
                finished()
            if t.cancelled() or owned.closed:
                return  # given up at a rebalance or shutdown: the next owner gets the message again
            if t.exception() is not None:  # `_handle` retries until the message is dealt with: a bug of its own
                log.error("%s[%d]@%d: neither handled nor dead-lettered; not committed, so its partition's next owner "
                          "gets it again", owned.tp.topic, owned.tp.partition, offset, exc_info=t.exception())
                return
            owned.tracker.done(offset)

        task.add_done_callback(done)

    async def _handle(self, owned: Owned, offset: int, value: bytes, act: Callable[[], Awaitable[None]]) -> None:
        """`act` on one message, run again while Kafka or PostgreSQL is out of reach (each outage logged once); a
        message it fails on otherwise (a bug, data a store refuses) is dead-lettered whole, and the partition flows
        on. Returns once either is done; a rebalance or shutdown cancels it, and the message's next owner redoes it."""
        try:
            await through((self.kafka, self.database), act)
            return
        except Exception as exc:  # not an outage (those are retried above): skipping it would lose the message
            error = exc
        tp, request = owned.tp, self._carried(owned.kind, value)
        self.stats.failed += 1
        log.error("%s[%d]@%d: handling failed outside a stage's own logic; dead-lettering the message", tp.topic,
                  tp.partition, offset, exc_info=error,
                  extra={"job_id": request.job_id, "stage": request.stage} if request is not None else None)
        await self.letters.call(lambda: self.actors.runner.unprocessable(value, request, tp.topic, tp.partition, offset,
                                                                          error))
        self.stats.dead_lettered += 1

    @staticmethod
    def _carried(kind: Kind, value: bytes) -> RequestStage | None:
        """The request with which a message carries its job on (a stage request, a delayed one, the first request of
        a submission), for its dead letter: None for a job control command (the job goes on without it)."""
        try:
            if kind is Kind.STAGE:
                return decode_command(value)
            if kind is Kind.DELAY:
                return decode_delay(value).request
            if kind is Kind.DISPATCH and isinstance(event := decode_event(value), JobSubmitted):
                routed = first_request(event, utc_now())
                return routed.request if isinstance(routed, DelayStage) else routed
        except DecodeError:
            pass  # undecodable: the letter keeps its bytes, no job
        return None

    async def commit(self, parts: list[Owned] | None = None) -> None:
        """Commit, per partition, the offset before which every message is done."""
        chosen = parts if parts is not None else list(self.parts.values())
        offsets = {o.tp: OffsetAndMetadata(n, "") for o in chosen if (n := o.tracker.to_commit()) is not None}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
            self.stats.commits += 1
            self.kafka.succeeded()
        except KafkaError as exc:  # a rebalance or an outage: the next commit (or the next owner) covers it
            if self.kafka.unreachable(exc):
                self.kafka.failed(exc)
            else:
                log.info("commit of %d partition(s) failed: %s", len(offsets), exc)
            for o in chosen:
                o.tracker.committed = None

    # ------------------------------------------------------------------ backpressure

    def _pause(self, owned: Owned, why: Pause) -> None:
        if not owned.paused and self.parts.get(owned.tp) is owned:
            self.consumer.pause(owned.tp)
        owned.paused.add(why)

    def _resume(self, owned: Owned, why: Pause) -> None:
        if why in owned.paused:
            owned.paused.discard(why)
            if not owned.paused and self.parts.get(owned.tp) is owned:
                self.consumer.resume(owned.tp)

    def _pause_where(self, pred: Callable[[Owned], bool], why: Pause) -> None:
        for owned in self.parts.values():
            if pred(owned) and why not in owned.paused:
                self._pause(owned, why)

    def _resume_where(self, pred: Callable[[Owned], bool], why: Pause) -> None:
        for owned in self.parts.values():
            if pred(owned) and why in owned.paused:
                self._resume(owned, why)

    # ------------------------------------------------------------------ rebalances and shutdown

    def assigned(self, assigned: set[TopicPartition]) -> None:
        self._full.clear()
        self._control_full = False
        for tp in assigned:
            kind, lane, tier, rank = self.kinds[tp.topic]
            self.parts[tp] = Owned(tp, kind, lane, tier, rank)
        numbers = {topic: {tp.partition for tp in assigned if tp.topic == topic} for topic in self.kinds}
        if len({frozenset(n) for n in numbers.values()}) > 1:
            # Range assignment co-locates a job's topics only when every topic has the same partition count.
            log.error("this worker was given different partition numbers on different topics (partition counts "
                      "differ; see `planperfect topics ensure`): a job's cancel may not reach its running attempt")
        first, self._announced = not self._announced, True
        self.ready = bool(self.parts)
        self.stats.last_delivery = time.monotonic()
        if first:
            log.info("Worker ready: %d partition(s) assigned", len(assigned))
        else:
            log.info("assigned %d partition(s)", len(assigned))

    async def revoked(self, revoked: set[TopicPartition]) -> None:
        """Let the work of the revoked partitions finish (bounded), give the rest up writing nothing more,
        commit what is done; the next owner starts after the last committed offset."""
        self._revoking = True
        try:
            gone = [self.parts[tp] for tp in revoked if tp in self.parts]
            await self._wind_down(gone, f"rebalance ({len(gone)} partition(s) revoked)")
            for o in gone:
                del self.parts[o.tp]
        finally:
            self._revoking = False
            self.ready = bool(self.parts)

    async def _wind_down(self, gone: list[Owned], why: str) -> None:
        gone_ids = {id(o) for o in gone}
        self.fair.drop(lambda w: id(w.owned) not in gone_ids)
        for o in gone:
            if o.timer is not None:
                o.timer.cancel()
            o.held.clear()
        tasks = {t for o in gone for t in o.tasks}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.config.revoke_drain_seconds)
            if pending:
                for o in gone:
                    o.closed = True
                self.actors.runner.give_up()  # running handlers end without writing their outcome
                for t in pending:
                    t.cancel()
                await asyncio.wait(pending, timeout=2.0)
                log.warning("%s: gave up %d message(s) still in progress after %.0f s; their new owner runs them",
                            why, len(pending), self.config.revoke_drain_seconds)
        await self.commit(gone)
        if self._on_revoked is not None:
            await self._on_revoked()

    async def shutdown(self) -> None:
        self._revoking = True
        await self._wind_down(list(self.parts.values()), "shutdown")
        self.parts.clear()


class _Listener(ConsumerRebalanceListener):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def on_partitions_revoked(self, revoked) -> None:
        await self.engine.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned) -> None:
        self.engine.assigned(set(assigned))
