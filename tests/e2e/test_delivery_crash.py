"""Delivery across process deaths and under load: delays survive restarts, SIGKILL mid-stage, priority lanes."""

from __future__ import annotations

from datetime import datetime, timedelta


from tests.e2e.conftest import running_system
from tests.e2e.test_delivery import events_of, get, job, stage_status, submit, wait_status
from tests.support import eventually


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_delay_is_honoured_and_survives_a_worker_restart(infra, database, prefix, tmp_path):
    async with running_system(infra, database, prefix, tmp_path) as system:
        base = system.base_url
        async with system.http() as http:
            early = await submit(http, base, job("Due soon", delay_seconds=2))
            late = await submit(http, base, job("Due later", delay_seconds=9))
            await wait_status(http, base, early, statuses=("completed",), system=system)
            system.children["worker"].kill()  # SIGKILL while `late` is held in a delay tier
            system.start("worker", "worker-2")
            done = await wait_status(http, base, late, statuses=("completed",), timeout=60, system=system)
            events = await events_of(http, base, late)
            early_events = await events_of(http, base, early)
    due = at(events[0]["occurred_at"]) + timedelta(seconds=9)
    first_start = at(next(e for e in events if e["type"] == "StageStarted")["occurred_at"])
    assert first_start >= due, "a delayed job must not start before it is due"
    assert [e["type"] for e in events].count("StageStarted") == 6, "the delayed start fired exactly once"
    assert done["status"] == "completed"
    early_start = at(next(e for e in early_events if e["type"] == "StageStarted")["occurred_at"])
    assert timedelta(seconds=2) <= early_start - at(early_events[0]["occurred_at"]) <= timedelta(seconds=3)


async def test_worker_killed_mid_stage_loses_nothing_and_completes_once(infra, database, prefix, tmp_path):
    async with running_system(infra, database, prefix, tmp_path, PLANPERFECT_FAULT_INJECTION="1") as system:
        base = system.base_url
        async with system.http() as http:
            job_id = await submit(http, base, job("Long outline [fault:outline:slow:4]", visibility_seconds=2))

            async def outline_running():
                return await stage_status(http, base, job_id, "outline") == "running"

            await eventually(outline_running, timeout=30, what="outline running")
            system.children["worker"].kill()
            system.start("worker", "worker-2")
            done = await wait_status(http, base, job_id, statuses=("completed", "dead_lettered"), timeout=90, system=system)
            events = await events_of(http, base, job_id)
    assert done["status"] == "completed", done
    outline = next(s for s in done["stages"] if s["stage"] == "outline")
    assert outline["attempts"] == 2, "the re-run after the crash is a visible extra attempt"
    types = [e["type"] for e in events]
    assert types.count("JobCompleted") == 1
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    completed_stages = [e["stage"] for e in events if e["type"] == "StageCompleted"]
    assert len(completed_stages) == len(set(completed_stages)) == 6, "no stage completes twice"


async def test_high_priority_overtakes_a_low_backlog_and_low_still_progresses(infra, database, prefix, tmp_path):
    async with running_system(infra, database, prefix, tmp_path, PLANPERFECT_WORKER_IN_FLIGHT="2") as system:
        base = system.base_url
        async with system.http() as http:
            low = [await submit(http, base, {**job(f"Backlog item {i}"), "priority": 0,
                                            "payload": {"title": f"Backlog item {i}", "word_count": 2500}})
                   for i in range(40)]
            urgent = await submit(http, base, {**job("Urgent"), "priority": 10})
            done = await wait_status(http, base, urgent, statuses=("completed",), timeout=90, system=system)
            listing = await get(http, f"{base}/v1/jobs?status=completed&limit=500")
            low_done_then = len([j for j in listing["jobs"] if j["job_id"] in set(low)])

            async def all_low_done():
                page = await get(http, f"{base}/v1/jobs?status=completed&limit=500")
                return len([j for j in page["jobs"] if j["job_id"] in set(low)]) == len(low)

            await eventually(all_low_done, timeout=240, interval=0.5, what="the low backlog completes")
    assert low_done_then < len(low) // 2, f"the urgent job waited for {low_done_then} of {len(low)} low jobs"
    assert done["status"] == "completed"
