"""Creates the catalogue's topics on a cluster and reports, without changing, those that differ."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.topics import Topics, TopicSpec

TOPIC_ALREADY_EXISTS = 36
UNKNOWN_TOPIC = 3


class TopicState(StrEnum):
    CREATED = "created"
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


async def ensure_topics(bootstrap: str, prefix: str) -> list[TopicReport]:
    """Create missing catalogue topics; report drifted ones; never alter an existing topic."""
    topics = Topics(prefix).all()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
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
        reports = []
        for name, spec in topics:
            if name in existing:
                parts, config = existing[name]
                diffs = _differences(spec, parts, config)
                state = TopicState.DRIFT if diffs else TopicState.OK
                reports.append(TopicReport(name, state, parts, diffs))
            else:
                reports.append(TopicReport(name, TopicState.CREATED, spec.partitions))
        return reports
    finally:
        await admin.close()


async def list_topics(bootstrap: str, prefix: str) -> list[TopicReport]:
    """The catalogue's topics as the cluster has them (missing ones are absent)."""
    topics = Topics(prefix).all()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
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
