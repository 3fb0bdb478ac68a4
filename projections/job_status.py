"""A job's status in the read model (content_jobs.status), and the four a seed client knows."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """What the jobs projection writes; /v1 reports these as they are."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    COMPLETED = "completed"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def seed(self) -> "SeedStatus":
        return _SEED[self]


class SeedStatus(StrEnum):
    """The statuses of the seed's API: its client polls until `completed` or `failed`."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.DEAD_LETTERED, JobStatus.CANCELLED})

_MEANINGS = {
    JobStatus.QUEUED: "accepted; waiting for its next stage to start (also while a delay_seconds start is pending, "
                      "between stages, and after a redrive)",
    JobStatus.RUNNING: "a stage attempt is running (current_stage names it)",
    JobStatus.RETRYING: "the last attempt failed and another is scheduled after a backoff",
    JobStatus.COMPLETED: "every stage finished; the result is at /v1/jobs/{id}/result (terminal)",
    JobStatus.DEAD_LETTERED: "a stage failed permanently or ran out of attempts; the dead letter holds the reason "
                             "and can be redriven (terminal unless redriven)",
    JobStatus.CANCELLED: "cancelled by POST /v1/jobs/{id}/cancel before it finished (terminal)",
}

# A seed client knows only success or failure at the end: both ways a job can end without its
# content are a failure to it, with the richer status and the reason beside it.
_SEED = {
    JobStatus.QUEUED: SeedStatus.QUEUED,
    JobStatus.RUNNING: SeedStatus.PROCESSING,
    JobStatus.RETRYING: SeedStatus.PROCESSING,
    JobStatus.COMPLETED: SeedStatus.COMPLETED,
    JobStatus.DEAD_LETTERED: SeedStatus.FAILED,
    JobStatus.CANCELLED: SeedStatus.FAILED,
}
