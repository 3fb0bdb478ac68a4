"""The guard in real PostgreSQL: the upsert keeps `supersedes` in SQL, concurrent puts share a flush, the cache reloads."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid

import asyncpg
import pytest

from agents.guard import UPSERT, PgGuard
from agents.outage import Outage, database_unreachable
from agents.progress import JobState, Progress, supersedes

STATES = list(JobState)


def progress(seq: int, state: JobState) -> Progress:
    return Progress(next_sequence=seq, state=state, correlation_id=uuid.UUID(int=1))


@pytest.fixture
async def pool(database):
    p = await asyncpg.create_pool(database, min_size=1, max_size=2)
    yield p
    await p.close()


async def test_the_upsert_agrees_with_supersedes_for_every_pair(pool):
    cases = [(a, b) for a, b in itertools.product(itertools.product((4, 5, 6), STATES), repeat=2) if a[0] == 5]
    jobs = [uuid.uuid4() for _ in cases]
    async with pool.acquire() as conn:
        # Each job starts at its current progress, then receives the new one.
        for step in (0, 1):
            await conn.execute(UPSERT, jobs, [c[step][0] for c in cases], [c[step][1].value for c in cases],
                               [json.dumps(progress(*c[step]).to_json()) for c in cases])
        rows = {r["job_id"]: (r["next_sequence"], r["state"]) for r in
                await conn.fetch("SELECT job_id, next_sequence, state FROM job_guard")}
    for job, (current, new) in zip(jobs, cases):
        expected = new if supersedes(progress(*new), progress(*current)) else current
        assert rows[job] == (expected[0], expected[1].value), (current, new)


async def test_concurrent_puts_share_flushes_and_survive_a_forgotten_cache(pool):
    guard = PgGuard(pool, Outage("PostgreSQL", database_unreachable))
    guard.start()
    try:
        jobs = [uuid.uuid4() for _ in range(200)]
        await asyncio.gather(*(guard.put(j, progress(2, JobState.QUEUED)) for j in jobs))
        assert guard.rows == 200
        assert guard.flushes < 20, f"{guard.flushes} flushes for 200 concurrent puts"
        await asyncio.gather(*(guard.put(j, progress(3, JobState.RUNNING)) for j in jobs))
        guard.forget()  # as at a rebalance: the next read comes from the table
        assert {(await guard.get(j)).state for j in jobs} == {JobState.RUNNING}
        await guard.put(jobs[0], progress(2, JobState.QUEUED))  # a late write from before: changes nothing
        await guard.put(jobs[1], progress(4, JobState.DONE))
        guard.forget()
        assert (await guard.get(jobs[0])).next_sequence == 3
        assert (await guard.get(jobs[1])).state is JobState.DONE
        assert await guard.get(uuid.uuid4()) is None
    finally:
        await guard.stop()


async def test_the_cache_stays_within_its_limit_and_an_evicted_job_is_read_again(pool):
    guard = PgGuard(pool, Outage("PostgreSQL", database_unreachable), cache_limit=50)
    guard.start()
    try:
        jobs = [uuid.uuid4() for _ in range(300)]
        await asyncio.gather(*(guard.put(j, progress(2, JobState.QUEUED)) for j in jobs))
        assert len(guard.cache) <= 50
        assert (await guard.get(jobs[0])).state is JobState.QUEUED  # evicted first, read back from the table
    finally:
        await guard.stop()
