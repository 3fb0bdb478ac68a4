"""Test helpers: waiting on conditions with deadlines, free ports, real child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

import aiohttp

from projections.runner import ProjectionRunner
from planperfect.stack.ports import free_port, free_port_pair  # noqa: F401  (tests import them from here)

T = TypeVar("T")

# The suite's one broker holds every test's topics: four partitions a topic keeps it light (the default, 12,
# is for deployments; tests/integration/test_topics.py covers it). tests/conftest.py sets it for child processes.
TEST_PARTITIONS = 4


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail with the last value after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)  # poll interval of a deadline-bound wait, not a synchronisation sleep


@dataclass
class Child:
    """A real `planperfect <role>` process with its log file."""

    role: str
    proc: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as in a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


async def project(bootstrap: str, dsn: str, topics) -> None:
    """Run a projector until the read model holds everything on the log so far, then stop it."""
    runner = ProjectionRunner(bootstrap=bootstrap, dsn=dsn, topics=topics, batch_wait_ms=20)
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()


async def cli(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
    """Run `planperfect ARGS` as a real process; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "planperfect.cli", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def env_of(infra, dsn: str, prefix: str) -> dict[str, str]:
    """The environment that points a process at a test's cluster, database and topic prefix."""
    return {"PLANPERFECT_KAFKA_BOOTSTRAP": infra.bootstrap, "PLANPERFECT_DATABASE_URL": dsn,
            "PLANPERFECT_TOPIC_PREFIX": prefix}


def start_child(role: str, env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{role}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "planperfect.cli", role], env={**os.environ, **env},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    return Child(role, proc, log)


# ---------------------------------------------------------------- API keys: the one way tests authenticate


async def make_key(infra, dsn: str, prefix: str, role: str = "admin", *, tenant: str | None = None,
                   name: str | None = None, logged: bool = False) -> str:
    """A new API key in the test's database, made by api/keys.py as `keys create` makes it. Its KeyCreated fact
    goes to the test's access-events topic only when `logged`: the first write to a fresh prefix's topic waits
    seconds for its leader, a cost every test would pay for a fact only the audit tests read."""
    import asyncpg

    from api.keys import create_key
    from api.principal import Role
    from planperfect.api_key import new_key
    from planperfect.settings import Settings

    name = name or f"test {role}"
    if logged:
        settings = Settings(kafka_bootstrap=infra.bootstrap, database_url=dsn, topic_prefix=prefix)
        return (await new_key(settings, name=name, role=role, tenant=tenant, actor="test"))[1]

    async def unlogged(_fact) -> None:
        return None

    conn = await asyncpg.connect(dsn)
    try:
        return (await create_key(conn, unlogged, name=name, role=Role(role), tenant=tenant, actor="test"))[1]
    finally:
        await conn.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def api_client(infra, config, *, role: str = "admin", key_prefix: str | None = None):
    """A test client of create_app(config) that sends a fresh key of `role` on every request (`client.key`).
    `key_prefix`: where the key's fact goes when the app's own prefix has no topics."""
    from aiohttp.test_utils import TestClient, TestServer

    from api.app import create_app

    key = await make_key(infra, config.dsn, key_prefix or config.topics.prefix, role)
    async with TestClient(TestServer(create_app(config)), headers=bearer(key)) as client:
        client.key = key
        yield client


def api_session(key: str, **kwargs) -> aiohttp.ClientSession:
    """An aiohttp session that sends `key` on every request (the e2e tests' clients of a running API)."""
    return aiohttp.ClientSession(headers=bearer(key), **kwargs)
