"""Dependency outages against real processes: Kafka and PostgreSQL SIGKILLed under a running system, and the supervisor.

The Kafka and PostgreSQL tests kill services, so they run on a local stack of their own (free ports, a temp
data dir), never on the suite's shared one. Each prints what the API answered during the outage and how long
recovery took.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from planperfect.api_key import KEY_FILE
from planperfect.settings import Settings
from tests.conftest import TEST_PREFIX_ROOT, Infra, create_database, create_prefix, delete_prefix, drop_database
from tests.e2e.chaos_diagnose import logged_events
from tests.e2e.test_delivery import job
from tests.support import api_session, eventually, free_port, free_port_pair

JOBS = 6
OUTAGE_S = 12.0  # how long a dependency stays down
SEND_BOUND_S = 4.0  # PLANPERFECT_KAFKA_SEND_TIMEOUT_SECONDS for these systems (the default is 10)
READY_WITHIN_S = 5.0


@dataclass
class OwnStack:
    stack: object  # planperfect.stack.LocalStack
    infra: Infra

    async def kill(self, service: str) -> None:
        """SIGKILL the broker or the postmaster, as a crash would, and wait until it is gone."""
        pid = getattr(self.stack.status(), service).pid
        assert pid is not None, f"{service} is not running"
        os.kill(pid, signal.SIGKILL)
        await eventually(lambda: asyncio.to_thread(lambda: not getattr(self.stack.status(), service).running),
                         timeout=15, what=f"{service} gone")

    async def restart(self) -> None:
        await asyncio.to_thread(self.stack.up)


@pytest.fixture(scope="module")
async def own_stack():
    from planperfect.stack import LocalStack

    data = Path(tempfile.mkdtemp(prefix="planperfect-faults-"))
    data.chmod(0o711)  # PostgreSQL runs as planperfect-pg when we are root: it must enter every directory above
    stack = LocalStack(Settings(data_dir=data, kafka_port=free_port_pair(), postgres_port=free_port(),
                                topic_prefix=TEST_PREFIX_ROOT), echo=lambda line: print(f"[faults stack] {line}"))
    info = await asyncio.to_thread(stack.up)
    try:
        yield OwnStack(stack, Infra.of(info))
    finally:
        await asyncio.to_thread(stack.down)
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class Answers:
    """What the API answered during an outage, by route: status codes seen and the slowest answer."""

    seen: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    slowest: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    retry_after: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    async def ask(self, http: aiohttp.ClientSession, name: str, method: str, url: str, **kw) -> aiohttp.ClientResponse:
        began = time.monotonic()
        async with http.request(method, url, timeout=aiohttp.ClientTimeout(total=60), **kw) as resp:
            await resp.read()
        self.seen[name].append(resp.status)
        self.slowest[name] = max(self.slowest[name], time.monotonic() - began)
        if "Retry-After" in resp.headers:
            self.retry_after[name].add(resp.headers["Retry-After"])
        return resp

    def summary(self) -> str:
        return "; ".join(f"{n}: {sorted(set(s))} x{len(s)} (slowest {self.slowest[n]:.1f} s)" for n, s in self.seen.items())


async def _submit(http, base: str, key: str, title: str) -> tuple[int, str]:
    async with http.post(f"{base}/v1/jobs", json=job(title), headers={"Idempotency-Key": key}) as resp:
        body = await resp.json()
        return resp.status, body.get("job_id", "")


async def _visible(http, base: str, ids: list[str]) -> None:
    async def all_found():
        for job_id in ids:
            async with http.get(f"{base}/v1/jobs/{job_id}") as resp:
                if resp.status != 200:
                    return False
        return True

    await eventually(all_found, timeout=30, what="jobs projected")


async def _readyz(http, base: str) -> int:
    try:
        async with http.get(f"{base}/readyz", timeout=aiohttp.ClientTimeout(total=10)) as resp:
            return resp.status
    except aiohttp.ClientError:
        return 0


async def _wait_readyz(http, base: str, status: int, timeout: float) -> float:
    """Seconds until /readyz answers `status`."""
    began = time.monotonic()

    async def probe():
        return await _readyz(http, base) == status

    await eventually(probe, timeout=timeout, interval=0.2, what=f"/readyz answering {status}")
    return time.monotonic() - began


async def _all_completed_once(infra: Infra, database: str, prefix: str, ids: list[str], system) -> None:
    async def completed() -> bool:
        conn = await asyncpg.connect(database)
        try:
            n = await conn.fetchval("SELECT count(*) FROM content_jobs WHERE job_id = ANY($1::uuid[]) "
                                    "AND status = 'completed'", ids)
        finally:
            await conn.close()
        return n == len(ids)

    try:
        await eventually(completed, timeout=120, interval=0.5, what=f"all {len(ids)} jobs completed")
    except AssertionError:
        await system.dump_worker()
        raise AssertionError(f"{system.logs()}\n--- worker task dump\n"
                             f"{system.child_log('worker').rpartition('state dump')[2][:6000]}") from None
    finished: dict[str, set] = defaultdict(set)
    stage_completions: dict[tuple[str, str], set] = defaultdict(set)
    for e in await logged_events(infra.bootstrap, prefix):
        if e.type == "JobCompleted":
            finished[str(e.job_id)].add(e.event_id)
        elif e.type == "StageCompleted":
            stage_completions[(str(e.job_id), e.stage.value)].add(e.event_id)
    assert {j: len(finished[j]) for j in ids} == {j: 1 for j in ids}, "a job completed twice (or never) in the log"
    assert [k for k, v in stage_completions.items() if len(v) > 1] == [], "a stage completed twice in the log"
    conn = await asyncpg.connect(database)
    try:
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT job_id FROM content_events WHERE type = 'JobCompleted' "
            "GROUP BY job_id HAVING count(*) > 1) d")
    finally:
        await conn.close()
    assert twice == 0


@dataclass
class Supervised:
    """`planperfect run` as a real process: its children, their logs, and what it printed."""

    base_url: str
    database: str
    prefix: str
    work: Path
    proc: subprocess.Popen

    @property
    def out(self) -> Path:
        return self.work / "run.out"

    def pids(self, role: str) -> list[int]:
        return [int(line.rsplit("pid ", 1)[1].rstrip(")")) for line in self.out.read_text().splitlines()
                if line.startswith(f"started {role} (pid ")]

    def http(self) -> aiohttp.ClientSession:
        """A session sending the admin key that `run` made in its data directory (readable once /readyz is 200)."""
        return api_session((self.work / "data" / KEY_FILE).read_text().strip())

    def child_log(self, role: str) -> str:
        path = self.work / "data" / "logs" / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def dump_worker(self) -> None:
        """Ask the live worker for its task dump (SIGUSR1), so that a stuck worker says where it is stuck."""
        pid = self.pids("worker")[-1]
        if _alive(pid):
            os.kill(pid, signal.SIGUSR1)
            await eventually(lambda: asyncio.to_thread(lambda: "state dump" in self.child_log("worker")),
                             timeout=10, what="worker task dump written")

    def logs(self) -> str:
        return f"--- run\n{self.out.read_text()}" + "".join(
            f"\n--- {role}\n{self.child_log(role)[-3000:]}" for role in ("worker", "projector", "api"))


@asynccontextmanager
async def supervised(infra: Infra, database: str, prefix: str, work: Path, **env: str):
    """`planperfect run` on the given cluster and database; SIGTERM on exit."""
    port = free_port()
    full_env = {**os.environ, "PLANPERFECT_KAFKA_BOOTSTRAP": infra.bootstrap, "PLANPERFECT_DATABASE_URL": database,
                "PLANPERFECT_TOPIC_PREFIX": prefix, "PLANPERFECT_DATA_DIR": str(work / "data"),
                "PLANPERFECT_API_PORT": str(port), "PYTHONUNBUFFERED": "1", **env}
    work.mkdir(parents=True, exist_ok=True)
    with (work / "run.out").open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "planperfect.cli", "run"], env=full_env, stdout=sink,
                                stderr=subprocess.STDOUT)
    system = Supervised(f"http://127.0.0.1:{port}", database, prefix, work, proc)
    try:
        yield system
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout=60)
            except TimeoutError:
                proc.kill()


@pytest.fixture
async def faults_system(own_stack, tmp_path):
    await own_stack.restart()  # a previous test that failed mid-outage may have left a service down
    infra = own_stack.infra
    database = await create_database(infra)
    prefix = await create_prefix(infra)
    try:
        async with supervised(infra, database, prefix, tmp_path,
                              PLANPERFECT_KAFKA_SEND_TIMEOUT_SECONDS=str(SEND_BOUND_S),
                              PLANPERFECT_WORKER_LOG_LEVEL="INFO") as system:
            async with aiohttp.ClientSession() as http:
                try:
                    await _wait_readyz(http, system.base_url, 200, timeout=90)
                except AssertionError:
                    raise AssertionError(system.logs()) from None
            yield system
    finally:
        await own_stack.restart()
        await drop_database(infra, database)
        await delete_prefix(infra, prefix)


async def test_kafka_outage_readiness_intake_503_and_every_job_once(own_stack, faults_system):
    system, base, infra = faults_system, faults_system.base_url, own_stack.infra
    answers = Answers()
    async with system.http() as http:
        ids = []
        for i in range(JOBS):
            status, job_id = await _submit(http, base, f"kafka-before-{i}", f"Before the Kafka outage {i}")
            assert status == 202
            ids.append(job_id)
        await _visible(http, base, ids)  # projected, so reads need PostgreSQL only

        await own_stack.kill("kafka")
        down_at = time.monotonic()
        not_ready_after = await _wait_readyz(http, base, 503, timeout=READY_WITHIN_S + 5)
        resp = await answers.ask(http, "POST /v1/jobs (keyed)", "POST", f"{base}/v1/jobs", json=job("During the Kafka outage"),
                                 headers={"Idempotency-Key": "kafka-during"})
        assert resp.status == 503, system.logs()
        assert resp.headers["Retry-After"].isdigit()
        assert answers.slowest["POST /v1/jobs (keyed)"] < SEND_BOUND_S + 2
        while time.monotonic() - down_at < OUTAGE_S:  # the outage lasts OUTAGE_S; keep asking what the API says
            await answers.ask(http, "GET /readyz", "GET", f"{base}/readyz")
            await answers.ask(http, "GET /v1/jobs/{id}", "GET", f"{base}/v1/jobs/{ids[0]}")
            await asyncio.sleep(0.2)  # the pace of the polling, not a synchronisation
        assert set(answers.seen["GET /readyz"]) == {503}
        assert set(answers.seen["GET /v1/jobs/{id}"]) == {200}  # reads come from PostgreSQL, which is up

        await own_stack.restart()
        restarted_at = time.monotonic()
        ready_after = await _wait_readyz(http, base, 200, timeout=60)
        # The client retries with the same key: the same job, whether or not the timed-out write landed late.
        async def accepted():
            status, job_id = await _submit(http, base, "kafka-during", "During the Kafka outage")
            return job_id if status in (200, 202) else None

        ids.append(await eventually(accepted, timeout=30, interval=0.5, what="intake accepting again"))
        accepted_after = time.monotonic() - restarted_at
        await _all_completed_once(infra, system.database, system.prefix, ids, system)
        completed_after = time.monotonic() - restarted_at
    # None of the three exited: each rode the outage out (a restart by `run` would show as a second pid).
    assert [len(system.pids(role)) for role in ("worker", "projector", "api")] == [1, 1, 1], system.logs()
    restarts = len(system.pids("worker")) - 1
    print(f"\nKafka outage {restarted_at - down_at:.0f} s: readyz 503 after {not_ready_after:.1f} s; "
          f"{answers.summary()}; Retry-After {dict(answers.retry_after)}; after the restart: readyz 200 in "
          f"{ready_after:.1f} s, intake 202 in {accepted_after:.1f} s, all {len(ids)} jobs completed once in "
          f"{completed_after:.1f} s; the worker was restarted {restarts} times by `planperfect run`")


async def test_postgres_outage_answers_503_and_the_projector_rides_it_out(own_stack, faults_system):
    system, base, infra = faults_system, faults_system.base_url, own_stack.infra
    answers = Answers()
    async with system.http() as http:
        ids = []
        for i in range(JOBS):
            status, job_id = await _submit(http, base, f"pg-before-{i}", f"Before the PostgreSQL outage {i}")
            assert status == 202
            ids.append(job_id)
        await _visible(http, base, ids)  # the projector is running, not starting, when PostgreSQL goes
        projector = system.pids("projector")[-1]

        await own_stack.kill("postgres")
        down_at = time.monotonic()
        not_ready_after = await _wait_readyz(http, base, 503, timeout=READY_WITHIN_S + 5)
        # Without an Idempotency-Key, intake needs only Kafka: the job is accepted and projected once PostgreSQL is
        # back (the API key was checked before the outage, and is trusted as it was while PostgreSQL is away).
        async with http.post(f"{base}/v1/jobs", json=job("Unkeyed, during the PostgreSQL outage")) as resp:
            answers.seen["POST /v1/jobs (no key)"].append(resp.status)
            assert resp.status == 202, await resp.text()
            ids.append((await resp.json())["job_id"])
        while time.monotonic() - down_at < OUTAGE_S:  # the outage lasts OUTAGE_S; keep asking what the API says
            for name, method, url, kw in (
                ("GET /v1/jobs", "GET", f"{base}/v1/jobs", {}),
                ("GET /v1/jobs/{id}", "GET", f"{base}/v1/jobs/{ids[0]}", {}),
                ("POST /v1/jobs (keyed)", "POST", f"{base}/v1/jobs",
                 {"json": job("Keyed, during the PostgreSQL outage"), "headers": {"Idempotency-Key": "pg-during"}}),
                ("GET /readyz", "GET", f"{base}/readyz", {}),
            ):
                resp = await answers.ask(http, name, method, url, **kw)
                assert resp.status == 503, f"{name} answered {resp.status}\n{system.logs()}"
                assert resp.headers["Retry-After"].isdigit()
            assert _alive(projector), f"the projector exited during the outage:\n{system.logs()}"
            await asyncio.sleep(0.2)  # the pace of the polling, not a synchronisation
        assert max(answers.slowest.values()) < READY_WITHIN_S + 1
        # An API (re)started while PostgreSQL is down starts, and answers 503 rather than not at all.
        os.kill(system.pids("api")[-1], signal.SIGKILL)
        await eventually(lambda: asyncio.to_thread(lambda: len(system.pids("api")) == 2), timeout=30,
                         what=f"api restarted\n{system.logs()}")
        await _wait_readyz(http, base, 503, timeout=30)

        await own_stack.restart()
        restarted_at = time.monotonic()
        ready_after = await _wait_readyz(http, base, 200, timeout=60)

        async def accepted():
            status, job_id = await _submit(http, base, "pg-during", "Keyed, during the PostgreSQL outage")
            return job_id if status in (200, 202) else None

        ids.append(await eventually(accepted, timeout=30, interval=0.5, what="keyed intake accepting again"))
        accepted_after = time.monotonic() - restarted_at
        await _all_completed_once(infra, system.database, system.prefix, ids, system)
        completed_after = time.monotonic() - restarted_at
    assert system.pids("projector") == [projector], system.logs()  # never exited
    assert "api was killed by SIGKILL while PostgreSQL is unreachable; restarting it in 1 s" in system.out.read_text()
    said = system.child_log("projector")
    assert "Traceback" not in said, said
    assert said.count("PostgreSQL unavailable") == 1 and said.count("PostgreSQL back after") == 1, said
    restarts = len(system.pids("worker")) - 1
    print(f"\nPostgreSQL outage {restarted_at - down_at:.0f} s: readyz 503 after "
          f"{not_ready_after:.1f} s; {answers.summary()}; after the restart: readyz 200 in {ready_after:.1f} s, "
          f"keyed intake in {accepted_after:.1f} s, all {len(ids)} jobs completed once in {completed_after:.1f} s; "
          f"projector: {[line for line in said.splitlines() if 'unavailable' in line or 'back after' in line]}; "
          f"the worker was restarted {restarts} times")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


async def test_run_restarts_a_killed_child_and_gives_up_on_a_crash_loop(infra, database, prefix, tmp_path):
    async with supervised(infra, database, prefix, tmp_path, PLANPERFECT_RESTART_LIMIT="3") as system:
        async def started(role: str, count: int) -> list[int]:
            pids = system.pids(role)
            return pids if len(pids) >= count and _alive(pids[-1]) else []

        for role in ("worker", "projector", "api"):
            await eventually(lambda r=role: started(r, 1), timeout=60, what=f"{role} started\n{system.logs()}")
        projector = system.pids("projector")[-1]
        os.kill(projector, signal.SIGKILL)
        await eventually(lambda: started("projector", 2), timeout=30, what=f"projector restarted\n{system.logs()}")
        assert "projector was killed by SIGKILL; restarting it in 1 s" in system.out.read_text()

        began = time.monotonic()
        for n in range(1, 4):  # the API killed three times within the window: a crash loop
            pids = await eventually(lambda k=n: started("api", k), timeout=30, what=f"api start {n}\n{system.logs()}")
            os.kill(pids[-1], signal.SIGKILL)
        code = await asyncio.wait_for(asyncio.to_thread(system.proc.wait), timeout=60)
        said = system.out.read_text()
        assert code == 1, said
        assert "api was killed by SIGKILL: 3 exits within 60 s, giving up" in said
        assert not any(_alive(p) for r in ("worker", "projector", "api") for p in system.pids(r)), said
    print(f"\nrun: a SIGKILLed projector restarted after 1 s; an API killed 3 times in "
          f"{time.monotonic() - began:.1f} s ended run with exit code {code}, its other children stopped")
