"""One lock per job in a worker: the guard's read-decide-write steps of one job never interleave."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID


class JobLocks:
    """Co-partitioning brings every message of a job (its submission, requests, cancel, redrive) to one worker;
    these locks make the dispatcher, job control and a stage attempt's admission and outcome take turns there.
    Without them a cancel read the guard while the dispatcher was routing, and the dispatcher's write then
    overwrote the cancel: the job ran on. A lock is held across guard and log writes, never across a handler."""

    def __init__(self) -> None:
        self._locks: dict[UUID, asyncio.Lock] = {}
        self._users: dict[UUID, int] = {}

    @asynccontextmanager
    async def __call__(self, job_id: UUID) -> AsyncIterator[None]:
        lock = self._locks.setdefault(job_id, asyncio.Lock())
        self._users[job_id] = self._users.get(job_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[job_id] -= 1
            if not self._users[job_id]:  # nobody holds or waits for it: forget it, so memory stays bounded
                del self._users[job_id], self._locks[job_id]

    def __len__(self) -> int:
        return len(self._locks)
