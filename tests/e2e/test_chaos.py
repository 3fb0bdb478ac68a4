"""SIGKILL chaos: workers killed at random points and replaced while jobs flow, then every process, the broker and
PostgreSQL (the soak's bounded run); every job completes exactly once."""

from __future__ import annotations

import asyncio
import os
import random

import aiohttp
import asyncpg
import pytest

from planperfect.chaos.schedule import Blow, Plan
from planperfect.chaos.soak import SoakConfig, run_soak, table
from planperfect.chaos.verdict import judge, read_model
from planperfect.settings import Settings
from tests.e2e.chaos_diagnose import logged_events, where_are
from tests.e2e.conftest import running_system
from tests.e2e.test_delivery import job, submit
from tests.support import eventually

JOBS = 40
KILLS = 6
SEED = int(os.environ.get("PLANPERFECT_CHAOS_SEED", "20261123"))  # another seed: another kill schedule
# "joined": each replacement holds its partitions before the next kill. "while-joining": kills also land on
# workers still joining the group, so rebalances overlap. PLANPERFECT_CHAOS_KILL_WHILE_JOINING=1 runs only that mode.
# Every stage of every job sleeps a little (extending its time limit), so the flow lasts through the kill
# schedule and kills land on running attempts, settling ones and rebalances, not on an idle system.
SLOW = "".join(f"[fault:{stage}:slow:0.6]" for stage in ("research", "outline", "draft", "qa", "export"))
# The soak's bounded run: process kills shared 1:1:1, one broker restart and a 30 s PostgreSQL outage in this many s.
SOAK_KILLS = 6
SOAK_SECONDS = 75.0
MODES = ["while-joining"] if os.environ.get("PLANPERFECT_CHAOS_KILL_WHILE_JOINING") == "1" else ["joined", "while-joining"]


@pytest.mark.parametrize("mode", MODES)
async def test_sigkill_chaos_every_job_completes_exactly_once(infra, database, prefix, tmp_path, mode):
    rng = random.Random(SEED)
    async with running_system(infra, database, prefix, tmp_path, PLANPERFECT_WORKER_IN_FLIGHT="3",
                              PLANPERFECT_FAULT_INJECTION="1", PYTHONUNBUFFERED="1") as system:
        system.start("worker", "worker-b")
        async with aiohttp.ClientSession() as http:
            ids = []
            for i in range(JOBS):
                title = f"Chaos {i} {SLOW}"
                ids.append(await submit(http, system.base_url,
                                        {**job(title), "payload": {"title": title, "word_count": 1500}}))
            for k in range(KILLS):
                await asyncio.sleep(rng.uniform(0.5, 4.0))  # a random point in the flow, not a synchronisation
                live = sorted(n for n, c in system.children.items() if c.role == "worker" and c.proc.poll() is None)
                system.children[live[rng.randrange(len(live))]].kill()
                replacement = system.start("worker", f"worker-{k}")
                if mode == "joined":
                    await _ready(replacement)

        async def completed() -> int:
            conn = await asyncpg.connect(database)
            try:
                return await conn.fetchval("SELECT count(*) FROM content_jobs WHERE status = 'completed'")
            finally:
                await conn.close()

        try:
            await eventually(lambda: _equals(completed(), JOBS), timeout=240, interval=0.5,
                             what="every chaos job completed")
        except AssertionError:
            raise AssertionError(await _explain(system, infra, prefix, database)) from None

    # The log itself (what the workers wrote, repeats of the same event included) and the read model, judged by the
    # same code as `planperfect soak`.
    events = await logged_events(infra.bootstrap, prefix)
    verdict = judge(events, ids, await read_model(database))
    logs = [c.log.read_text(errors="replace") for c in system.children.values()]
    given_up = sum(text.count("gave up") for text in logs)
    stalls = sum(text.count("stalled:") for text in logs)
    print(f"\nchaos ({mode}, seed {SEED}): {JOBS} jobs, {KILLS} SIGKILLs of 2 live workers, "
          f"{verdict.read_model.stage_reruns} stage re-runs after a kill, {given_up} rebalances that gave up running "
          f"work, {stalls} stalls, {len(verdict.stage_completed_twice)} duplicate stage completions in the log, "
          f"{len(verdict.read_model.stage_completed_twice)} in the read model")
    assert verdict.ok, f"{verdict.story(events)}\nworker logs in {system.log_dir}"
    assert verdict.completed == JOBS and verdict.unacknowledged == 0


@pytest.mark.timeout(480)  # a stack of its own, and a broker start can take a minute on a busy machine
async def test_soak_kills_every_process_restarts_the_broker_and_holds_postgres_down():
    """The bounded run of `planperfect soak`, by its own code: workers, projector and API SIGKILLed at random points
    and replaced, the broker SIGKILLed and started again, PostgreSQL held down 30 s, on a stack of its own."""
    config = SoakConfig(plan=Plan(kills=SOAK_KILLS, broker_restarts=1, outage_seconds=30, duration=SOAK_SECONDS,
                                  seed=SEED, weights=((Blow.WORKER, 1), (Blow.PROJECTOR, 1), (Blow.API, 1))),
                        rate=2.0, drain_timeout=180)
    report = await run_soak(Settings(), config, say=lambda line: print(f"soak {line}", flush=True))
    print(table(report, config))
    v = report.verdict
    assert v is not None and report.drained, f"logs in {report.data_dir}"
    assert v.lost == [], f"{report.story}\nlogs in {report.data_dir}"
    assert v.duplicated_jobs == set() and v.gaps == set(), f"{report.story}\nlogs in {report.data_dir}"
    assert {b: report.blows[b] >= 1 for b in Blow} == {b: True for b in Blow}, report.blows
    # Through the outage the API kept answering, and said it was not ready (0: no answer, while it was restarting).
    assert report.readyz_in_outage[503] > 0 and report.readyz_in_outage[200] == 0, report.readyz_in_outage
    assert v.accepted > SOAK_SECONDS / 3  # the client kept submitting: 2 a second, less refusals and no answers


async def _ready(child) -> None:
    await eventually(lambda: asyncio.to_thread(lambda: "Worker ready" in child.log.read_text(errors="replace")),
                     timeout=90, interval=0.2, what=f"{child.log.name} ready")


async def _equals(probe, expected) -> bool:
    return await probe == expected


async def _explain(system, infra, prefix: str, database: str) -> str:
    """Why jobs are stuck: their rows, and where their messages sit against the group's commits."""
    conn = await asyncpg.connect(database)
    try:
        stuck = await conn.fetch("""SELECT job_id, status, current_stage, last_sequence, attempts
                                      FROM content_jobs WHERE status <> 'completed' ORDER BY job_id""")
    finally:
        await conn.close()
    where = await where_are(infra.bootstrap, prefix, [str(r["job_id"]) for r in stuck])
    return "\n".join(str(dict(r)) for r in stuck) + "\n" + where + f"\nworker logs in {system.log_dir}"
