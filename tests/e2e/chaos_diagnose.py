"""Reading the log for the chaos test: every job event as written, and where a stuck job's messages sit against the group's commits."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.codec import decode_event
from streams.topics import Topics
from tests.support import TEST_PARTITIONS
from streams.access import kafka_options


async def _read_all(bootstrap: str, topics: list[tuple[str, int]]):
    """(topic partition, message) for every message now on the (name, partitions) topics, from the beginning."""
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
                raise AssertionError(f"could not read to the end of {sorted(left)}")
            for tp, msgs in batch.items():
                for m in msgs:
                    out.append((tp, m))
                    if m.offset + 1 >= ends[tp]:
                        left.discard(tp)
        return out, ends
    finally:
        await consumer.stop()


async def logged_events(bootstrap: str, prefix: str) -> list:
    """Every event on the job-events topic, decoded, repeats included (what the workers wrote, not what was projected)."""
    topics = Topics(prefix, TEST_PARTITIONS)
    messages, _ = await _read_all(bootstrap, [(n, spec.partitions) for n, spec in topics.all() if n == topics.job_events])
    return [decode_event(m.value) for _, m in messages]


async def where_are(bootstrap: str, prefix: str, job_ids: list[str]) -> str:
    """Each message of the stuck jobs with its partition's committed offset, then every partition the workers lag on."""
    topics = Topics(prefix, TEST_PARTITIONS)
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(topics.group("workers"))
    finally:
        await admin.close()
    messages, ends = await _read_all(bootstrap, [(name, spec.partitions) for name, spec in topics.all()])
    wanted = {j.encode() for j in job_ids}
    lines = []
    for tp, m in messages:
        if m.key in wanted:
            c = committed.get(tp)
            lines.append(f"{m.key.decode()[:8]} {tp.topic}[{tp.partition}]@{m.offset} "
                         f"committed={c.offset if c else None} end={ends[tp]} {m.value[:90]!r}")
    for tp in sorted(ends):
        c = committed.get(tp)
        if ends[tp] and (c is None or c.offset != ends[tp]):
            lines.append(f"lagging {tp.topic}[{tp.partition}] committed={c.offset if c else None} end={ends[tp]}")
    return "\n".join(sorted(lines))
