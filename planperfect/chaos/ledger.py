"""Reading a deployment's log to its end from outside: every job event as written, repeats included."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from streams.access import kafka_options
from streams.codec import decode_event
from streams.events import Event
from streams.topics import Topics


async def read_all(bootstrap: str, topics: list[tuple[str, int]]) -> tuple[list[tuple[TopicPartition, ConsumerRecord]],
                                                                           dict[TopicPartition, int]]:
    """(topic partition, message) for every message now on the (name, partitions) topics, from the beginning, read
    by a consumer in no group (it disturbs no one); and the end offset of each partition it read to."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for name, partitions in topics for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out, left = [], {tp for tp in tps if ends[tp] > 0}
        while left:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                raise RuntimeError(f"could not read to the end of {sorted(left)}")
            for tp, msgs in batch.items():
                for m in msgs:
                    out.append((tp, m))
                    if m.offset + 1 >= ends[tp]:
                        left.discard(tp)
        return out, ends
    finally:
        await consumer.stop()


async def logged_events(bootstrap: str, topics: Topics) -> list[Event]:
    """Every event on the job-events topic, decoded, repeats included (what the workers wrote, not what was projected)."""
    messages, _ = await read_all(bootstrap, [(topics.job_events, topics.partitions)])
    return [decode_event(m.value) for _, m in messages]
