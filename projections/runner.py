"""Feeds the log to the projections in batches: rows and offsets in one transaction, resume from PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from projections.base import Projection, Record
from projections.dead_letters import DeadLettersProjection
from projections.events import EventsProjection
from projections.jobs import JobsProjection
from projections.pacing_analyses import PacingAnalysesProjection
from projections.pacing_context import PacingContextProjection
from projections.pacing_generations import PacingGenerationsProjection
from projections.pacing_schedules import PacingSchedulesProjection
from projections.payloads import PayloadsProjection
from projections.stages import StagesProjection
from streams.codec import DecodeError, decode_event, encode
from streams.deadletters import DeadLettered
from streams.pacing_events import decode_pacing_event
from streams.topics import Topics

log = logging.getLogger("planperfect.projector")

NOTIFY_CHANNEL = "planperfect_jobs"

LOAD_OFFSETS = "SELECT projection, topic, partition, next_offset FROM projection_offsets WHERE projection = ANY($1)"
SAVE_OFFSET = """
INSERT INTO projection_offsets (projection, topic, partition, next_offset, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
WHERE projection_offsets.next_offset < EXCLUDED.next_offset
"""


def default_projections() -> list[Projection]:
    # Order matters only for readers within one transaction: jobs before the rows that refer to them.
    return [EventsProjection(), JobsProjection(), StagesProjection(), PayloadsProjection(), DeadLettersProjection(),
            PacingSchedulesProjection(), PacingContextProjection(), PacingAnalysesProjection(),
            PacingGenerationsProjection()]


@dataclass
class BatchStats:
    batches: int = 0
    fetched: int = 0
    dead_lettered: int = 0


@dataclass
class ProjectionRunner:
    """One consumer for all projections; each projection keeps its own position per partition."""

    bootstrap: str
    dsn: str
    topics: Topics
    projections: list[Projection] = field(default_factory=default_projections)
    batch_size: int = 500
    batch_wait_ms: int = 50
    group: str | None = None  # default: the deployment's projector group
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        self._positions: dict[tuple[str, TopicPartition], int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._pool: asyncpg.Pool | None = None

    @property
    def sources(self) -> list[str]:
        return [self.topics.job_events, self.topics.dead_letters, self.topics.pacing_events]

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=2)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True)
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group or self.topics.group("projector"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            # A fetch for quiet partitions (the dead letters, mostly) is held by the broker up to this
            # long and delays the refetch of busy ones behind it: keep it to the batch wait.
            fetch_max_wait_ms=max(10, self.batch_wait_ms),
        )
        self._consumer.subscribe(self.sources, listener=_SeekToStored(self))
        await self._consumer.start()
        log.info("projector started on %s", ", ".join(self.sources))

    async def stop(self) -> None:
        for closer in (self._consumer, self._producer):
            if closer is not None:
                await closer.stop()
        if self._pool is not None:
            await self._pool.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set; a batch in flight finishes first."""
        while not stop.is_set():
            await self.step()

    async def step(self) -> int:
        """Fetch and apply one batch; returns how many records it held."""
        assert self._consumer is not None
        fetched = await self._consumer.getmany(timeout_ms=self.batch_wait_ms, max_records=self.batch_size)
        if not fetched:
            return 0
        return await self._apply(fetched)

    async def run_until_caught_up(self, timeout: float = 60.0) -> None:
        """Apply batches until every assigned partition is at its end (for tests, rebuilds and the demo)."""
        assert self._consumer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.step()
            assigned = self._consumer.assignment()
            if not assigned:
                continue
            ends = await self._consumer.end_offsets(list(assigned))
            # Our own positions (from PostgreSQL, then each batch), not the consumer's: right after an
            # assignment the consumer may still report Kafka's committed offset, which is not ours.
            if all(self.position(tp) >= end for tp, end in ends.items()):
                return
        raise TimeoutError(f"projector did not catch up within {timeout}s")

    def position(self, tp: TopicPartition) -> int:
        """The lowest next offset any projection needs in `tp` (-1 until the assignment has loaded)."""
        known = [self._positions.get((p.name, tp)) for p in self.projections]
        return -1 if None in known else min(known)

    async def load_positions(self, assigned: set[TopicPartition]) -> None:
        """Read stored positions and seek each partition to the lowest position any projection needs."""
        assert self._pool is not None and self._consumer is not None
        rows = await self._pool.fetch(LOAD_OFFSETS, [p.name for p in self.projections])
        stored = {(r["projection"], TopicPartition(r["topic"], r["partition"])): r["next_offset"] for r in rows}
        for tp in assigned:
            lowest = None
            for p in self.projections:
                pos = stored.get((p.name, tp), 0)
                self._positions[(p.name, tp)] = pos
                lowest = pos if lowest is None else min(lowest, pos)
            # No await between the seeks, so no fetch can slip in from a stale position; an offset
            # before the log's start (0 after retention) resets to the earliest kept.
            self._consumer.seek(tp, lowest or 0)
        log.info("projector assigned %d partitions", len(assigned))

    async def _apply(self, fetched: dict[TopicPartition, list]) -> int:
        assert self._pool is not None and self._consumer is not None
        records: list[Record] = []
        ends: dict[TopicPartition, int] = {}
        for tp, msgs in fetched.items():
            for msg in msgs:
                record = await self._decode(tp, msg)
                if record is not None:
                    records.append(record)
            ends[tp] = msgs[-1].offset + 1
        jobs: set[str] = set()
        async with self._pool.acquire() as conn, conn.transaction():
            for p in self.projections:
                mine = [
                    r for r in records
                    if r.offset >= self._positions.get((p.name, TopicPartition(r.topic, r.partition)), 0)
                    and p.wants(r)
                ]
                if mine:
                    await p.apply(conn, mine)
            await conn.executemany(
                SAVE_OFFSET, [(p.name, tp.topic, tp.partition, end) for p in self.projections for tp, end in ends.items()]
            )
            jobs = {str(r.message.job_id) for r in records if getattr(r.message, "job_id", None)}
            if jobs:
                await conn.execute(f"SELECT pg_notify('{NOTIFY_CHANNEL}', j) FROM unnest($1::text[]) AS j", list(jobs))
        for p in self.projections:
            for tp, end in ends.items():
                self._positions[(p.name, tp)] = max(end, self._positions.get((p.name, tp), 0))
        # Kafka's copy of the offsets is for operators' tooling (lag); PostgreSQL's copy is the truth.
        await self._consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
        self.stats.batches += 1
        self.stats.fetched += len(records)
        return len(records)

    async def _decode(self, tp: TopicPartition, msg) -> Record | None:
        raw = msg.value or b""
        if tp.topic == self.topics.dead_letters:
            try:
                return Record(tp.topic, tp.partition, msg.offset, DeadLettered.model_validate_json(raw))
            except ValueError as exc:
                letter = DeadLettered.for_undecodable(tp.topic, tp.partition, msg.offset, str(exc)[:500], raw, _now())
                return Record(tp.topic, tp.partition, msg.offset, letter)
        decode = decode_pacing_event if tp.topic == self.topics.pacing_events else decode_event
        try:
            return Record(tp.topic, tp.partition, msg.offset, decode(raw))
        except DecodeError as exc:
            letter = DeadLettered.for_undecodable(tp.topic, tp.partition, msg.offset, exc.reason, raw, _now())
            assert self._producer is not None
            await self._producer.send_and_wait(self.topics.dead_letters, encode(letter), key=b"undecodable")
            self.stats.dead_lettered += 1
            log.error("undecodable event at %s[%d]@%d: %s", tp.topic, tp.partition, msg.offset, exc.reason)
            return None  # the position still moves past it; the dead letter carries the bytes


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _SeekToStored(ConsumerRebalanceListener):
    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked) -> None:
        return None

    async def on_partitions_assigned(self, assigned) -> None:
        await self.runner.load_positions(set(assigned))
