"""`bench relay`: the raw aiokafka limit, a 6-hop relay with no stage work, that PlanPerfect is measured against.

Each hop is a topic; one consumer reads all six in batches (`getmany`), and for each message produces the next
hop and one event (acks=all, idempotent producer), awaits those acknowledgements, then commits.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from planperfect.bench.deployment import remove_topics, wait_for_topics
from planperfect.bench.report import Progress, Result
from streams.access import kafka_options

HOPS = 6  # as many as an article's stages


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    finally:
        await admin.close()
    await wait_for_topics(bootstrap, names)


async def wait_assigned(consumer: AIOKafkaConsumer, partitions: int, timeout: float = 60.0) -> None:
    """Until the group has handed this consumer every partition: the start-up is not part of the figure."""
    deadline = time.monotonic() + timeout
    while len(consumer.assignment()) < partitions:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the relay's consumer has {len(consumer.assignment())} of {partitions} partitions")
        await asyncio.sleep(0.05)
    for tp in consumer.assignment():
        await consumer.position(tp)  # its committed offset fetched: the consumer is ready to fetch


async def relay(consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, hops: list[str], events: str,
                delivered: list[int], stop: asyncio.Event) -> None:
    last = hops[-1]
    following = dict(zip(hops, hops[1:]))
    while not stop.is_set():
        batch = await consumer.getmany(timeout_ms=100, max_records=5000)
        pending = []
        finished = 0
        for tp, records in batch.items():
            for r in records:
                if tp.topic != last:
                    pending.append(await producer.send(following[tp.topic], r.value, key=r.key))
                else:
                    finished += 1
                pending.append(await producer.send(events, b'{"hop":"' + tp.topic.encode() + b'"}', key=r.key))
        if pending:
            await asyncio.gather(*pending)
            await consumer.commit()
            delivered[0] += finished


async def run_relay(bootstrap: str, prefix: str, *, jobs: int, payload_bytes: int = 1024, partitions: int = 12,
                    timeout: float = 300.0) -> Result:
    hops = [f"{prefix}relay.hop{i}" for i in range(1, HOPS + 1)]
    events = f"{prefix}relay.events"
    await create_topics(bootstrap, [*hops, events], partitions)
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    # A short broker-side fetch wait: each hop's batch is fetched as soon as the previous hop wrote it. The
    # relay is the limit, so it gets the settings that make it fastest here.
    consumer = AIOKafkaConsumer(*hops, **kafka_options(bootstrap), group_id=f"{prefix}relay",
                                enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=20,
                                max_partition_fetch_bytes=4 << 20)
    await producer.start()
    await consumer.start()
    delivered, stop = [0], asyncio.Event()
    task = asyncio.create_task(relay(consumer, producer, hops, events, delivered, stop))
    progress = Progress("relay", jobs)
    try:
        await wait_assigned(consumer, partitions * HOPS)
        payload = b"x" * payload_bytes
        began = time.monotonic()
        sent = [await producer.send(hops[0], payload, key=str(i).encode()) for i in range(jobs)]
        await asyncio.gather(*sent)
        while delivered[0] < jobs and time.monotonic() - began < timeout and not task.done():
            progress.update(delivered[0])
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - began
        progress.update(delivered[0])
    finally:
        progress.close()
        stop.set()
        await asyncio.wait([task], timeout=5)
        if task.done() and task.exception():
            raise task.exception()
        await consumer.stop()
        await producer.stop()
        await remove_topics(bootstrap, prefix, [*hops, events])
    result = Result("relay: raw aiokafka, 6 hops, no stage work")
    result.add("jobs_per_s", f"jobs/s ({jobs:,} jobs through {HOPS} hops)", delivered[0] / elapsed, "jobs/s",
               "" if delivered[0] == jobs else f"timed out: {delivered[0]} of {jobs}")
    result.add("messages_per_s", "messages written/s (next hop + event)", delivered[0] * (2 * HOPS - 1) / elapsed,
               "msgs/s")
    result.notes.append(f"{payload_bytes}-byte payload, {partitions} partitions per hop, one consumer and one "
                        "idempotent producer (acks=all), commit after the batch's sends are acknowledged")
    return result
