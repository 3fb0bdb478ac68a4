"""Broker failover on a local three-broker KRaft cluster: SIGKILL one broker while jobs flow, then a second.
Prints figures and exits 1 if an acknowledged job was lost or duplicated, or if intake accepted a job with two
brokers gone.

    .venv/bin/python benchmarks/failover.py [--jobs 500] [--kill-after 150]

Starts a stack of its own (three nodes, each broker and controller, in a temporary data dir, on free ports;
topics with replication factor 3, min.insync.replicas 2), then worker, projector and API as processes. Jobs go in
through the HTTP intake with an Idempotency-Key each, retried with the same key on a 503 (the README's rule), by 16
concurrent clients. Once `--kill-after` jobs are acknowledged, the broker that leads the most job-events partitions
is SIGKILLed. Figures: time until every partition has a live leader again (leadership recovery), the longest gap
between two acknowledged jobs (the intake pause) and the 503s meanwhile; then every acknowledged job is checked in
the read model: completed, and one JobCompleted each. Finally a second broker is SIGKILLed: with one in-sync
replica left of three, intake must answer 503 (not accept and lose).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planperfect.api_key import auth_headers  # noqa: E402
from planperfect.bench.intake import wait_ready  # noqa: E402
from planperfect.cli import prepare  # noqa: E402
from planperfect.processes import ROLES, child_env, spawn, stop_children  # noqa: E402
from planperfect.settings import Settings  # noqa: E402
from planperfect.stack import LocalStack  # noqa: E402
from planperfect.stack.ports import free_port, free_port_run  # noqa: E402
from streams.access import kafka_options  # noqa: E402
from streams.topics import Topics  # noqa: E402

CLIENTS = 16


@dataclass
class Intake:
    """Every answer the intake gave, in order: (monotonic time, status, idempotency key)."""

    answers: list[tuple[float, int, str]] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)  # idempotency key -> job id

    def gaps_after(self, moment: float) -> float:
        """The longest wait between two acknowledgements from `moment` on (the intake pause)."""
        times = [moment] + [t for t, status, _ in self.answers if status == 202 and t >= moment]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)


async def submit_all(http: aiohttp.ClientSession, base: str, jobs: int, intake: Intake, started: asyncio.Event,
                     kill_after: int) -> None:
    keys = asyncio.Queue()
    for n in range(jobs):
        keys.put_nowait(f"failover-{n}-{uuid.uuid4().hex[:8]}")

    async def client() -> None:
        while not keys.empty():
            key = keys.get_nowait()
            body = {"job_type": "article", "payload": {"title": f"Failover {key}", "keywords": ["kafka"], "word_count": 200}}
            while True:  # the same key until acknowledged: a retried write names the same job
                try:
                    async with http.post(f"{base}/v1/jobs", json=body, headers={"Idempotency-Key": key}) as resp:
                        intake.answers.append((time.monotonic(), resp.status, key))
                        if resp.status in (200, 202):
                            intake.acknowledged[key] = (await resp.json())["job_id"]
                            if len(intake.acknowledged) >= kill_after:
                                started.set()
                            break
                        if resp.status != 503:  # only "not now" is retried; a refusal is this script's error
                            raise RuntimeError(f"intake answered {resp.status}: {await resp.text()}")
                except aiohttp.ClientError:
                    intake.answers.append((time.monotonic(), 0, key))
                await asyncio.sleep(0.2)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def leaders(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=3000)
    await admin.start()
    try:
        (meta,) = await admin.describe_topics([topic])
        return [p["leader"] for p in meta["partitions"]]
    finally:
        await admin.close()


async def until_led_without(bootstrap: str, topic: str, dead: set[int], timeout: float = 120) -> float:
    """Seconds until no partition of `topic` is led by a node in `dead` (nor leaderless)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            now = await leaders(bootstrap, topic)
            if now and not (set(now) & (dead | {-1})):
                return time.monotonic() - began
        except Exception:  # noqa: BLE001 - a metadata request to the dead broker: ask again
            pass
        await asyncio.sleep(0.1)
    return float("inf")


