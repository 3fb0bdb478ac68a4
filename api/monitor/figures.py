"""The operator's figures, computed once for the overview page, its live feed and GET /metrics.

Queue figures come from Kafka through streams.depth (what GET /v1/queues reads); stage activity from the
read model's event log (projections.monitor_queries), since the workers' own counters live in their processes.
A key bound to a tenant gets an overview of its tenant's jobs: activity, attempts in flight and dead letters,
and no queue figures, which are every tenant's work together.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from api.config import ApiConfig
from projections import monitor_queries as mq
from streams.depth import depth_targets, queue_depths
from streams.payloads import Stage
from streams.topics import Lane, lane_for

BUCKET_SECONDS = 10  # activity is read in 10 s buckets: the last minute to the bucket, the hour as 60 points
WINDOW = timedelta(hours=1)
COUNTED = {"StageCompleted": "completed", "StageFailed": "failed", "RetryScheduled": "retried",
           "JobDeadLettered": "dead_lettered"}


async def queue_figures(cfg: ApiConfig) -> list[dict[str, Any]]:
    """Every watched topic as GET /v1/queues shows it (raises KafkaError when Kafka cannot be read)."""
    targets = depth_targets(cfg.topics)
    depths = await queue_depths(cfg.bootstrap, [(t, g) for t, g, _ in targets])
    return [{**labels, "topic": topic, "group": group, "queue_length": d.queue_length,
             "oldest_msg_age_sec": d.oldest_msg_age_sec, "partitions": d.partitions}
            for (topic, group, labels), d in zip(targets, depths)]


@dataclass
class StageLane:
    stage: str
    lane: str
    time_limit_seconds: int
    queue_length: int | None = None
    oldest_msg_age_sec: float | None = None
    in_flight: int = 0
    dead_letters: int = 0
    last_minute: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED.values(), 0))
    per_minute: dict[str, list[int]] = field(default_factory=lambda: {k: [0] * 60 for k in COUNTED.values()})

    @property
    def alert(self) -> bool:
        """The oldest waiting request is older than one attempt's time limit: the stage is not keeping up."""
        return self.oldest_msg_age_sec is not None and self.oldest_msg_age_sec > self.time_limit_seconds

    @property
    def idle(self) -> bool:
        return not (self.queue_length or self.in_flight or self.dead_letters or any(map(sum, self.per_minute.values())))


@dataclass
class Overview:
    generated_at: datetime
    stages: list[StageLane]
    delays: list[dict[str, Any]]
    others: list[dict[str, Any]]  # control, dispatcher, projector, dead-letter topics
    kafka_error: str | None = None
    tenant: str | None = None  # the figures are this tenant's jobs' only, without Kafka's

    @property
    def projector_lag(self) -> int | None:
        lags = [o["queue_length"] for o in self.others if o["kind"] in ("projector", "dead_letters")]
        return sum(lags) if lags and None not in lags else None


async def overview(pool: asyncpg.Pool, cfg: ApiConfig, *, now: datetime | None = None,
                   tenant: str | None = None) -> Overview:
    now = now or datetime.now(timezone.utc)
    rows = {(s.value, lane.value): StageLane(s.value, lane.value, cfg.default_visibility_seconds)
            for s in Stage for lane in Lane}
    queues, kafka_error = [], None
    try:
        queues = await queue_figures(cfg) if tenant is None else []
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        kafka_error = f"Kafka could not be read ({type(exc).__name__})"
    for q in queues:
        if q["kind"] == "stage":
            row = rows[(q["stage"], q["lane"])]
            row.queue_length, row.oldest_msg_age_sec = q["queue_length"], q["oldest_msg_age_sec"]
    async with pool.acquire() as conn:
        activity = await mq.stage_activity(conn, now - WINDOW, BUCKET_SECONDS, tenant)
        running = await mq.running_stages(conn, tenant)
        dead = await mq.open_dead_letters(conn, tenant)
    now_bucket = int(now.timestamp()) // BUCKET_SECONDS
    for a in activity:
        row = rows.get((a["stage"], lane_for(a["priority"]).value))
        if row is None:
            continue
        what, age = COUNTED[a["type"]], now_bucket - a["bucket"]
        if age < 60 // BUCKET_SECONDS:
            row.last_minute[what] += a["n"]
        minute = 59 - age * BUCKET_SECONDS // 60
        if 0 <= minute < 60:
            row.per_minute[what][minute] += a["n"]
    for r in running:
        if (row := rows.get((r["stage"], lane_for(r["priority"]).value))) is not None:
            row.in_flight += r["n"]
    for d in dead:
        if (row := rows.get((d["stage"], lane_for(d["priority"]).value))) is not None:
            row.dead_letters += d["n"]
    return Overview(now, list(rows.values()), [q for q in queues if q["kind"] == "delay"],
                    [q for q in queues if q["kind"] not in ("stage", "delay")], kafka_error, tenant)


class OverviewCache:
    """One overview per interval and tenant however many pages watch: each reads Kafka and PostgreSQL once."""

    def __init__(self, pool: asyncpg.Pool, cfg: ApiConfig, max_age: float = 1.5) -> None:
        self.pool, self.cfg, self.max_age = pool, cfg, max_age
        self._lock = asyncio.Lock()
        # tenant (None: the whole deployment) -> (overview, when); an entry older than max_age is read afresh and
        # the others that old are dropped, so the cache holds the tenants watched lately.
        self._values: dict[str | None, tuple[Overview, float]] = {}

    async def get(self, tenant: str | None = None) -> Overview:
        async with self._lock:
            now = time.monotonic()
            cached = self._values.get(tenant)
            if cached is None or now - cached[1] > self.max_age:
                self._values = {t: v for t, v in self._values.items() if now - v[1] <= self.max_age}
                self._values[tenant] = cached = (await overview(self.pool, self.cfg, tenant=tenant), time.monotonic())
            return cached[0]


def sparkline(points: list[int], width: int = 120, height: int = 24) -> str:
    """The SVG polyline points of a series, scaled to its own maximum (a flat line at the bottom when empty)."""
    top = max(points) or 1
    step = width / max(1, len(points) - 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(points))
