"""Queue depth of topics for consumer groups: lag, message ages and totals, read from Kafka itself."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.payloads import Stage
from streams.topics import DELAY_TIERS, Lane, Topics
from streams.access import kafka_options


@dataclass
class PartitionDepth:
    partition: int
    committed: int | None
    end: int
    lag: int


@dataclass
class QueueDepth:
    """One topic as seen by one consumer group (the seed's getQueueDepth, per topic)."""

    topic: str
    group: str
    queue_length: int = 0
    total_messages: int = 0
    oldest_msg_age_sec: float | None = None
    newest_msg_age_sec: float | None = None
    partitions: list[PartitionDepth] = field(default_factory=list)


def depth_targets(topics: Topics) -> list[tuple[str, str, dict]]:
    """(topic, consumer group, labels) of everything worth watching in one deployment."""
    workers, projector = topics.group("workers"), topics.group("projector")
    out = [(topics.stage(s, lane), workers, {"kind": "stage", "stage": s.value, "lane": lane.value})
           for s in Stage for lane in Lane]
    out += [(topics.delay(t), workers, {"kind": "delay", "tier_seconds": t}) for t in DELAY_TIERS]
    out += [(topics.job_control, workers, {"kind": "control"}),
            (topics.job_events, workers, {"kind": "dispatcher"}),
            (topics.job_events, projector, {"kind": "projector"}),
            (topics.dead_letters, projector, {"kind": "dead_letters"})]
    return out


async def queue_depths(bootstrap: str, wanted: list[tuple[str, str]]) -> list[QueueDepth]:
    """Depth of each (topic, group): lag = end offset - committed offset (the start when none)."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in {g for _, g in wanted}:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        tps: dict[str, list[TopicPartition]] = {}
        for topic, _ in wanted:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - see topics created since start
                parts = consumer.partitions_for_topic(topic) or set()
            tps[topic] = [TopicPartition(topic, p) for p in sorted(parts)]
        every = [tp for group_tps in tps.values() for tp in group_tps]
        starts = await consumer.beginning_offsets(every) if every else {}
        ends = await consumer.end_offsets(every) if every else {}
        result: list[QueueDepth] = []
        probes: list[tuple[QueueDepth, TopicPartition, int, str]] = []
        for topic, group in wanted:
            depth = QueueDepth(topic, group)
            for tp in tps[topic]:
                done = committed[group].get(tp)
                first_unprocessed = max(done if done is not None else starts[tp], starts[tp])
                lag = max(0, ends[tp] - first_unprocessed)
                depth.partitions.append(PartitionDepth(tp.partition, done, ends[tp], lag))
                depth.queue_length += lag
                depth.total_messages += ends[tp]
                if lag:
                    probes.append((depth, tp, first_unprocessed, "oldest"))
                    probes.append((depth, tp, ends[tp] - 1, "newest"))
            result.append(depth)
        await _ages(consumer, probes)
        return result
    finally:
        await consumer.stop()
        await admin.close()


async def _ages(consumer: AIOKafkaConsumer, probes: list[tuple[QueueDepth, TopicPartition, int, str]]) -> None:
    """Read the timestamp of the oldest unprocessed and newest message of each lagging partition."""
    now = time.time()
    for depth, tp, offset, which in probes:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batch = await consumer.getmany(tp, timeout_ms=2000, max_records=1)
        msgs = batch.get(tp) or []
        if not msgs:
            continue
        age = round(max(0.0, now - msgs[0].timestamp / 1000), 3)
        if which == "oldest":
            depth.oldest_msg_age_sec = age if depth.oldest_msg_age_sec is None else max(depth.oldest_msg_age_sec, age)
        else:
            depth.newest_msg_age_sec = age if depth.newest_msg_age_sec is None else min(depth.newest_msg_age_sec, age)
