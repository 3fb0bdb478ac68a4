"""Rebuild and verify runs recorded in the live schema as they go, for the monitor's projections page."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from enum import StrEnum

import asyncpg

from projections.checksums import LIVE
from projections.replay import Echo, RebuildError

# catch_up's progress line: "rebuild: 1,200 events applied, 850 events/s, lag 300"
_PROGRESS = re.compile(r"^\w+: ([\d,]+) events applied, [\d,]+ events/s, lag ([\d,]+)$")


class RunKind(StrEnum):
    REBUILD = "rebuild"
    VERIFY = "verify"


class RunState(StrEnum):
    RUNNING = "running"
    SWAPPED = "swapped"
    EQUAL = "equal"
    DIFFERENT = "different"
    REFUSED = "refused"
    FAILED = "failed"


_START = f"""INSERT INTO {LIVE}.projection_runs (run_id, kind, projections, started_at, updated_at, state, message)
VALUES ($1, $2, $3, now(), now(), 'running', '')"""
_UPDATE = f"""UPDATE {LIVE}.projection_runs SET updated_at = now(), events_applied = $2, lag = $3, state = $4,
message = $5 WHERE run_id = $1"""


class RunRecord:
    """One run's row: inserted at the start, rewritten with each line the run says (the newest only, by a
    task of its own on a connection of its own, so a slow write never holds the run up), and closed at the end.

    A database migrated before projection_runs existed gets no record and one line saying so; the run goes on."""

    def __init__(self, dsn: str, kind: RunKind, names: Sequence[str], echo: Echo) -> None:
        self.dsn, self.kind, self.names, self.outer = dsn, kind, list(names), echo
        self.run_id = uuid.uuid4()
        self.events, self.lag, self.message = 0, None, ""
        self._conn: asyncpg.Connection | None = None
        self._dirty = asyncio.Event()
        self._writer: asyncio.Task | None = None

    async def __aenter__(self) -> RunRecord:
        try:
            self._conn = await asyncpg.connect(self.dsn)
            await self._conn.execute(_START, self.run_id, self.kind.value, self.names)
        except asyncpg.UndefinedTableError:
            self.outer(f"{self.kind}: progress not recorded for the monitor (run `planperfect migrate`)")
            await self._conn.close()
            self._conn = None
            return self
        self._writer = asyncio.create_task(self._write_latest())
        return self

    def echo(self, line: str) -> None:
        """Say `line` as the run's own echo does, and record it as the run's latest word."""
        self.outer(line)
        if match := _PROGRESS.match(line):
            # each catch-up counts from where it began: the first, from offset 0, is the run's figure
            self.events = max(self.events, int(match[1].replace(",", "")))
            self.lag = int(match[2].replace(",", ""))
        self.message = line
        self._dirty.set()

    async def _write_latest(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._save(RunState.RUNNING)

    async def _save(self, state: RunState) -> None:
        """The record is for watching: a write it cannot make is said once and given up, never the run's failure."""
        if self._conn is None:
            return
        try:
            await self._conn.execute(_UPDATE, self.run_id, self.events, self.lag, state.value, self.message[:2000])
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            self.outer(f"{self.kind}: progress no longer recorded for the monitor ({type(exc).__name__}: {exc})")
            self._conn.terminate()
            self._conn = None

    async def finish(self, state: RunState, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        await self._save(state)

    async def __aexit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None and self._writer is not None:
                state = RunState.REFUSED if _refused(exc) else RunState.FAILED
                await self.finish(state, f"{type(exc).__name__}: {exc}")
        finally:
            if self._writer is not None:
                self._writer.cancel()
            if self._conn is not None:
                await self._conn.close()


def _refused(exc: BaseException) -> bool:
    return isinstance(exc, RebuildError) and str(exc).startswith("refusing to swap")
