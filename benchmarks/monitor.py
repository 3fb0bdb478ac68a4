"""Monitor figures: page load times with 100,000 jobs in the read model, and the latency from an event on the
log to its appearance on a job's page. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/monitor.py [--jobs 100000] [--events-per-job 6] [--live-jobs 5]

The jobs are written straight into a fresh database with COPY (a measurement fixture, not the pipeline);
then worker, projector and API run on it as usual. Uses PLANPERFECT_KAFKA_BOOTSTRAP /
PLANPERFECT_DATABASE_URL when both are set, else the local stack (`planperfect up`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planperfect.migrate import migrate  # noqa: E402
from planperfect.processes import ROLES, child_env, spawn, stop_children  # noqa: E402
from planperfect.api_key import new_key  # noqa: E402
from planperfect.settings import Settings  # noqa: E402
from planperfect.topic_admin import ensure_topics  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
STATUSES = ["completed"] * 85 + ["dead_lettered"] * 5 + ["cancelled"] * 3 + ["queued"] * 4 + ["running"] * 3
STAGES = ["research", "outline", "draft", "qa", "export", "complete"]
WORDS = "heat pump solar roof kafka event stream garden kitchen bicycle budget travel coffee".split()
JOB_COLUMNS = ["job_id", "job_type", "status", "current_stage", "requester_email", "title", "brief", "priority",
               "attempts", "max_attempts", "retry_delay_seconds", "visibility_seconds", "delay_seconds",
               "correlation_id", "last_sequence", "queued_at", "available_at", "updated_at", "completed_at"]
EVENT_COLUMNS = ["event_id", "job_id", "sequence", "type", "schema_version", "occurred_at", "correlation_id", "body",
                 "kafka_topic", "kafka_partition", "kafka_offset"]


def fake_rows(n: int, events_per_job: int, now: datetime):
    """n jobs over the last 30 days (the newest in the last hour, for the sparklines) and their stage events."""
    rnd = random.Random(14)
    jobs, events, offset = [], [], 0
    for i in range(n):
        job_id = uuid.UUID(int=rnd.getrandbits(128))
        at = now - timedelta(seconds=(i / n) ** 2 * 30 * 86400 + 1)
        status = rnd.choice(STATUSES)
        title = " ".join(rnd.choice(WORDS) for _ in range(5)).capitalize() + f" {i}"
        brief = json.dumps({"title": title, "keywords": ["bench"]})
        jobs.append((job_id, rnd.choice(["article"] * 9 + ["schema"]), status,
                     "complete" if status == "completed" else rnd.choice(STAGES), f"user{i % 500}@example.com",
                     title, brief, rnd.randint(0, 10), 1, 3, 5, 600, 0, job_id, events_per_job, at, at, at,
                     at + timedelta(seconds=2) if status == "completed" else None))
        for seq in range(1, events_per_job + 1):
            stage, kind = STAGES[(seq - 1) // 2 % len(STAGES)], "StageStarted" if seq % 2 else "StageCompleted"
            body = {"type": kind, "stage": stage, "attempt": 1, "sequence": seq, "job_id": str(job_id)}
            if kind == "StageCompleted":
                body["duration_ms"] = rnd.randint(1, 3000)
            events.append((uuid.UUID(int=rnd.getrandbits(128)), job_id, seq, kind, 1, at + timedelta(milliseconds=seq * 300),
                           job_id, json.dumps(body), "bench.job-events", 0, offset))
            offset += 1
    return jobs, events


async def load(dsn: str, jobs: int, events_per_job: int) -> None:
    t0 = time.monotonic()
    jobs_rows, event_rows = fake_rows(jobs, events_per_job, datetime.now(timezone.utc))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("content_jobs", records=jobs_rows, columns=JOB_COLUMNS)
        await conn.copy_records_to_table("content_events", records=event_rows, columns=EVENT_COLUMNS)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    print(f"loaded {jobs:,} jobs and {len(event_rows):,} events with COPY in {time.monotonic() - t0:.1f} s")


async def timed_get(http, url: str, runs: int = 15) -> tuple[float, float, int]:
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with http.get(url, headers={"Accept": "text/html"}) as resp:
            await resp.read()
            status = resp.status
        took.append((time.perf_counter() - t0) * 1000)
    took.sort()
    return statistics.median(took), took[int(0.95 * (len(took) - 1))], status


async def server_times(http, base: str) -> None:
    async with http.get(f"{base}/v1/jobs?limit=50") as resp:
        cursor = (await resp.json())["next_cursor"]
    deep, pages = cursor, 1
    while pages < 40:  # 40 pages in: keyset paging costs the same at any depth
        async with http.get(f"{base}/v1/jobs?limit=50&cursor={deep}") as resp:
            following = (await resp.json())["next_cursor"]
        if following is None:
            break
        deep, pages = following, pages + 1
    cases = {
        "jobs, first page": "/monitor/jobs",
        f"jobs, page {pages + 1} (keyset cursor)": f"/monitor/jobs?cursor={deep}",
        "jobs, status=dead_lettered": "/monitor/jobs?status=dead_lettered",
        "jobs, type=schema": "/monitor/jobs?type=schema",
        "jobs, requester": "/monitor/jobs?requester=user7%40example.com",
        "jobs, title text (common)": "/monitor/jobs?text=heat",
        "jobs, title text (one match)": "/monitor/jobs?text=coffee+coffee+coffee",
        "jobs, title text (no match)": "/monitor/jobs?text=zzzz",
        "overview /": "/",
        "/metrics": "/metrics",
    }
    print("server answer times over 15 requests (median / p95):")
    for label, path in cases.items():
        median, p95, status = await timed_get(http, base + path)
        print(f"  {label:34s} {median:7.1f} ms / {p95:7.1f} ms  (HTTP {status})")
    fresh = []
    for _ in range(5):  # the overview is computed at most every 1.5 s however many pages watch: time a fresh one
        await asyncio.sleep(1.6)
        fresh.append((await timed_get(http, base + "/", runs=1))[0])
    print(f"  {'overview /, freshly computed':34s} {statistics.median(fresh):7.1f} ms / {max(fresh):7.1f} ms (max of 5)")


async def browser_figures(base: str, live_jobs: int, key: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = await browser.new_page()
        # Signed in as the sign-in form does it: the answer sets the session cookie in the page's context.
        signed_in = await page.request.post(f"{base}/monitor/session", data={"key": key})
        assert signed_in.ok, await signed_in.text()
        loads = []
        for _ in range(10):
            await page.goto(f"{base}/monitor/jobs", wait_until="load")
            loads.append(await page.evaluate(
                "performance.getEntriesByType('navigation')[0].loadEventEnd"))
        print(f"browser: /monitor/jobs with the full read model, navigation to load event: "
              f"median {statistics.median(loads):.0f} ms, max {max(loads):.0f} ms over 10 loads")
        lags = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            for i in range(live_jobs):
                async with http.post(f"{base}/v1/jobs", json={"job_type": "article", "payload": {
                        "title": f"Latency probe {i}", "word_count": 300}, "priority": 9}) as resp:
                    job_id = (await resp.json())["job_id"]
                await page.goto(f"{base}/monitor/jobs/{job_id}")
                await page.locator("#job-status", has_text="completed").wait_for(timeout=60_000)
                seen = await page.evaluate("window.monitorSeen")
                async with http.get(f"{base}/v1/jobs/{job_id}/events") as resp:
                    events = (await resp.json())["events"]
                lags += [seen[str(e["sequence"])] / 1000 - datetime.fromisoformat(e["occurred_at"]).timestamp()
                         for e in events if str(e["sequence"]) in seen]
        lags.sort()
        print(f"event on the log -> shown on the job page: median {statistics.median(lags) * 1000:.0f} ms, "
              f"p95 {lags[int(0.95 * (len(lags) - 1))] * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms "
              f"over {len(lags)} events of {live_jobs} jobs")
        await browser.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--events-per-job", type=int, default=6)
    ap.add_argument("--live-jobs", type=int, default=5)
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
    await load(dsn, args.jobs, args.events_per_job)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(base_settings.kafka(), prefix)
    settings = Settings(kafka_bootstrap=base_settings.kafka(), database_url=dsn, topic_prefix=prefix,
                        api_port=18766, data_dir=Path(f"/tmp/{name}"))
    _, key = await new_key(settings, name="benchmark", role="admin", actor="benchmark")
    children = [spawn(role, child_env(settings), settings.data_dir / "logs") for role in ROLES]
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
            await server_times(http, base)
        await browser_figures(base, args.live_jobs, key)
    finally:
        stop_children(children)
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
