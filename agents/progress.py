"""The per-job guard: how far each job's sequence has gone and what it is doing, so duplicates are dropped."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Awaitable, Protocol, Tuple
from uuid import UUID

from streams.commands import RequestStage
from streams.payloads import Stage


# Where a message sits on Kafka: (topic, partition, offset).
Location = Tuple[str, int, int]


class JobState(StrEnum):
    NEW = "new"            # known only from a cancel that arrived before the job was dispatched
    QUEUED = "queued"      # a request is on a stage topic
    DELAYED = "delayed"    # a request is held in a delay tier
    RUNNING = "running"    # an attempt is in progress
    SETTLING = "settling"  # an attempt is writing its outcome, from next_sequence on
    DONE = "done"
    DEAD = "dead"          # dead-lettered; a redrive may continue it
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Progress:
    next_sequence: int
    state: JobState
    correlation_id: UUID
    stage: Stage | None = None
    command_id: UUID | None = None
    attempt: int = 0
    cancel_requested: bool = False
    cancel_by: str | None = None  # who asked for the cancel, for its JobCancelled
    started_sequence: int = 0  # where the running attempt's StageStarted is
    request_at: Location | None = None  # the message that carries the job on (its request, or the delay holding it)

    @classmethod
    def new(cls, job_id: UUID, *, cancel_requested: bool) -> "Progress":
        return cls(0, JobState.NEW, job_id, cancel_requested=cancel_requested)

    @classmethod
    def running(cls, req: RequestStage, attempt: int) -> "Progress":
        return cls(req.next_sequence, JobState.RUNNING, req.correlation_id, req.stage, req.command_id, attempt)

    @classmethod
    def waiting(cls, req: RequestStage, state: JobState, at: Location | None = None) -> "Progress":
        return cls(req.next_sequence, state, req.correlation_id, req.stage, req.command_id, req.attempt, request_at=at)

    def at(self, next_sequence: int, state: JobState | None = None) -> "Progress":
        return replace(self, next_sequence=next_sequence, state=state or self.state)

    def with_cancel(self, by: str | None = None) -> "Progress":
        return replace(self, cancel_requested=True, cancel_by=by or self.cancel_by)

    def to_json(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies, and this runs for every guard write.
        return {"next_sequence": self.next_sequence, "state": self.state.value,
                "correlation_id": str(self.correlation_id), "stage": self.stage.value if self.stage else None,
                "command_id": str(self.command_id) if self.command_id else None, "attempt": self.attempt,
                "cancel_requested": self.cancel_requested, "cancel_by": self.cancel_by,
                "started_sequence": self.started_sequence,
                "request_at": list(self.request_at) if self.request_at else None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Progress":
        return cls(
            next_sequence=d["next_sequence"], state=JobState(d["state"]), correlation_id=UUID(d["correlation_id"]),
            stage=Stage(d["stage"]) if d.get("stage") else None,
            command_id=UUID(d["command_id"]) if d.get("command_id") else None,
            attempt=d.get("attempt", 0), cancel_requested=d.get("cancel_requested", False),
            cancel_by=d.get("cancel_by"),
            started_sequence=d.get("started_sequence", 0),
            request_at=tuple(d["request_at"]) if d.get("request_at") else None,
        )


def supersedes(new: Progress, current: Progress | None) -> bool:
    """Progress only moves forward: a late write from a stage that already handed the job on (its
    request routed, the next stage started) must not take the job back."""
    if current is None or new.next_sequence > current.next_sequence:
        return True
    if new.next_sequence < current.next_sequence:
        return False
    active = (JobState.RUNNING, JobState.SETTLING)
    return not (current.state in active and new.state in (JobState.QUEUED, JobState.DELAYED))


def carry_location(new: Progress, current: Progress | None) -> Progress:
    """A running attempt keeps the location of the request it runs (the runner does not pass it around)."""
    if (new.request_at is None and current is not None and current.request_at is not None
            and new.command_id == current.command_id and new.state in (JobState.RUNNING, JobState.SETTLING)):
        return replace(new, request_at=current.request_at)
    return new


class Guard(Protocol):
    """Where progress lives: a PostgreSQL table in the worker (agents/guard.py), a dict in unit tests."""

    async def get(self, job_id: UUID) -> Progress | None: ...

    async def put(self, job_id: UUID, progress: Progress) -> None:
        """Record durably before returning (when it `supersedes` what is there), so a crash never forgets it."""

    def record(self, job_id: UUID, progress: Progress) -> Awaitable[None]:
        """Take `progress` at once (what this worker reads from now on, when it `supersedes` what is there); it is
        durable when the returned awaitable is done. For a job read (`get`) before."""


def already_done() -> Awaitable[None]:
    """A write with nothing to wait for (it changed nothing, or its store is memory)."""
    done = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class MemoryGuard:
    """A Guard for unit tests."""

    def __init__(self) -> None:
        self.data: dict[UUID, Progress] = {}

    async def get(self, job_id: UUID) -> Progress | None:
        return self.data.get(job_id)

    async def put(self, job_id: UUID, progress: Progress) -> None:
        await self.record(job_id, progress)

    def record(self, job_id: UUID, progress: Progress) -> Awaitable[None]:
        current = self.data.get(job_id)
        if supersedes(progress, current):
            self.data[job_id] = carry_location(progress, current)
        return already_done()
