"""Chaos (run by hand: ./dev test soak/): SIGKILL workers at random points while jobs flow; every job completes once, gap-free, no duplicates."""

from __future__ import annotations

import asyncio
import random

import aiohttp
import asyncpg

from tests.e2e.conftest import running_system
from tests.e2e.test_delivery import job, submit
from tests.support import eventually

JOBS = 30
KILLS = 4


async def test_sigkill_chaos_every_job_completes_exactly_once(infra, database, prefix, tmp_path):
    rng = random.Random(20261123)
    # One worker at a time, killed and replaced at random points. (Two live workers plus kills can leave
    # a replacement stuck in Faust's rebalance; that case is tracked on the issue, not hidden here.)
    async with running_system(infra, database, prefix, tmp_path, PLANPERFECT_WORKER_CONCURRENCY="2") as system:
        base = system.base_url
        async with aiohttp.ClientSession() as http:
            ids = [await submit(http, base, {**job(f"Chaos {i}"), "payload": {"title": f"Chaos {i}", "word_count": 1500}})
                   for i in range(JOBS)]
            victim = "worker"
            for k in range(KILLS):
                await asyncio.sleep(rng.uniform(0.5, 3.0))  # a random point in the flow, not a synchronisation
                system.children[victim].kill()
                victim = f"worker-{k}"
                system.start("worker", victim)

            async def all_completed():
                conn = await asyncpg.connect(database)
                try:
                    return await conn.fetchval("SELECT count(*) FROM content_jobs WHERE status = 'completed'") == JOBS
                finally:
                    await conn.close()

            try:
                await eventually(all_completed, timeout=240, interval=0.5, what="every chaos job completed")
            except AssertionError:
                conn = await asyncpg.connect(database)
                try:
                    stuck = await conn.fetch(
                        """SELECT j.job_id, j.status, j.current_stage, j.last_sequence, j.attempts, j.last_error
                             FROM content_jobs j WHERE status <> 'completed' ORDER BY job_id""")
                finally:
                    await conn.close()
                raise AssertionError("\n".join(str(dict(r)) for r in stuck) + system.logs()[-3000:]) from None

    conn = await asyncpg.connect(database)
    try:
        gaps = await conn.fetchval(
            """SELECT count(*) FROM (SELECT job_id, max(sequence) AS hi, count(*) AS n FROM content_events
                                      GROUP BY job_id) s WHERE hi <> n""")
        completions = await conn.fetchval(
            "SELECT count(*) FROM content_events WHERE type = 'JobCompleted'")
        duplicate_stage_completions = await conn.fetchval(
            """SELECT count(*) FROM (SELECT job_id, body->>'stage' FROM content_events WHERE type = 'StageCompleted'
                                      GROUP BY 1, 2 HAVING count(*) > 1) d""")
        duplicate_payloads = await conn.fetchval(
            "SELECT count(*) FROM (SELECT job_id, stage FROM content_payloads GROUP BY 1, 2 HAVING count(*) > 1) d")
        extra_attempts = await conn.fetchval("SELECT count(*) FROM content_job_stages WHERE attempts > 1")
    finally:
        await conn.close()
    print(f"chaos: {JOBS} jobs, {KILLS} SIGKILLs, {extra_attempts} stage re-runs, "
          f"{duplicate_stage_completions} duplicate completions")
    assert completions == JOBS
    assert gaps == 0
    assert duplicate_stage_completions == 0
    assert duplicate_payloads == 0
    assert {i for i in ids} and len(ids) == JOBS
