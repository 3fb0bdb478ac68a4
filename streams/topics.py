"""The topic catalogue: the only place topic names and their settings are written."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.payloads import Stage

DAY_MS = 24 * 3600 * 1000


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"


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


PARTITIONS = 4

JOB_EVENTS = TopicSpec("job-events", PARTITIONS, "Source of truth: every job's events, keyed by job id.")
DEAD_LETTERS = TopicSpec("dead-letters", PARTITIONS, "Messages that could not be processed, with the reason.")
STAGE_REQUESTS: dict[Stage, TopicSpec] = {
    stage: TopicSpec(
        f"stage.{stage.value}",
        PARTITIONS,
        f"Requests to run the {stage.value} stage of a job, keyed by job id.",
        retention_ms=7 * DAY_MS,
    )
    for stage in Stage
}

CATALOGUE: tuple[TopicSpec, ...] = (JOB_EVENTS, DEAD_LETTERS, *STAGE_REQUESTS.values())


class Topics:
    """The catalogue resolved under one deployment prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.job_events = JOB_EVENTS.name(prefix)
        self.dead_letters = DEAD_LETTERS.name(prefix)

    def stage(self, stage: Stage) -> str:
        return STAGE_REQUESTS[stage].name(self.prefix)

    def all(self) -> list[tuple[str, TopicSpec]]:
        return [(spec.name(self.prefix), spec) for spec in CATALOGUE]

    def group(self, role: str) -> str:
        """Consumer group id of a role (`projector`, `workers`) in this deployment."""
        return f"{self.prefix}{role}"
