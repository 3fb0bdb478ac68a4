"""Wakes live streams when the projector commits events of a job (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import asyncpg

from projections.runner import NOTIFY_CHANNEL


class JobNotifications:
    """One LISTEN connection per process, fanned out to the streams that watch each job.

    The connection is re-made (with backoff) whenever PostgreSQL drops it, and every watcher is woken
    then, since notifications sent while it was gone are lost: the streams re-read what they missed.
    """

    RETRY_MAX_S = 10.0

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._conn: asyncpg.Connection | None = None
        self._dsn = ""
        self._connecting: asyncio.Task | None = None
        self._stopping = False

    async def start(self, dsn: str) -> None:
        self._dsn = dsn
        self._connecting = asyncio.create_task(self._connect())

    async def stop(self) -> None:
        self._stopping = True
        if self._connecting is not None:
            self._connecting.cancel()
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                break
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await asyncio.sleep(delay)  # backoff between reconnection attempts
                delay = min(delay * 2, self.RETRY_MAX_S)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn
        for events in list(self._waiters.values()):
            for event in events:
                event.set()

    def _on_lost(self, _conn) -> None:
        self._conn = None
        if self._stopping:
            return
        self._connecting = asyncio.create_task(self._connect())

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
