"""Read-your-writes: before answering 404 for an id, wait (bounded) until the projector has passed its write.

An id this API handed out may not be projected yet: the projector folds the log into PostgreSQL a few
milliseconds after the 202. A miss therefore asks where the id's write would be on the log: the
partition its key maps to (aiokafka's own DefaultPartitioner over the producer's view of the topic,
so the same partition the write went to, from whichever API process wrote it) and that partition's
end offset now. Once the projection that owns the table has stored a position at or past that end,
every write acknowledged before the miss is in the table, and a second miss is a true 404. When the
projector is caught up that costs one ListOffsets round trip and one small query.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from api.errors import ApiError, unavailable
from api.notifications import JobNotifications
from api.producer import KafkaProducerLink
from projections.queries import projection_positions
from streams.access import kafka_options

T = TypeVar("T")

_FIRST_POLL = 0.005
_LONGEST_POLL = 0.05
BEHIND_RETRY_AFTER_SECONDS = 1  # a projector that is only behind catches up in moments, unlike an outage


class ReadYourWrites:
    """Waits for the projector on behalf of reads; one small group-less consumer for end offsets, started on
    first use (so the API starts, and answers, while Kafka is away)."""

    def __init__(self, bootstrap: str, wait_seconds: float, *, pool: asyncpg.Pool, producer: KafkaProducerLink,
                 notifications: JobNotifications | None = None, kafka_seconds: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.wait_seconds = wait_seconds  # for the projector
        self.kafka_seconds = kafka_seconds  # for the log's end offsets
        self.pool = pool
        self.producer = producer
        self.notifications = notifications
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _offsets(self) -> AIOKafkaConsumer:
        async with self._lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(**kafka_options(self.bootstrap), group_id=None, enable_auto_commit=False)
                try:
                    await consumer.start()
                except BaseException:  # no broker (or the request was cancelled): close what start() opened
                    await consumer.stop()
                    raise
                self._consumer = consumer
            return self._consumer

    async def write_positions(self, topic: str, key: bytes | None) -> dict[int, int]:
        """End offset now of the partition a message keyed `key` goes to on `topic` (every partition if None)."""
        partitions = sorted(await self.producer.get().partitions_for(topic))
        if key is not None:
            partitions = [DefaultPartitioner()(key, partitions, partitions)]
        ends = await (await self._offsets()).end_offsets([TopicPartition(topic, p) for p in partitions])
        return {tp.partition: end for tp, end in ends.items()}

    async def read(self, lookup: Callable[[], Awaitable[T | None]], *, projection: str, topic: str,
                   key: bytes | None, job_id: str | None = None) -> T | None:
        """`lookup()`; on a miss, `lookup()` again once `projection` has passed every write made so far
        under `key` (None: any key), and None only then."""
        found = await lookup()
        if found is not None:
            return found
        await self.settle(projection=projection, topic=topic, key=key, job_id=job_id)
        return await lookup()

    async def settle(self, *, projection: str, topic: str, key: bytes | None, job_id: str | None = None) -> None:
        """Return once `projection` has applied every write acknowledged so far under `key` (None: any key).

        503 when Kafka cannot tell the log's end, or the projector has not got there, within the bound."""
        try:
            async with asyncio.timeout(self.kafka_seconds):
                ends = await self.write_positions(topic, key)
        except (KafkaError, TimeoutError) as exc:
            raise unavailable("kafka_unavailable", "could not read the log's end to know whether the read model "
                              f"is complete: {type(exc).__name__}") from None
        if not await self._caught_up(projection, topic, ends, job_id):
            raise ApiError(503, "read_model_behind",
                           f"the read model has not caught up with the log within {self.wait_seconds:g} s; retry",
                           details={"topic": topic, "end_offsets": {str(p): end for p, end in ends.items()}},
                           headers={"Retry-After": str(BEHIND_RETRY_AFTER_SECONDS)})

    async def _caught_up(self, projection: str, topic: str, ends: dict[int, int], job_id: str | None) -> bool:
        if job_id is None or self.notifications is None:
            return await self._poll(projection, topic, ends, None)
        event = self.notifications.watch(job_id)
        try:
            return await self._poll(projection, topic, ends, event)
        finally:
            self.notifications.unwatch(job_id, event)

    async def _poll(self, projection: str, topic: str, ends: dict[int, int], event: asyncio.Event | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        pause = _FIRST_POLL
        while True:
            if event is not None:
                event.clear()
            async with self.pool.acquire() as conn:
                positions = await projection_positions(conn, projection, topic, list(ends))
            if all(positions[p] >= end for p, end in ends.items()):
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            # Poll with a growing pause; for a job, the projector's NOTIFY (sent in the transaction that
            # stores its offsets) ends the pause at once.
            if event is not None:
                try:
                    await asyncio.wait_for(event.wait(), min(pause, left))
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, _LONGEST_POLL)
