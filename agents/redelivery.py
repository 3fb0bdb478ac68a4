"""Finds jobs whose request the consumer committed without the job moving on, and runs that request again.

The guard records where the message that carries each job on sits (`Progress.request_at`). If the worker's
consumer group has committed past that offset, the message was consumed; if the job is still waiting on it
a sweep later, and no attempt of it runs here, the message was lost between Kafka and the agent (a consumer
defect, see streams/faust_fixes.py). The message is then read back and published again to the same topic,
where its agent takes it like any other (Faust tables can only be written from inside a stream); the guard
makes that safe if it was not lost after all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Awaitable, Callable, Iterable
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.progress import JobState, Location, Progress
from agents.runner import Send
from streams.codec import key_for

log = logging.getLogger("planperfect.redelivery")

WAITING = (JobState.QUEUED, JobState.DELAYED, JobState.RUNNING, JobState.SETTLING)

# (topic, partition, offset) -> (value, timestamp in seconds), or None when the message is gone.
Read = Callable[[str, int, int], Awaitable[tuple[bytes, float] | None]]


def lost_requests(entries: Iterable[tuple[UUID, Progress]], committed: Callable[[str, int], int | None],
                  owned: Callable[[str, int], bool], busy: set[UUID]) -> dict[UUID, Progress]:
    """Jobs waiting on a message of a partition this worker owns whose offset the group has committed past."""
    found = {}
    for job_id, p in entries:
        if p.state not in WAITING or p.request_at is None or p.command_id in busy:
            continue
        topic, partition, offset = p.request_at
        if not owned(topic, partition):
            continue
        position = committed(topic, partition)
        if position is not None and position > offset:
            found[job_id] = p
    return found


@dataclass
class Redeliverer:
    """Publishes again, on each sweep, the messages found lost on this sweep and the one before (the job
    unchanged in between); until the job moves, its copy's place stands in for the lost one."""

    send: Send
    read: Read
    busy: Callable[[], set[UUID]]  # command ids of the attempts running in this worker
    suspected: dict[UUID, Progress] = field(default_factory=dict)
    copies: dict[UUID, tuple[Progress, Location]] = field(default_factory=dict)
    redelivered: int = 0
    generation: int | None = None  # of the consumer group, when the suspicions were gathered

    async def sweep(self, entries: Iterable[tuple[UUID, Progress]], committed: Callable[[str, int], int | None],
                    owned: Callable[[str, int], bool], generation: int | None = None) -> list[UUID]:
        if generation != self.generation:
            self.forget()
            self.generation = generation
        found = lost_requests((self._with_copy(j, p) for j, p in entries), committed, owned, self.busy())
        confirmed = {j: p for j, p in found.items() if self.suspected.get(j) == p}
        self.suspected = {j: p for j, p in found.items() if j not in confirmed}
        for job_id, p in confirmed.items():
            await self._again(job_id, p)
        return list(confirmed)

    def forget(self) -> None:
        """After a rebalance: what this worker owns has changed, suspicions start over."""
        self.suspected.clear()
        self.copies.clear()

    def _with_copy(self, job_id: UUID, p: Progress) -> tuple[UUID, Progress]:
        copy = self.copies.get(job_id)
        if copy is None:
            return job_id, p
        if copy[0] != p:  # the job moved: its copy did its work (or is a stale duplicate the guard drops)
            del self.copies[job_id]
            return job_id, p
        return job_id, replace(p, request_at=copy[1])

    async def _again(self, job_id: UUID, p: Progress) -> None:
        topic, partition, offset = p.request_at
        message = await self.read(topic, partition, offset)
        if message is None:
            log.error("job %s: its request %s[%d]@%d is no longer on the topic", job_id, topic, partition, offset)
            return
        landed = await self.send(topic, key_for(job_id), message[0])
        log.warning("job %s: %s[%d]@%d was committed by the consumer but never processed (job %s at %d); "
                    "published again at offset %s", job_id, topic, partition, offset, p.state, p.next_sequence,
                    landed[1] if landed else "?")
        self.redelivered += 1
        original = self.copies.get(job_id, (p,))[0]
        if landed is not None:
            self.copies[job_id] = (original, (topic, landed[0], landed[1]))


def kafka_reader(bootstrap: str) -> Read:
    """Reads one message by its offset with a consumer of its own (no group, nothing committed)."""

    async def read(topic: str, partition: int, offset: int) -> tuple[bytes, float] | None:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
            for msg in batch.get(tp, []):
                if msg.offset == offset:
                    return msg.value, msg.timestamp / 1000
            return None
        finally:
            await consumer.stop()

    return read

