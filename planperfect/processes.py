"""The long-running processes: Faust worker, projector, HTTP API, and `run` which supervises all three."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from planperfect.settings import Settings
from streams.topics import Topics

log = logging.getLogger("planperfect")


def configure_logging(level: str = "INFO", libraries: str = "WARNING") -> None:
    """Our lines at `level`; the libraries' own (noisy at INFO) at `libraries`."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("aiokafka", "faust", "mode", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(getattr(logging, libraries.upper(), logging.WARNING))


def make_provider(settings: Settings):
    """The content provider named by PLANPERFECT_PROVIDER (offline by default: no network, deterministic)."""
    from agents.providers.offline import OfflineProvider

    if settings.provider == "offline":
        return OfflineProvider()
    if settings.provider == "simulated":
        from agents.providers.simulated import Latency, SimulatedProvider
        return SimulatedProvider(Latency(settings.simulated_latency_ms, settings.simulated_latency_p99_ms))
    raise SystemExit(f"PLANPERFECT_PROVIDER={settings.provider!r}: 'offline' or 'simulated'")


def stage_function(settings: Settings):
    """The stage entry point: the handlers, or the fault-injecting wrapper when tests enable it."""
    if settings.fault_injection:
        from agents.faults import run_stage_with_faults

        return run_stage_with_faults
    from agents.handlers import run_stage

    return run_stage


def run_worker(settings: Settings) -> None:
    """The stage worker: every stage lane, delay tier, the dispatcher, job control and the pacing timer."""
    from agents.engine import EngineConfig
    from agents.pacing.ports import with_context_store
    from agents.pacing.scheduler import Delivery
    from agents.worker import WorkerConfig, serve
    from projections.pacing_queries import PacingStore

    config = WorkerConfig(
        bootstrap=settings.kafka(), dsn=settings.database(), topics=Topics(settings.topic_prefix, settings.partitions),
        engine=EngineConfig(in_flight=settings.worker_in_flight),
        pacing_interval=settings.pacing_tick_seconds, pacing_catch_up=timedelta(seconds=settings.pacing_catch_up_seconds),
        pacing_delivery=Delivery(settings.stage_max_attempts, settings.stage_retry_delay_seconds,
                                 settings.stage_visibility_seconds),
    )
    provider = make_provider(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        store = PacingStore(settings.database())  # the pacing stages' context, and the scheduler's schedules
        try:
            engine = await serve(config, provider, with_context_store(stage_function(settings), store), store, stop)
        finally:
            await store.close()
        if engine is not None:
            log.info("worker stopped after %d attempts", engine.stats.attempts)

    asyncio.run(main())


def run_projector(settings: Settings) -> None:
    from projections.runner import ProjectionRunner

    async def main() -> None:
        runner = ProjectionRunner(
            bootstrap=settings.kafka(), dsn=settings.database(), topics=Topics(settings.topic_prefix),
            batch_size=settings.projector_batch_size, batch_wait_ms=settings.projector_batch_wait_ms,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runner.start()
        try:
            await runner.run(stop)
        finally:
            await runner.stop()
        log.info("projector stopped after %d events", runner.stats.fetched)

    asyncio.run(main())


def api_config(settings: Settings):
    from api.config import ApiConfig

    return ApiConfig(
        bootstrap=settings.kafka(), dsn=settings.database(), topics=Topics(settings.topic_prefix),
        max_body_bytes=settings.max_body_bytes, default_max_attempts=settings.stage_max_attempts,
        default_retry_delay_seconds=settings.stage_retry_delay_seconds,
        default_visibility_seconds=settings.stage_visibility_seconds,
    )


def run_api(settings: Settings) -> None:
    from aiohttp import web

    from api.app import create_app

    web.run_app(create_app(api_config(settings)), host=settings.api_host, port=settings.api_port, print=None)


ROLES = ("worker", "projector", "api")


def spawn(role: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    """Start one role as a child process, its output in `log_dir/<role>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_dir / f"{role}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "planperfect.cli", role], env=env, stdout=out, stderr=subprocess.STDOUT,
    )


def child_env(settings: Settings) -> dict[str, str]:
    """Environment that points children at the same cluster, database and prefix as this process."""
    env = dict(os.environ)
    env["PLANPERFECT_KAFKA_BOOTSTRAP"] = settings.kafka()
    env["PLANPERFECT_DATABASE_URL"] = settings.database()
    env["PLANPERFECT_TOPIC_PREFIX"] = settings.topic_prefix
    env["PLANPERFECT_DATA_DIR"] = str(settings.data_dir.resolve())
    env["PLANPERFECT_API_HOST"] = settings.api_host
    env["PLANPERFECT_API_PORT"] = str(settings.api_port)
    return env


def stop_children(children: list[subprocess.Popen], timeout: float = 15.0) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_all(settings: Settings) -> int:
    """Worker, projector and API as children; stops them all on Ctrl-C, SIGTERM or when one dies (a worker
    that ends because its consumer stopped delivering is replaced instead)."""
    from agents.watchdog import EXIT_WEDGED

    log_dir = settings.data_dir / "logs"
    children = [spawn(role, child_env(settings), log_dir) for role in ROLES]
    print(f"running worker, projector and api (logs in {log_dir}); API on http://{settings.api_host}:{settings.api_port}")
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopping:
            for i, (role, child) in enumerate(zip(ROLES, children)):
                if child.poll() is None:
                    continue
                if role == "worker" and child.returncode == EXIT_WEDGED:
                    print(f"worker's consumer stopped delivering (see {log_dir}/worker.log); starting a fresh worker")
                    children[i] = spawn(role, child_env(settings), log_dir)
                    continue
                print(f"{role} exited with code {child.returncode}; stopping the others (see {log_dir}/{role}.log)")
                stopping = True
            if not stopping:
                time.sleep(0.5)  # supervision poll, not synchronisation
    finally:
        stop_children(children)
    return 0
