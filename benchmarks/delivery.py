"""Delivery figures: delay accuracy over delayed jobs, high-priority latency under a low-priority backlog,
end-to-end time of one article, and what batching buys the projector. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/delivery.py [--delayed 100] [--backlog 1000]

Uses PLANPERFECT_KAFKA_BOOTSTRAP / PLANPERFECT_DATABASE_URL when both are set, else the local stack
(`planperfect up`). Each run gets its own topic prefix and database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planperfect.migrate import migrate  # noqa: E402
from planperfect.processes import ROLES, child_env, spawn, stop_children  # noqa: E402
from planperfect.api_key import new_key  # noqa: E402
from planperfect.settings import Settings  # noqa: E402
from planperfect.topic_admin import ensure_topics  # noqa: E402


def article(title: str, words: int = 600, **options) -> dict:
    return {"job_type": "article", "requester_email": "bench@example.com",
            "payload": {"title": title, "keywords": ["benchmark", "kafka"], "word_count": words}, **options}


async def submit(http, base, body) -> str:
    async with http.post(f"{base}/v1/jobs", json=body) as resp:
        assert resp.status == 202, await resp.text()
        return (await resp.json())["job_id"]


async def wait_all(http, base, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while time.monotonic() < deadline and len(done) < len(ids):
        for job_id in ids:
            if job_id in done:
                continue
            async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
                if resp.status == 200:
                    job = await resp.json()
                    if job["status"] in ("completed", "dead_lettered", "cancelled"):
                        done[job_id] = job
        await asyncio.sleep(0.2)
    return done


async def events(http, base, job_id) -> list[dict]:
    async with http.get(f"{base}/v1/jobs/{job_id}/events") as resp:
        return (await resp.json())["events"]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def delay_accuracy(http, base, n: int) -> None:
    rng = random.Random(7)
    delays = {await submit(http, base, article(f"Delayed {i}", 300, delay_seconds=(d := rng.randint(1, 20)))): d
              for i in range(n)}
    done = await wait_all(http, base, list(delays), timeout=180)
    lateness = []
    for job_id, delay in delays.items():
        evs = await events(http, base, job_id)
        due = ts(evs[0]["occurred_at"]) + timedelta(seconds=delay)
        start = next(e for e in evs if e["type"] == "StageStarted")
        lateness.append((ts(start["occurred_at"]) - due).total_seconds())
    print(f"delay accuracy over {n} delayed jobs (1-20 s): completed {len(done)}/{n}; lateness "
          f"min {min(lateness):.3f}s  p50 {statistics.median(lateness):.3f}s  "
          f"p99 {sorted(lateness)[int(0.99 * (n - 1))]:.3f}s  max {max(lateness):.3f}s")


async def priority_latency(http, base, backlog: int) -> None:
    t0 = time.monotonic()
    low = [await submit(http, base, article(f"Backlog {i}", 800, priority=0)) for i in range(backlog)]
    submitted_in = time.monotonic() - t0
    urgent = await submit(http, base, article("Urgent", 800, priority=10))
    t1 = time.monotonic()
    job = (await wait_all(http, base, [urgent], timeout=300))[urgent]
    latency = time.monotonic() - t1
    async with http.get(f"{base}/v1/jobs?status=completed&limit=500") as resp:
        low_done = len({j["job_id"] for j in (await resp.json())["jobs"]} & set(low))
    print(f"high-priority job under a {backlog}-job low-priority backlog (submitted in {submitted_in:.1f}s): "
          f"end to end {latency:.2f}s (queued->completed {(ts(job['completed_at']) - ts(job['queued_at'])).total_seconds():.2f}s); "
          f"low jobs completed meanwhile: {low_done}")
    for job_id in low:  # leave nothing running behind us
        async with http.post(f"{base}/v1/jobs/{job_id}/cancel") as resp:
            await resp.read()


async def single_article(http, base) -> None:
    warm = await submit(http, base, article("Warm-up article", 1200))  # the first job also pays for fetch start-up
    await wait_all(http, base, [warm], timeout=60)
    job_id = await submit(http, base, article("One article, timed", 1200))
    job = (await wait_all(http, base, [job_id], timeout=60))[job_id]
    e2e = (ts(job["completed_at"]) - ts(job["queued_at"])).total_seconds()
    stages = ", ".join(f"{s['stage']} {s['duration_ms']}ms" for s in job["stages"])
    print(f"one 1,200-word article, end to end (queued -> completed): {e2e:.3f}s  [{stages}]")
    evs = await events(http, base, job_id)
    hops = [f"{b['type']}({b.get('stage', '')}) +{(ts(b['occurred_at']) - ts(a['occurred_at'])).total_seconds() * 1000:.0f}ms"
            for a, b in zip(evs, evs[1:])]
    print("  event gaps: " + ", ".join(hops))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delayed", type=int, default=100)
    ap.add_argument("--backlog", type=int, default=1000)
    args = ap.parse_args()
    base_settings = Settings()
    if base_settings.uses_local_stack:
        from planperfect.stack import LocalStack

        base_settings = (await asyncio.to_thread(LocalStack(base_settings).up)).as_admin(base_settings)  # its own databases and prefixes
    admin_dsn = base_settings.database()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = admin_dsn.rpartition("/")[0] + f"/{name}"
    await migrate(dsn)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(base_settings.kafka(), prefix)
    settings = Settings(kafka_bootstrap=base_settings.kafka(), database_url=dsn, topic_prefix=prefix,
                        api_port=18765, data_dir=Path(f"/tmp/{name}"))
    _, key = await new_key(settings, name="benchmark", role="admin", actor="benchmark")
    env = child_env(settings) | {"PLANPERFECT_INTAKE_RATE_PER_KEY": "0"}  # a 1000-job backlog from one key, at once
    children = [spawn(role, env, settings.data_dir / "logs") for role in ROLES]
    base = f"http://127.0.0.1:{settings.api_port}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/readyz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            await single_article(http, base)
            if args.delayed:
                await delay_accuracy(http, base, args.delayed)
            if args.backlog:
                await priority_latency(http, base, args.backlog)
    finally:
        stop_children(children)
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
