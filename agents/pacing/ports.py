"""What pacing stages and the scheduler need from the read side, as protocols the worker's composition root fills."""

from __future__ import annotations

from datetime import date
from typing import Protocol
from uuid import UUID

from agents.context import StageContext, StageInput
from streams.pacing_payloads import ContextChunk, PacingSchedule, ScoredChunk


class ContextStore(Protocol):
    """A user's knowledge and meeting chunks (PostgreSQL full-text search in the worker; a list in unit tests)."""

    async def recent_chunks(self, user_id: str, since: date, until: date) -> list[ContextChunk]:
        """Every chunk of the user's sources dated `since`..`until` (inclusive), oldest first."""
        ...

    async def search(self, user_id: str, query: str, limit: int) -> list[ScoredChunk]:
        """The user's chunks matching `query`, best full-text rank first."""
        ...

    async def chunks(self, user_id: str, chunk_ids: list[UUID]) -> list[ContextChunk]:
        """The user's chunks with these ids (unknown ids are left out)."""
        ...


class ScheduleSource(Protocol):
    """Active schedules, and which (user, local date) pairs already have an analysis."""

    async def active_schedules(self) -> list[PacingSchedule]: ...

    async def analysed(self, keys: list[tuple[str, date]]) -> set[tuple[str, date]]: ...


def with_context_store(stage_fn, store: ContextStore):
    """The stage entry point with `store` on every context (the runner builds the context; this fills the port)."""

    async def run(inp: StageInput, ctx: StageContext):
        ctx.context_store = store
        return await stage_fn(inp, ctx)

    return run
