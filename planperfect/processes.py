"""The long-running processes: stage worker, projector, HTTP API, and `run` which supervises all three."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from planperfect.logformat import JsonLines, PlainLines, UnparsedRequests
from planperfect.reachability import KAFKA, POSTGRES, Unreachable, check, classify
from planperfect.resilience import EXIT_CONFIG, Backoff, Exit, OutageLog, RepeatedLines, RestartPolicy
from planperfect.settings import Settings
from planperfect.stack.process import open_private_log
from planperfect.stack.secrets import private_dir

log = logging.getLogger("planperfect")


def configure_logging(level: str = "INFO", libraries: str = "WARNING") -> None:
    """Our lines at `level`; the libraries' own (noisy at INFO) at `libraries`. Never an API key's secret."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO))
    # A file or a collector reads it: one JSON object a line, with job, stage, attempt; a terminal, plain lines.
    tty = sys.stderr.isatty()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(PlainLines("%(asctime)s %(levelname)s %(name)s %(message)s") if tty else JsonLines())
    for noisy in ("aiokafka", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(getattr(logging, libraries.upper(), logging.WARNING))
    # While PostgreSQL is down, asyncpg's pool logs a warning with a traceback at every attempt to restore its
    # connection floor; the projector and the API say once themselves that the database is unavailable.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatedLines())  # an outage must not flood the log with one library line per retry


def make_provider(settings: Settings):
    """The content provider named by PLANPERFECT_PROVIDER (offline by default: no network, deterministic), with the
    pairs PLANPERFECT_PROVIDER_ALLOW lets a job pick.

    Every model endpoint is checked before the worker starts: a missing key, an unknown model or an endpoint that
    does not answer ends the process with one line naming the setting that fixes it and exit code 78
    (EX_CONFIG): a configuration error, which restarting cannot mend, instead of a traceback."""
    from agents.providers import config as provider_config
    from agents.providers.routing import worker_provider

    if settings.provider == provider_config.SIMULATED:
        from agents.providers.simulated import Latency, SimulatedProvider

        return SimulatedProvider(Latency(settings.simulated_latency_ms, settings.simulated_latency_p99_ms))
    problem = provider_problem(settings)
    if problem:
        raise provider_not_ready(problem)
    return worker_provider(settings, os.environ)


def provider_problem(settings: Settings) -> str | None:
    """What keeps the provider settings from working, in one line (None: they work): resolved from the settings
    and the vendors' variables, then each model endpoint asked for its models. The worker's start, the demo."""
    from agents.providers import config as provider_config

    try:
        configs = provider_config.resolve_all(settings, os.environ)
    except provider_config.ConfigProblem as problem:
        return str(problem)
    if not configs:
        return None
    # The probe runs on a loop of its own in a thread, so this works whether or not the caller is already inside
    # an event loop (it blocks that loop for one request per endpoint, once, before the worker takes any work).
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, provider_config.probe_all(configs)).result()


def provider_not_ready(problem: str) -> SystemExit:
    """Say on stderr, in one line, what is wrong; return the exit for the caller to raise."""
    print(f"planperfect worker: {problem}", file=sys.stderr)
    return SystemExit(EXIT_CONFIG)


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
        bootstrap=settings.kafka(), dsn=settings.database(), topics=settings.topics(),
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


# A reconnection attempt costs one refused connect: try often, so that the read model resumes soon after.
PROJECTOR_BACKOFF = Backoff(initial=0.5, cap=10.0)


def run_projector(settings: Settings, policy: Backoff = PROJECTOR_BACKOFF) -> None:
    """The projector, riding out outages: on a lost dependency it drops the runner, waits (exponential,
    capped) and starts a fresh one, which resumes from the positions stored with the rows."""
    from projections.runner import ProjectionRunner

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        outage = OutageLog("projector")
        failures = projected = 0
        while not stop.is_set():
            runner = ProjectionRunner(
                bootstrap=settings.kafka(), dsn=settings.database(), topics=settings.topics(),
                batch_size=settings.projector_batch_size, batch_wait_ms=settings.projector_batch_wait_ms,
            )
            try:
                await runner.start()
                if line := outage.recovered(loop.time()):
                    log.warning("%s", line)
                failures = 0
                await runner.run(stop)
            except Exception as exc:
                unreachable = classify(exc, settings)
                if unreachable is None:
                    raise  # a bug, not an outage: exit, and let the supervisor decide
                failures += 1
                if line := outage.failed(unreachable.service, unreachable.reason, loop.time()):
                    log.warning("%s", line)
            finally:
                projected += runner.stats.fetched
                await _stop_quietly(runner)
            if not stop.is_set() and failures:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), policy.delay(failures))
        log.info("projector stopped after %d events", projected)

    asyncio.run(main())


async def _stop_quietly(runner, timeout: float = 10.0) -> None:
    """Close a runner whose connections may already be dead; what is left is the OS's to clean up."""
    try:
        async with asyncio.timeout(timeout):
            await runner.stop()
    except Exception as exc:  # noqa: BLE001 - closing after an outage; the cause was logged already
        log.debug("projector: closing the old runner failed: %r", exc)


