"""Creates the catalogue's topics on a cluster, grows an empty topic to the deployment's partition count, and
reports, without changing, every other difference."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.topics import DEFAULT_PARTITIONS, Topics, TopicSpec
from streams.access import kafka_options

TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC = 3


class TopicState(StrEnum):
    CREATED = "created"
    GROWN = "grown"  # an empty topic given the catalogue's partition count
    OK = "ok"
    DRIFT = "drift"


@dataclass(frozen=True)
class TopicReport:
    name: str
    state: TopicState
    partitions: int
    differences: tuple[str, ...] = ()


async def describe(
    admin: AIOKafkaAdminClient, names: list[str], *, expect_all: bool = False
) -> dict[str, tuple[int, dict[str, str]]]:
    """Partition count and configs of each existing topic among `names` (`expect_all`: wait for all)."""
    found: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        meta = await admin.describe_topics(names)
        found = {t["topic"]: len(t["partitions"]) for t in meta if t["error_code"] == 0}
        settling = [
            t["topic"] for t in meta if t["error_code"] != 0 and (expect_all or t["error_code"] != UNKNOWN_TOPIC)
        ]
        if not settling or loop.time() > deadline:
            break
        await asyncio.sleep(0.1)  # a just-created topic has no leader for a moment: ask again
    if not found:
        return {}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in found]
    )
    configs: dict[str, dict[str, str]] = {name: {} for name in found}
    for resp in responses:
        for res in resp.to_object()["resources"]:
            configs[res["resource_name"]] = {
                e["config_names"]: e["config_value"] for e in res["config_entries"]
            }
    return {name: (parts, configs.get(name, {})) for name, parts in found.items()}


def _differences(spec: TopicSpec, partitions: int, config: dict[str, str]) -> tuple[str, ...]:
    diffs = []
    if partitions != spec.partitions:
        diffs.append(f"partitions: catalogue {spec.partitions}, cluster {partitions}")
    for key, want in spec.configs().items():
        have = config.get(key)
        if have is not None and have != want:
            diffs.append(f"{key}: catalogue {want}, cluster {have}")
    return tuple(diffs)


def refusal(spec: TopicSpec, partitions: int, messages: int) -> str:
    """Why `ensure` leaves a topic's partition count alone."""
    if messages:
        return (f"partitions: catalogue {spec.partitions}, cluster {partitions}; not changed: the topic holds "
                f"{messages} message(s), and a new count would send their keys to other partitions (a job's "
                f"messages would no longer be in order on one partition, nor owned by one worker)")
    return (f"partitions: catalogue {spec.partitions}, cluster {partitions}; not changed: Kafka cannot take "
            f"partitions away (delete the empty topic and run ensure again)")


async def ensure_topics(
    bootstrap: str, prefix: str, partitions: int = DEFAULT_PARTITIONS, replication: int = 1
) -> list[TopicReport]:
    """Create missing catalogue topics (with `replication` replicas each); give an empty topic with fewer partitions
    the deployment's count; report every other difference and never alter a topic that holds messages."""
    topics = Topics(prefix, partitions, replication).all()
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        existing = await describe(admin, [name for name, _ in topics])
        missing = [(name, spec) for name, spec in topics if name not in existing]
        if missing:
            resp = await admin.create_topics(
                [
                    NewTopic(name, spec.partitions, spec.replication, topic_configs=spec.configs())
                    for name, spec in missing
                ],
                timeout_ms=15000,
            )
            raced = []
            for name, code, *rest in resp.topic_errors:
                if code == TOPIC_ALREADY_EXISTS:
                    raced.append(name)  # created by someone else just now; metadata has not caught up
                elif code != 0:
                    raise RuntimeError(f"creating topic {name} failed: error {code} {rest}")
            if raced:
                existing |= await describe(admin, raced, expect_all=True)
        recounted = [name for name, spec in topics if name in existing and existing[name][0] != spec.partitions]
        messages = await _message_counts(bootstrap, {name: existing[name][0] for name in recounted})
        grow = {name: NewPartitions(spec.partitions) for name, spec in topics
                if name in recounted and not messages[name] and spec.partitions > existing[name][0]}
        if grow:
            await admin.create_partitions(grow, timeout_ms=15000)
            await _until_counted(admin, {name: p.total_count for name, p in grow.items()})
        reports = []
        for name, spec in topics:
            if name in grow:
                diffs = _differences(spec, spec.partitions, existing[name][1])
                reports.append(TopicReport(name, TopicState.DRIFT if diffs else TopicState.GROWN, spec.partitions, diffs))
            elif name in existing:
                parts, config = existing[name]
                diffs = _differences(spec, parts, config)
                if name in recounted:
                    diffs = (refusal(spec, parts, messages[name]), *diffs[1:])
                state = TopicState.DRIFT if diffs else TopicState.OK
                reports.append(TopicReport(name, state, parts, diffs))
            else:
                reports.append(TopicReport(name, TopicState.CREATED, spec.partitions))
        return reports
    finally:
        await admin.close()


async def _until_counted(admin: AIOKafkaAdminClient, want: dict[str, int]) -> None:
    """Wait (bounded) until the cluster's metadata shows the new counts, so the next look agrees."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while loop.time() < deadline:
        found = await describe(admin, list(want))
        if all(found.get(name, (0,))[0] == count for name, count in want.items()):
            return
        await asyncio.sleep(0.1)  # metadata propagates to the broker's cache: ask again


async def _message_counts(bootstrap: str, partitions: dict[str, int]) -> dict[str, int]:
    """Messages ever written to each topic (end offsets; a topic emptied by retention still had keys placed)."""
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(name, p) for name, count in partitions.items() for p in range(count)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {name: sum(n for tp, n in ends.items() if tp.topic == name) for name in partitions}


async def list_topics(bootstrap: str, prefix: str, partitions: int = DEFAULT_PARTITIONS) -> list[TopicReport]:
    """The catalogue's topics as the cluster has them (missing ones are absent)."""
    topics = Topics(prefix, partitions).all()
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=15000)
    await admin.start()
    try:
        existing = await describe(admin, [name for name, _ in topics])
    finally:
        await admin.close()
    out = []
    for name, spec in topics:
        if name in existing:
            parts, config = existing[name]
            diffs = _differences(spec, parts, config)
            out.append(TopicReport(name, TopicState.DRIFT if diffs else TopicState.OK, parts, diffs))
    return out
