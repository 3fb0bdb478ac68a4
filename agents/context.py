"""What a stage handler may reach besides its input: the content provider, the clock, and more time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from agents.providers.usage import UsageLedger
from streams.payloads import AnyBrief, JobType, Stage, StageOutputs

if TYPE_CHECKING:
    from agents.pacing.ports import ContextStore
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
    brief: AnyBrief
    outputs: StageOutputs
    token_budget: int | None = None  # the job's, in input + output tokens
    tokens_used: int = 0  # by the job's earlier attempts and stages


@dataclass
class StageContext:
    """The handler's window on the world; tests build one with a fixed clock."""

    provider: "ContentProvider"
    clock: Callable[[], datetime] = utc_now
    pending_extensions: list[float] = field(default_factory=list)
    extension_requested: asyncio.Event = field(default_factory=asyncio.Event)
    context_store: "ContextStore | None" = None  # a user's knowledge and meetings, for pacing stages
    usage: UsageLedger = field(default_factory=UsageLedger)  # the model calls of this attempt (none offline)

    def extend_time_limit(self, seconds: float) -> None:
        """Ask for `seconds` more before this attempt times out (the agent records it as an event)."""
        if seconds <= 0:
            raise ValueError("an extension must be positive")
        self.pending_extensions.append(seconds)
        self.extension_requested.set()

    def take_extensions(self) -> list[float]:
        taken, self.pending_extensions = self.pending_extensions, []
        self.extension_requested.clear()
        return taken
