"""What a stage handler may reach besides its input: the content provider and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from streams.payloads import Brief, JobType, Stage, StageOutputs

if TYPE_CHECKING:
    from agents.providers.base import ContentProvider


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class StageInput(BaseModel):
    """Everything a stage handler reads: the job's brief and what earlier stages produced."""

    model_config = ConfigDict(frozen=True)

    job_id: UUID
    job_type: JobType
    stage: Stage
    attempt: int
    brief: Brief
    outputs: StageOutputs


@dataclass
class StageContext:
    """The handler's window on the world; tests build one with a fixed clock."""

    provider: "ContentProvider"
    clock: Callable[[], datetime] = utc_now
    extensions: list[float] = field(default_factory=list)

    def extend_time_limit(self, seconds: float) -> None:
        """Ask for `seconds` more before this attempt times out (recorded as an event by the agent)."""
        self.extensions.append(seconds)
