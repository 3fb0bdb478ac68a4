"""Watching a running deployment from outside: its log's timestamps, its consumer group, its workers' CPU."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.payloads import PIPELINES, JobType, Stage
from streams.topics import Lane, Topics
from streams.access import kafka_options

ARTICLE_STAGES = PIPELINES[JobType.ARTICLE]
CALLING_STAGES = frozenset({Stage.RESEARCH.value, Stage.OUTLINE.value, Stage.DRAFT.value})  # the provider's calls
_STAGE = re.compile(rb'"stage":"([a-z]+)"')  # the event's own stage comes before any output it carries


def _kind(value: bytes) -> bytes | None:
    for kind in (b"StageStarted", b"StageCompleted", b"JobCompleted", b"JobSubmitted", b"StageFailed",
                 b"JobDeadLettered"):
        if b'"type":"' + kind + b'"' in value:
            return kind
    return None


@dataclass
class LogWatch:
    """Kafka record timestamps (ms) of what the jobs wrote, read by a consumer in no group (it disturbs no one).

    Requests are read off the article stages' normal-lane topics, events off `job-events`; both timestamps are
    set by the producer that wrote them, on this machine's clock.
    """

    submitted: dict[bytes, int] = field(default_factory=dict)
    completed: dict[bytes, int] = field(default_factory=dict)
    requested: dict[tuple[bytes, str], int] = field(default_factory=dict)
    started: dict[tuple[bytes, str], int] = field(default_factory=dict)
    calls: list[tuple[int, int]] = field(default_factory=list)  # (timestamp, +1 started / -1 ended) of provider stages
    failures: int = 0
    stages_completed: int = 0  # StageCompleted of every stage: six make one article's work

    def take(self, topic_stage: str | None, records) -> None:
        for r in records:
            key = r.key
            if topic_stage is not None:
                self.requested.setdefault((key, topic_stage), r.timestamp)
                continue
            kind = _kind(r.value)
            if kind is None:
                continue
            if kind == b"JobCompleted":
                self.completed.setdefault(key, r.timestamp)
            elif kind == b"JobSubmitted":
                self.submitted.setdefault(key, r.timestamp)
            else:
                match = _STAGE.search(r.value)
                stage = match.group(1).decode() if match else ""
                if kind == b"StageStarted":
                    self.started.setdefault((key, stage), r.timestamp)
                elif kind == b"StageCompleted":
                    self.stages_completed += 1
                else:
                    self.failures += 1
                if stage in CALLING_STAGES and kind != b"JobDeadLettered":
                    self.calls.append((r.timestamp, 1 if kind == b"StageStarted" else -1))

    def done(self, keys: list[bytes]) -> int:
        return sum(1 for k in keys if k in self.completed)

    def job_latencies_ms(self, keys: list[bytes]) -> list[float]:
        return [float(self.completed[k] - self.submitted[k]) for k in keys if k in self.completed and k in self.submitted]

    def hop_latencies_ms(self, keys: list[bytes]) -> dict[str, list[float]]:
        """Request written -> StageStarted, per stage."""
        out: dict[str, list[float]] = defaultdict(list)
        wanted = set(keys)
        for (key, stage), at in self.started.items():
            asked = self.requested.get((key, stage))
            if key in wanted and asked is not None:
                out[stage].append(float(at - asked))
        return out

    def calls_completed(self, since_ms: int) -> tuple[int, int]:
        """How many provider-stage attempts ended from `since_ms` on, and when the last one did."""
        ends = [at for at, step in self.calls if step < 0 and at >= since_ms]
        return len(ends), max(ends, default=since_ms)

    def calls_in_flight(self, since_ms: int, until_ms: int) -> tuple[int, float]:
        """Peak and time-weighted mean of provider-stage attempts running between two instants."""
        level = peak = 0
        area = 0.0
        last = since_ms
        for at, step in sorted(self.calls, key=lambda c: (c[0], -c[1])):  # a start before an end in the same ms
            if at > until_ms:
                break
            if at >= since_ms:
                area += level * (at - last)
                last = at
            level += step
            if at >= since_ms:
                peak = max(peak, level)
        area += level * max(0, until_ms - last)
        return peak, area / max(1, until_ms - since_ms)


async def watch(bootstrap: str, topics: Topics, into: LogWatch, stop: asyncio.Event) -> None:
    sources = {topics.job_events: None} | {topics.stage(s, Lane.NORMAL): s.value for s in ARTICLE_STAGES}
    partitions = await _partitions(bootstrap, list(sources))
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 << 20, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50, max_records=10_000)
            for tp, records in batch.items():
                into.take(sources[tp.topic], records)
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, names: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        meta = await admin.describe_topics(names)
    finally:
        await admin.close()
    if missing := [t["topic"] for t in meta if t["error_code"]]:
        raise RuntimeError(f"topics missing on the cluster: {', '.join(missing)}")
    return [TopicPartition(t["topic"], p["partition"]) for t in meta for p in t["partitions"]]


async def wait_for_members(bootstrap: str, group: str, members: int, timeout: float) -> bool:
    """True once the group is stable with `members` members; False if it never shows up that way in time."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for response in await admin.describe_consumer_groups([group]):
                for g in response.to_object()["groups"]:
                    if g["state"] == "Stable" and len(g["members"]) == members:
                        return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await admin.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used, from /proc/<pid>/stat (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
