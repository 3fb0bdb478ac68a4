"""Wakes live streams when the projector commits events of a job (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import asyncpg

from projections.runner import NOTIFY_CHANNEL


class JobNotifications:
    """One LISTEN connection per process, fanned out to the streams that watch each job."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None

    async def start(self, dsn: str) -> None:
        self._conn = await asyncpg.connect(dsn)
        await self._conn.add_listener(NOTIFY_CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    def _on_notify(self, _conn, _pid, _channel, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    def watch(self, job_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters[job_id].add(event)
        return event

    def unwatch(self, job_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(job_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[job_id]
