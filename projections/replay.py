"""Reading the log to its end for a copy of the read model, and accounting for every offset it read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from projections.checksums import Positions, read_positions
from projections.runner import ProjectionRunner
from streams.access import kafka_options

Echo = Callable[[str], None]

PROGRESS_EVERY_S = 1.0
SHOWN_FAILURES = 5


class RebuildError(RuntimeError):
    """The rebuild or verification cannot go on; the live read model is as it was."""


class LogHead:
    """The start and end offsets of the projected topics, read by a consumer in no group (it disturbs no one)."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self._bootstrap, self._topics = bootstrap, list(topics)
        self._consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []
        self.last_ends: dict[tuple[str, int], int] = {}  # as last read: where a copy that caught up stood

    async def __aenter__(self) -> LogHead:
        admin = AIOKafkaAdminClient(**kafka_options(self._bootstrap))
        await admin.start()
        try:
            for meta in await admin.describe_topics(self._topics):
                if meta["error_code"]:
                    raise RebuildError(f"topic {meta['topic']} is not on the cluster (error {meta['error_code']})")
                self._partitions += [TopicPartition(meta["topic"], p["partition"]) for p in meta["partitions"]]
        finally:
            await admin.close()
        await self._consumer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._consumer.stop()

    async def ends(self) -> dict[tuple[str, int], int]:
        ends = await self._consumer.end_offsets(self._partitions)
        self.last_ends = {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
        return self.last_ends

    async def starts(self) -> dict[tuple[str, int], int]:
        """The first offset each partition still holds (above 0 once records were deleted from it)."""
        starts = await self._consumer.beginning_offsets(self._partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in starts.items()}


def applied_through(ends: dict[tuple[str, int], int], positions: Positions, names: Sequence[str]) -> int:
    """Log offsets every one of `names` has passed, summed over the partitions."""
    return sum(min(positions.get((n, t, p), 0) for n in names) for t, p in ends)


async def catch_up(
    runner: ProjectionRunner, conn: asyncpg.Connection, schema: str, names: Sequence[str], head: LogHead,
    *, echo: Echo, timeout: float, label: str = "rebuild",
) -> int:
    """Step `runner` until its stored positions reach the log's end, saying how it goes about once a second;
    returns how many log offsets it moved through (each event once, however the batches fell)."""
    loop = asyncio.get_running_loop()
    began = reported = loop.time()
    start = applied_through(await head.ends(), await read_positions(conn, schema, names), names)
    while True:
        fetched = await runner.step()
        now = loop.time()
        if fetched and now - reported < PROGRESS_EVERY_S:
            continue
        ends, positions = await head.ends(), await read_positions(conn, schema, names)
        done = applied_through(ends, positions, names) - start
        remaining = sum(ends.values()) - applied_through(ends, positions, names)
        if remaining == 0 or now - reported >= PROGRESS_EVERY_S:
            echo(f"{label}: {done:,} events applied, {done / max(now - began, 1e-6):,.0f} events/s, lag {remaining:,}")
            reported = now
        if remaining == 0:
            return done
        if now - began > timeout:
            raise RebuildError(f"{label}: still {remaining:,} events behind the log after {timeout:.0f}s")


@dataclass(frozen=True)
class ReplayAudit:
    """A copy replayed from offset 0, checked against the log it read.

    Every offset below the copy's position in each source partition must have been read and then applied or
    dead-lettered, and every event the copy could not decode or apply must have its dead letter on the log
    (the live projector publishes one when it meets the event). `problems` lists each way this does not hold:
    a copy with problems would lose rows that the log has, and is never swapped in.
    """

    lines: tuple[str, ...]
    problems: tuple[str, ...]
    dead_lettered: int


async def audit(
    runner: ProjectionRunner, conn: asyncpg.Connection, schema: str, names: Sequence[str], head: LogHead,
) -> ReplayAudit:
    """Check the copy `runner` wrote into `schema` against the log as it stood when the copy caught up (the log
    may have moved on since); see ReplayAudit."""
    ends = head.last_ends or await head.ends()
    starts = await head.starts()
    positions = await read_positions(conn, schema, names)
    problems: list[str] = []
    totals: dict[str, list[int]] = {}
    order = {topic: i for i, topic in enumerate(runner.sources)}
    for (topic, partition), end in sorted(ends.items(), key=lambda item: (order.get(item[0][0], 0), item[0][1])):
        at = min((positions.get((n, topic, partition), 0) for n in names), default=0)
        ledger = runner.ledgers.get(TopicPartition(topic, partition))
        applied, dead = (ledger.applied, ledger.dead_lettered) if ledger else (0, 0)
        total = totals.setdefault(topic, [0, 0, 0])
        total[0] += at
        total[1] += applied
        total[2] += dead
        where = f"{topic}[{partition}]"
        if at < end:
            problems.append(f"{where} was read to offset {at:,} of {end:,}")
        if applied + dead != at:
            why = (f"; the log now starts at offset {starts[(topic, partition)]:,}, the offsets below it are gone"
                   if starts.get((topic, partition)) else "")
            problems.append(f"{where}: {at - applied - dead:,} of its first {at:,} offsets were neither applied nor "
                            f"dead-lettered{why}")
    unrecorded = [f for f in runner.failures if f.dead_letter_id not in runner.letters_seen]
    if unrecorded:
        shown = "; ".join(f"{f.where} ({f.reason}: {f.error})" for f in unrecorded[:SHOWN_FAILURES])
        one = len(unrecorded) == 1
        problems.append(f"{len(unrecorded):,} {'event' if one else 'events'} could not be decoded or applied and no "
                        f"dead letter for {'it' if one else 'them'} is on the log (is the live projector running? it "
                        f"dead-letters such events when it meets them): {shown}")
    lines = [f"{topic}: {at:,} offsets read: {applied:,} applied, {dead:,} dead-lettered"
             for topic, (at, applied, dead) in totals.items()]
    recorded = [f for f in runner.failures if f.dead_letter_id in runner.letters_seen]
    if recorded:
        n = len(recorded)
        lines.append(f"{n:,} {'event was' if n == 1 else 'events were'} dead-lettered by the projection (could not "
                     f"be decoded or applied; see `planperfect dlq list`):")
        lines += [f"    {f.where} {f.reason}: {f.error} (dead letter {f.dead_letter_id})"
                  for f in recorded[:SHOWN_FAILURES]]
    return ReplayAudit(tuple(lines), tuple(problems), len(recorded))