async def check_read_model(dsn: str, job_ids: list[str], timeout: float) -> tuple[int, int, int]:
    """(completed, lost, duplicated) among `job_ids`, once all are completed or `timeout` passed."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            done = await conn.fetchval("SELECT count(*) FROM content_jobs WHERE job_id = ANY($1::uuid[]) AND status = 'completed'",
                                       job_ids)
            if done == len(job_ids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        completions = await conn.fetch(
            "SELECT job_id, count(*) AS n FROM content_events WHERE type = 'JobCompleted' AND job_id = ANY($1::uuid[]) "
            "GROUP BY job_id", job_ids)
        rows = await conn.fetchval("SELECT count(*) FROM content_jobs")
    finally:
        await conn.close()
    duplicated = sum(1 for r in completions if r["n"] > 1) + max(0, rows - len(job_ids))
    return done, len(job_ids) - done, duplicated


async def measure(settings: Settings, stack: LocalStack, args: argparse.Namespace) -> int:
    base = f"http://127.0.0.1:{settings.api_port}"
    topics = Topics(settings.topic_prefix, settings.partitions)
    intake = Intake()
    kill_at = asyncio.Event()
    # The operator key `up` made (every route but the health checks needs a key).
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), headers=auth_headers(settings)) as http:
        await wait_ready(base, http, check_alive=lambda: None, timeout=120)
        began = time.monotonic()
        flow = asyncio.create_task(submit_all(http, base, args.jobs, intake, kill_at, args.kill_after))
        await kill_at.wait()
        led = await leaders(settings.kafka(), topics.job_events)
        victim = max(set(led), key=led.count)
        pid = next(b.pid for b in stack.status().brokers if b.name == f"kafka-{victim}")
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        print(f"SIGKILL kafka-{victim} (pid {pid}, leader of {led.count(victim)}/{len(led)} job-events partitions) "
              f"after {len(intake.acknowledged)} acknowledged jobs", flush=True)
        recovery = await until_led_without(settings.kafka(), topics.job_events, {victim})
        await flow
        accepted_s = time.monotonic() - began
        pause = intake.gaps_after(killed_at)
        unavailable = sum(1 for t, status, _ in intake.answers if status == 503 and t >= killed_at)
        print(f"jobs acknowledged: {len(intake.acknowledged)} in {accepted_s:.1f} s", flush=True)
        print(f"leadership recovered (every job-events partition led by a live broker) {recovery:.1f} s after the kill")
        print(f"intake pause (longest gap between acknowledgements after the kill): {pause:.1f} s; 503 answers "
              f"meanwhile: {unavailable}", flush=True)
        completed, lost, duplicated = await check_read_model(settings.database(), list(intake.acknowledged.values()),
                                                             timeout=args.timeout)

        second = next(b for b in stack.status().brokers if b.running and b.name != "kafka-1")
        os.kill(second.pid, signal.SIGKILL)
        print(f"SIGKILL {second.name} (pid {second.pid}): one in-sync replica left of three", flush=True)
        statuses = []
        for n in range(5):
            body = {"job_type": "article", "payload": {"title": f"Two down {n}", "keywords": ["kafka"]}}
            async with http.post(f"{base}/v1/jobs", json=body, headers={"Idempotency-Key": f"two-down-{n}"}) as resp:
                statuses.append(resp.status)

    print(f"acknowledged jobs: completed {completed}, lost {lost}, duplicated {duplicated}")
    print(f"two brokers down: intake answered {statuses}")
    failed = lost or duplicated or any(status in (200, 202) for status in statuses)
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--kill-after", type=int, default=150, help="acknowledged jobs before the first kill")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for the acknowledged jobs to complete")
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a dead broker is the point here, not news
    data = Path(tempfile.mkdtemp(prefix="planperfect-failover-"))
    data.chmod(0o711)  # PostgreSQL runs as planperfect-pg when we are root: it must enter every directory above
    settings = Settings(data_dir=data, kafka_port=free_port_run(6), postgres_port=free_port(), kafka_brokers=3,
                        api_port=free_port(), topic_prefix="failover.", partitions=6)
    stack = LocalStack(settings)
    children = []
    try:
        started = time.monotonic()
        prepare(settings, quiet=True)
        print(f"stack of three brokers up, migrated, topics created in {time.monotonic() - started:.1f} s", flush=True)
        # No per-key intake limit: 16 clients share one key, and the figure is the failover's pause, not the limit's.
        env = child_env(settings) | {"PLANPERFECT_INTAKE_RATE_PER_KEY": "0"}
        children = [spawn(role, env, data / "logs") for role in ROLES]
        return asyncio.run(measure(settings, stack, args))
    finally:
        stop_children(children)
        stack.down()
        if not os.environ.get("PLANPERFECT_BENCH_KEEP_LOGS"):
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
