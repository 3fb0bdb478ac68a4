"""The per-job guard in PostgreSQL: every concurrent attempt's writes in one statement per flush, a cache for owned jobs."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Awaitable
from uuid import UUID

import asyncpg

from agents.outage import Outage
from agents.progress import JobState, Progress, already_done, carry_location, supersedes

log = logging.getLogger("planperfect.guard")

# `supersedes` (agents/progress.py) in SQL: a write that does not move the job forward changes nothing, so
# a late write from a worker that lost the job's partition can never take the job back.
UPSERT = """
INSERT INTO job_guard AS g (job_id, next_sequence, state, progress, updated_at)
SELECT j, n, s, p::jsonb, now() FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[]) AS t(j, n, s, p)
ON CONFLICT (job_id) DO UPDATE
   SET next_sequence = EXCLUDED.next_sequence, state = EXCLUDED.state, progress = EXCLUDED.progress,
       updated_at = now()
 WHERE EXCLUDED.next_sequence > g.next_sequence
    OR (EXCLUDED.next_sequence = g.next_sequence
        AND NOT (g.state IN ('running', 'settling') AND EXCLUDED.state IN ('queued', 'delayed')))
"""
LOAD = "SELECT job_id, progress FROM job_guard WHERE job_id = ANY($1::uuid[])"

# Finished jobs leave the cache once written: a late duplicate of theirs reads the row again.
TERMINAL = (JobState.DONE, JobState.DEAD, JobState.CANCELLED)


class PgGuard:
    """A Guard (agents/progress.py) for the jobs of the partitions this worker owns.

    Only the owner of a job's partition writes its guard, so the cache is the truth while the partition is
    owned; it is dropped when partitions are revoked. A `put` returns once its row is committed; puts made
    while a flush is in flight go together in the next one (group commit), so N concurrent attempts cost
    one round trip, not N. Gets that miss the cache are loaded together the same way.
    """

    def __init__(self, pool: asyncpg.Pool, outage: Outage, cache_limit: int = 50_000) -> None:
        self.pool = pool
        self.outage = outage
        self.cache_limit = cache_limit  # memory stays bounded under any backlog; a job evicted is read again
        self.cache: dict[UUID, Progress | None] = {}
        self._writes: dict[UUID, Progress] = {}
        self._written: asyncio.Future | None = None
        self._reads: dict[UUID, asyncio.Future] = {}
        self._wake_writer = asyncio.Event()
        self._wake_reader = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._flushing = asyncio.Event()
        self._flushing.set()  # set: no flush in flight
        self._generation = 0  # of the cache: a load that straddles `forget` must not refill it
        self.flushes = 0
        self.rows = 0

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._writer(), name="guard-writer"),
                       asyncio.create_task(self._reader(), name="guard-reader")]

    async def stop(self) -> None:
        await self.quiesce()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def get(self, job_id: UUID) -> Progress | None:
        if job_id in self.cache:
            return self.cache[job_id]
        fut = self._reads.get(job_id)
        if fut is None:
            fut = self._reads[job_id] = asyncio.get_running_loop().create_future()
            self._wake_reader.set()
        return await asyncio.shield(fut)

    async def put(self, job_id: UUID, progress: Progress) -> None:
        await self.get(job_id)
        await self.record(job_id, progress)  # after the await: another write may have moved the job meanwhile

    def record(self, job_id: UUID, progress: Progress) -> Awaitable[None]:
        """The cache takes `progress` now; the returned awaitable is done once its row is committed. A job evicted
        from the cache since it was read is written as given (the upsert still keeps `supersedes`)."""
        current = self.cache.get(job_id)
        if not supersedes(progress, current):
            return already_done()
        new = carry_location(progress, current)
        self.cache[job_id] = new
        self._writes[job_id] = new
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
            self._wake_writer.set()
        return asyncio.shield(self._written)  # one waiter's cancellation must not cancel the whole flush

    async def quiesce(self) -> None:
        """Every accepted write is committed (before another worker may read these jobs)."""
        while self._writes or not self._flushing.is_set():
            if self._written is not None:
                await asyncio.shield(self._written)
            await self._flushing.wait()

    def forget(self) -> None:
        """The partitions went to other workers: what they write from now on is theirs."""
        self.cache.clear()
        self._generation += 1

    async def _writer(self) -> None:
        while True:
            await self._wake_writer.wait()
            self._wake_writer.clear()
            if not self._writes:
                continue
            batch, done = self._writes, self._written
            self._writes, self._written = {}, None
            self._flushing.clear()
            try:
                await self.outage.call(lambda: self._upsert(batch))
                self.flushes += 1
                self.rows += len(batch)
                for job_id, p in batch.items():
                    if p.state in TERMINAL and self.cache.get(job_id) is p:
                        del self.cache[job_id]
                self._trim()
                done.set_result(None)
            except Exception as exc:  # a bug (bad data): every put of the batch sees it
                log.exception("guard: writing %d row(s) failed", len(batch))
                done.set_exception(exc)
            finally:
                self._flushing.set()

    def _trim(self) -> None:
        """Evict the oldest cached jobs past the limit; never one with a write not yet committed (its row is
        older than what the cache knows)."""
        excess = len(self.cache) - self.cache_limit
        if excess <= 0:
            return
        for job_id in [j for j in self.cache if j not in self._writes][:excess]:
            del self.cache[job_id]

    async def _upsert(self, batch: dict[UUID, Progress]) -> None:
        ids = list(batch)
        rows = [batch[j] for j in ids]
        async with self.pool.acquire() as conn:
            await conn.execute(UPSERT, ids, [p.next_sequence for p in rows], [p.state.value for p in rows],
                               [json.dumps(p.to_json()) for p in rows])

    async def _reader(self) -> None:
        while True:
            await self._wake_reader.wait()
            self._wake_reader.clear()
            wanted = {j: f for j, f in self._reads.items() if not f.done()}
            if not wanted:
                self._reads.clear()
                continue
            generation = self._generation
            try:
                rows = await self.outage.call(lambda: self._load(list(wanted)))
            except Exception as exc:
                for job_id, fut in wanted.items():
                    self._reads.pop(job_id, None)
                    fut.set_exception(exc)
                continue
            for job_id, fut in wanted.items():
                self._reads.pop(job_id, None)
                # A put made while the load was in flight is newer than the row read.
                if generation == self._generation:
                    fut.set_result(self.cache.setdefault(job_id, rows.get(job_id)))
                else:
                    fut.set_result(rows.get(job_id))

    async def _load(self, ids: list[UUID]) -> dict[UUID, Progress]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(LOAD, ids)
        return {r["job_id"]: Progress.from_json(json.loads(r["progress"])) for r in rows}
