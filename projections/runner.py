"""Feeds the log to the projections in batches: rows and offsets in one transaction, resume from PostgreSQL.

An event that cannot be decoded, or that PostgreSQL refuses to store, never stops a partition: it becomes a
dead letter (published to the dead-letter topic, which the projector reads back into content_dead_letters)
and the position moves past it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import BaseModel

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
from projections.usage import UsageProjection
from projections.failures import UNAPPLIABLE, Failure
from streams.codec import DecodeError, decode_event, encode
from streams.deadletters import DeadLettered
from streams.pacing_events import decode_pacing_event
from streams.topics import CATALOGUE, DEAD_LETTERS, JOB_EVENTS, PACING_EVENTS, TopicSpec, Topics
from streams.access import kafka_options

log = logging.getLogger("planperfect.projector")

NOTIFY_CHANNEL = "planperfect_jobs"
CLOSE_TIMEOUT_S = 10.0

LOAD_OFFSETS = "SELECT projection, topic, partition, next_offset FROM projection_offsets WHERE projection = ANY($1)"
# Every projection's position in every partition of the batch in one statement (each key once), where
# executemany would run it once per projection and partition.
SAVE_OFFSETS = """
INSERT INTO projection_offsets (projection, topic, partition, next_offset, updated_at)
SELECT projection, topic, partition, next_offset, now()
  FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) AS o(projection, topic, partition, next_offset)
ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
WHERE projection_offsets.next_offset < EXCLUDED.next_offset
"""

# How each topic a projection may read is decoded: one decode step for the live projector and a rebuild.
DECODERS: dict[TopicSpec, Callable[[bytes], BaseModel]] = {
    JOB_EVENTS: decode_event,
    PACING_EVENTS: decode_pacing_event,
    DEAD_LETTERS: DeadLettered.model_validate_json,
}


def default_projections() -> list[Projection]:
    # Order matters only for readers within one transaction: jobs before the rows that refer to them.
    return [EventsProjection(), JobsProjection(), StagesProjection(), PayloadsProjection(), DeadLettersProjection(),
            PacingSchedulesProjection(), PacingContextProjection(), PacingAnalysesProjection(),
            PacingGenerationsProjection(), UsageProjection()]


@dataclass
class BatchStats:
    batches: int = 0
    fetched: int = 0
    dead_lettered: int = 0


@dataclass
class Ledger:
    """What became of the records read from one partition: each was applied or dead-lettered."""

    read: int = 0
    applied: int = 0
    dead_lettered: int = 0


@dataclass
class ProjectionRunner:
    """One consumer for all projections; each projection keeps its own position per partition.

    `publish_dead_letters=False` is for a copy rebuilt from the log: the live projector already published a
    dead letter for each event it could not decode or apply, and the copy reads those from the dead-letter
    topic instead of writing duplicates to the log it is compared with; it keeps its own `failures` instead.
    """

    bootstrap: str
    dsn: str
    topics: Topics
    projections: list[Projection] = field(default_factory=default_projections)
    batch_size: int = 500
    batch_wait_ms: int = 50
    group: str | None = None  # default: the deployment's projector group
    publish_dead_letters: bool = True
    notify: bool = True  # a copy rebuilt in a shadow schema has no readers to wake (NOTIFY is database-wide)
    name: str = "projector"  # how its log lines start: a rebuild's copy must not read as the live projector
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        self._positions: dict[tuple[str, TopicPartition], int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._pool: asyncpg.Pool | None = None
        # aiokafka only logs what a rebalance listener raises and goes on fetching, from wherever Kafka's committed
        # offsets say: a failed load of the positions is kept here and raised from the next step instead.
        self._lost_positions: BaseException | None = None
        self.ledgers: dict[TopicPartition, Ledger] = {}
        self.failures: list[Failure] = []  # kept when not publishing (a rebuild audits them)
        self.letters_seen: set[UUID] = set()  # dead letters read back from the log (idem)
        self._decoders = {spec.name(self.topics.prefix): decode for spec, decode in DECODERS.items()}
        if unknown := [f"{p.name} reads {s.suffix}" for p in self.projections for s in p.sources if s not in DECODERS]:
            raise ValueError(f"no decoder for the topics of: {', '.join(unknown)}")

    @property
    def sources(self) -> list[str]:
        """Every topic a projection reads, in catalogue order; and the dead letters, where failures are recorded."""
        wanted = {s for p in self.projections for s in p.sources} | {DEAD_LETTERS}
        return [spec.name(self.topics.prefix) for spec in CATALOGUE if spec in wanted]

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=2)
        if self.publish_dead_letters:
            self._producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all", enable_idempotence=True)
            await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            **kafka_options(self.bootstrap),
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
        log.info("%s started on %s", self.name, ", ".join(self.sources))

    async def stop(self) -> None:
        """Close what `start` opened; safe after a failed start or step, and more than once.

        A close that fails or hangs (the broker or the database is gone) is logged, not raised: the error that
        led here is the one the caller needs to see.
        """
        consumer, producer, pool = self._consumer, self._producer, self._pool
        self._consumer = self._producer = self._pool = None
        for what, close in (("consumer", consumer and consumer.stop), ("producer", producer and producer.stop),
                            ("database pool", pool and pool.close)):
            if close is None:
                continue
            try:
                await asyncio.wait_for(close(), CLOSE_TIMEOUT_S)
            except Exception as exc:  # a timeout too
                log.warning("%s: closing the %s failed: %s: %s", self.name, what, type(exc).__name__, exc)
                if pool is not None and what == "database pool":
                    pool.terminate()

    async def run(self, stop: asyncio.Event) -> None:
        """Project until `stop` is set; a batch in flight finishes first."""
        while not stop.is_set():
            await self.step()

    async def step(self) -> int:
        """Fetch and apply one batch; returns how many records it held.

        Raises what loading the stored positions on an assignment raised: this runner no longer knows where its
        partitions stand, and its owner drops it and starts a fresh one (see planperfect.processes.run_projector).
        """
        assert self._consumer is not None
        self._raise_lost_positions()
        fetched = await self._consumer.getmany(timeout_ms=self.batch_wait_ms, max_records=self.batch_size)
        self._raise_lost_positions()  # an assignment may have come and failed during the fetch
        if not fetched:
            return 0
        return await self._apply(fetched)

    def _raise_lost_positions(self) -> None:
        if self._lost_positions is not None:
            raise self._lost_positions

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
        log.info("%s assigned %d partitions", self.name, len(assigned))

    async def _assigned(self, assigned: set[TopicPartition]) -> None:
        """The rebalance listener's call: load the positions, or keep why not for the next step to raise."""
        try:
            await self.load_positions(assigned)
        except Exception as exc:  # noqa: BLE001 - not lost: raised from the next step, where the owner sees it
            self._lost_positions = exc

    async def _apply(self, fetched: dict[TopicPartition, list]) -> int:
        assert self._pool is not None and self._consumer is not None
        records: list[Record] = []
        failed: list[Failure] = []
        ends: dict[TopicPartition, int] = {}
        for tp, msgs in fetched.items():
            for msg in msgs:
                decoded = self._decode(tp, msg)
                if isinstance(decoded, Failure):
                    failed.append(decoded)
                else:
                    records.append(decoded)
            ends[tp] = msgs[-1].offset + 1
        await self._dead_letter(failed)  # before the positions move past them
        refused: list[Failure] = []
        async with self._pool.acquire() as conn, conn.transaction():
            refused = await self._fold(conn, records)
            if refused:
                await self._dead_letter(refused)  # still inside the transaction: its rows and positions wait for it
            saved = [(p.name, tp.topic, tp.partition, end) for p in self.projections for tp, end in ends.items()]
            await conn.execute(SAVE_OFFSETS, *([list(column) for column in zip(*saved)]))
            jobs = {str(r.message.job_id) for r in records if getattr(r.message, "job_id", None)} if self.notify else ()
            if jobs:
                await conn.execute(f"SELECT pg_notify('{NOTIFY_CHANNEL}', j) FROM unnest($1::text[]) AS j", list(jobs))
        for p in self.projections:
            for tp, end in ends.items():
                self._positions[(p.name, tp)] = max(end, self._positions.get((p.name, tp), 0))
        self._account(fetched, [*failed, *refused])
        # Kafka's copy of the offsets is for operators' tooling (lag); PostgreSQL's copy is the truth.
        await self._consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
        self.stats.batches += 1
        self.stats.fetched += len(records)
        return len(records)

    async def _fold(self, conn: asyncpg.Connection, records: list[Record]) -> list[Failure]:
        """Fold `records` into every projection that wants them, in log order, inside a savepoint. When PostgreSQL
        (or the projection) refuses the data, fold each half the same way: every record that can be applied is,
        in order, and the ones that cannot are returned. Other errors (an outage) propagate."""
        if not records:
            return []
        at = [(r.topic, r.partition) for r in records]
        try:
            async with conn.transaction():
                for p in self.projections:
                    # A projection further on than the runner in a partition (after a rebuild of it alone) skips
                    # what it has; looked up once per partition, not per record.
                    floors = {where: self._positions.get((p.name, TopicPartition(*where)), 0) for where in set(at)}
                    mine = [r for r, where in zip(records, at) if r.offset >= floors[where] and p.wants(r)]
                    if mine:
                        await p.apply(conn, mine)
            return []
        except UNAPPLIABLE as exc:
            if len(records) == 1:
                return [Failure.unappliable(records[0], exc)]
            half = len(records) // 2
            return await self._fold(conn, records[:half]) + await self._fold(conn, records[half:])

    def _decode(self, tp: TopicPartition, msg) -> Record | Failure:
        raw = msg.value or b""
        try:
            message = self._decoders[tp.topic](raw)
        except (DecodeError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, DecodeError) else str(exc)[:500]
            failure = Failure.undecodable(tp.topic, tp.partition, msg.offset, reason, raw)
            if tp.topic != self.topics.dead_letters:
                return failure
            # Bytes on the dead-letter topic itself are not sent back to it: they are stored as a letter here,
            # dated by the log, so that a rebuild stores the same row.
            message = failure.letter(datetime.fromtimestamp(msg.timestamp / 1000, timezone.utc))
        if isinstance(message, DeadLettered) and not self.publish_dead_letters:
            self.letters_seen.add(message.dead_letter_id)
        return Record(tp.topic, tp.partition, msg.offset, message, raw)

    async def _dead_letter(self, failures: list[Failure]) -> None:
        """Publish a dead letter for each failure (the position then moves past it), or keep it for the audit."""
        for f in failures:
            log.error("%s: %s event at %s[%d]@%d dead-lettered: %s", self.name, f.reason, f.topic, f.partition, f.offset,
                      f.error)
        self.stats.dead_lettered += len(failures)
        if not self.publish_dead_letters:
            self.failures += failures
            return
        assert self._producer is not None
        sent = [await self._producer.send(self.topics.dead_letters, encode(f.letter(_now())), key=f.reason.encode())
                for f in failures]
        for ack in sent:
            await ack

    def _account(self, fetched: dict[TopicPartition, list], failed: list[Failure]) -> None:
        counts: dict[tuple[str, int], int] = {}
        for f in failed:
            counts[(f.topic, f.partition)] = counts.get((f.topic, f.partition), 0) + 1
        for tp, msgs in fetched.items():
            ledger = self.ledgers.setdefault(tp, Ledger())
            dead = counts.get((tp.topic, tp.partition), 0)
            ledger.read += len(msgs)
            ledger.dead_lettered += dead
            ledger.applied += len(msgs) - dead


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _SeekToStored(ConsumerRebalanceListener):
    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked) -> None:
        return None

    async def on_partitions_assigned(self, assigned) -> None:
        await self.runner._assigned(set(assigned))
