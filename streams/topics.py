"""The topic catalogue: the only place topic names and their settings are written."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from streams.payloads import Stage

DAY_MS = 24 * 3600 * 1000


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


class Lane(StrEnum):
    """Priority lanes: each stage has one topic per lane, consumed by agents of different weight."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


def lane_for(priority: int) -> Lane:
    """Priority 0-10 at intake: 7 and above is high, 3 and below is low."""
    if priority >= 7:
        return Lane.HIGH
    if priority <= 3:
        return Lane.LOW
    return Lane.NORMAL


# Delay tiers in seconds: a delayed message waits in the largest tier not longer than what remains,
# so every tier is first-in first-due and nothing due earlier waits behind something due later.
DELAY_TIERS: tuple[int, ...] = (1, 5, 30, 120, 600, 3600)


@dataclass(frozen=True)
class TopicSpec:
    """A topic of the system: its name below the deployment prefix and the settings it must have."""

    suffix: str
    partitions: int
    description: str
    replication: int = 1
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE
    retention_ms: int = -1  # -1: kept forever, so that the log can always be replayed

    def name(self, prefix: str) -> str:
        return f"{prefix}{self.suffix}"

    def configs(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy.value, "retention.ms": str(self.retention_ms)}


# Every topic of a deployment has the same partition count, so one job's messages on all of them land on
# the same partition number, and the workers' range assignment gives them to the same worker: a cancel
# reaches the worker running the job's attempt, and one worker owns each job's guard. The count is a
# setting per deployment (PLANPERFECT_PARTITIONS); it bounds how many worker processes share the work.
DEFAULT_PARTITIONS = 12

JOB_EVENTS = TopicSpec("job-events", DEFAULT_PARTITIONS, "Source of truth: every job's events, keyed by job id.")
DEAD_LETTERS = TopicSpec("dead-letters", DEFAULT_PARTITIONS, "Messages that could not be processed, with the reason.")
JOB_CONTROL = TopicSpec("job-control", DEFAULT_PARTITIONS, "Cancellation requests, keyed by job id.", retention_ms=7 * DAY_MS)
PACING_EVENTS = TopicSpec("pacing-events", DEFAULT_PARTITIONS, "Pacing context: users' schedules, knowledge and meetings, keyed by user id.")
ACCESS_EVENTS = TopicSpec("access-events", DEFAULT_PARTITIONS, "Audit trail of operator actions: API keys created and revoked (keyed by key id), projections rebuilt and verified (keyed projections), by whom.")
STAGE_REQUESTS: dict[tuple[Stage, Lane], TopicSpec] = {
    (stage, lane): TopicSpec(
        f"stage.{stage.value}.{lane.value}",
        DEFAULT_PARTITIONS,
        f"Requests to run the {stage.value} stage, {lane.value} priority, keyed by job id.",
        retention_ms=7 * DAY_MS,
    )
    for stage in Stage
    for lane in Lane
}
DELAYS: dict[int, TopicSpec] = {
    tier: TopicSpec(f"delay.{tier}s", DEFAULT_PARTITIONS, f"Messages held up to {tier}s before delivery.", retention_ms=14 * DAY_MS)
    for tier in DELAY_TIERS
}

CATALOGUE: tuple[TopicSpec, ...] = (JOB_EVENTS, DEAD_LETTERS, JOB_CONTROL, *STAGE_REQUESTS.values(), *DELAYS.values(),
                                    PACING_EVENTS, ACCESS_EVENTS)


class Topics:
    """The catalogue resolved under one deployment prefix (and its partition count and replication factor)."""

    def __init__(self, prefix: str, partitions: int = DEFAULT_PARTITIONS, replication: int = 1) -> None:
        self.prefix = prefix
        self.partitions = partitions
        self.replication = replication
        self.job_events = JOB_EVENTS.name(prefix)
        self.dead_letters = DEAD_LETTERS.name(prefix)
        self.job_control = JOB_CONTROL.name(prefix)
        self.pacing_events = PACING_EVENTS.name(prefix)
        self.access_events = ACCESS_EVENTS.name(prefix)

    def stage(self, stage: Stage, lane: Lane = Lane.NORMAL) -> str:
        return STAGE_REQUESTS[(stage, lane)].name(self.prefix)

    def delay(self, tier: int) -> str:
        return DELAYS[tier].name(self.prefix)

    def all(self) -> list[tuple[str, TopicSpec]]:
        return [(spec.name(self.prefix), replace(spec, partitions=self.partitions, replication=self.replication))
                for spec in CATALOGUE]

    def group(self, role: str) -> str:
        """Consumer group id of a role (`projector`, `workers`) in this deployment."""
        return f"{self.prefix}{role}"