def api_config(settings: Settings, env: Mapping[str, str] = os.environ):
    from agents.providers.readiness import ProviderReadiness
    from api.config import ApiConfig

    return ApiConfig(
        provider_check=ProviderReadiness(settings, dict(env)).problem, provider_choices=settings.provider_choices(),
        bootstrap=settings.kafka(), dsn=settings.database(), topics=settings.topics(),
        max_body_bytes=settings.max_body_bytes, default_max_attempts=settings.stage_max_attempts,
        default_retry_delay_seconds=settings.stage_retry_delay_seconds,
        default_visibility_seconds=settings.stage_visibility_seconds,
        kafka_send_timeout_seconds=settings.kafka_send_timeout_seconds,
        database_timeout_seconds=settings.database_timeout_seconds,
        read_your_writes_seconds=settings.read_your_writes_seconds,
        key_cache_seconds=settings.api_key_cache_seconds,
        monitor_session_hours=settings.monitor_session_hours,
        cookie_secure=settings.cookie_secure,
        intake_rate_per_key=settings.intake_rate_per_key,
        intake_burst_per_key=settings.intake_burst_per_key,
    )


def run_api(settings: Settings) -> None:
    from aiohttp import web

    from api.app import create_app

    logging.getLogger("aiohttp.server").addFilter(UnparsedRequests())
    web.run_app(create_app(api_config(settings)), host=settings.api_host, port=settings.api_port, print=None)


ROLES = ("worker", "projector", "api")


def spawn(role: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    """Start one role as a child process, its output appended to `log_dir/<role>.log`: ours alone to read (a log
    quotes what clients sent, and records jobs' titles and errors)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    private_dir(log_dir)
    with open_private_log(log_dir / f"{role}.log") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "planperfect.cli", role], env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    print(f"started {role} (pid {child.pid})", flush=True)
    return child


def child_env(settings: Settings) -> dict[str, str]:
    """Environment that points children at the same cluster, database and prefix as this process."""
    env = dict(os.environ)
    env["PLANPERFECT_KAFKA_BOOTSTRAP"] = settings.kafka()
    env["PLANPERFECT_DATABASE_URL"] = settings.database()
    env["PLANPERFECT_TOPIC_PREFIX"] = settings.topic_prefix
    env["PLANPERFECT_DATA_DIR"] = str(settings.data_dir.resolve())
    env["PLANPERFECT_API_HOST"] = settings.api_host
    env["PLANPERFECT_API_PORT"] = str(settings.api_port)
    env["PLANPERFECT_PROVIDER"] = settings.provider  # `demo --provider` chooses for its children
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


EXIT_GAVE_UP = 1


def run_all(settings: Settings) -> int:
    """Worker, projector and API as children, each restarted when it dies (backoff, crash-loop limit).

    Returns 0 after Ctrl-C or SIGTERM; EXIT_GAVE_UP when one child exited `restart_limit` times within
    `restart_window_seconds` (the others are stopped then too). Exits while Kafka or PostgreSQL is
    unreachable are not counted: an outage of any length is waited out (see RestartPolicy). A child that
    exits EXIT_CONFIG is not restarted: the others are stopped and its code and message are passed on.
    """
    policy = RestartPolicy(limit=settings.restart_limit, window=settings.restart_window_seconds)
    log_dir = settings.data_dir / "logs"
    env = child_env(settings)
    print(f"running worker, projector and api (logs in {log_dir}); API on http://{settings.api_host}:{settings.api_port}",
          flush=True)
    children = {role: spawn(role, env, log_dir) for role in ROLES}
    exits: dict[str, list[Exit]] = {role: [] for role in ROLES}
    restart_at: dict[str, float] = {}
    stopping = False
    code = 0

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopping:
            now = time.monotonic()
            for role, child in children.items():
                if role in restart_at:
                    if now >= restart_at[role]:
                        del restart_at[role]
                        children[role] = spawn(role, env, log_dir)
                    continue
                if child.poll() is None:
                    continue
                down = unreachable_now(settings)
                exits[role].append(Exit(now, outage=down is not None, code=child.returncode))
                decision = policy.decide(exits[role], now)
                how = describe_exit(child.returncode) + (f" while {down.service} is unreachable" if down else "")
                if decision.misconfigured:
                    print(f"{role} {describe_exit(child.returncode)}, a configuration error no restart mends; "
                          f"stopping the others: {last_line(log_dir / f'{role}.log')}", file=sys.stderr, flush=True)
                    stopping, code = True, child.returncode
                    break
                if decision.give_up:
                    print(f"{role} {how}: {decision.recent_crashes} exits within {policy.window:.0f} s, giving up "
                          f"and stopping the others (see {log_dir}/{role}.log)", flush=True)
                    stopping, code = True, EXIT_GAVE_UP
                    break
                print(f"{role} {how}; restarting it in {decision.delay:.0f} s (see {log_dir}/{role}.log)", flush=True)
                restart_at[role] = now + decision.delay
            if not stopping:
                time.sleep(0.2)  # supervision poll, not synchronisation
    finally:
        stop_children(list(children.values()))
    return code


def unreachable_now(settings: Settings, timeout: float = 3.0) -> Unreachable | None:
    """Kafka or PostgreSQL, if one does not answer now: then a child's exit is an outage, not a crash."""
    try:
        check(settings, (KAFKA, POSTGRES), timeout=timeout)
    except Unreachable as exc:
        return exc
    return None


def last_line(log: Path, tail: int = 4096) -> str:
    """The last line a child wrote to its log: a child that exits EXIT_CONFIG says there, in one line, what is wrong."""
    try:
        with open(log, "rb") as f:
            f.seek(max(f.seek(0, os.SEEK_END) - tail, 0))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError as exc:
        return f"(its log {log} could not be read: {exc.strerror})"
    return next((line.strip() for line in reversed(lines) if line.strip()), f"(it wrote nothing to {log})")


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
