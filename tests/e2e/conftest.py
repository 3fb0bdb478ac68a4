"""Running systems for end-to-end tests: real worker, projector and API processes on the session's stack."""

from __future__ import annotations

import tempfile
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import create_database, create_prefix, delete_prefix, drop_database
from tests.support import Child, api_session, eventually, free_port, make_key, start_child


@dataclass
class System:
    base_url: str
    env: dict[str, str]
    log_dir: Path
    database: str
    prefix: str
    key: str  # an admin key, also in env as PLANPERFECT_API_KEY for the CLI
    children: dict[str, Child] = field(default_factory=dict)

    def http(self, **kwargs) -> aiohttp.ClientSession:
        """A session that sends the system's admin key."""
        return api_session(self.key, **kwargs)

    def start(self, role: str, name: str | None = None) -> Child:
        child = start_child(role, self.env, self.log_dir)
        self.children[name or role] = child
        return child

    def logs(self) -> str:
        return "\n".join(f"--- {role}\n{c.output()}" for role, c in self.children.items())


async def wait_ready(base_url: str, system: System | None = None, timeout: float = 60) -> None:
    async with aiohttp.ClientSession() as http:

        async def ready():
            if system is not None:
                for role, child in system.children.items():
                    if child.proc.poll() is not None:
                        raise AssertionError(f"{role} exited early:\n{child.output()}")
                workers = [c for c in system.children.values() if c.role == "worker"]
                # the whole log: output() is its tail, which a worker that ran many jobs has long written past
                if not all("Worker ready" in c.log.read_text(errors="replace") for c in workers):
                    return False  # a job submitted before the worker holds its partitions would wait for the join
            try:
                async with http.get(f"{base_url}/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, timeout=timeout, what="API ready")


@asynccontextmanager
async def running_system(infra, database: str, prefix: str, work: Path, **extra_env: str):
    """Worker, projector and API as real processes; stopped (SIGTERM) on exit."""
    port = free_port()
    key = await make_key(infra, database, prefix, "admin")
    env = {
        "PLANPERFECT_KAFKA_BOOTSTRAP": infra.bootstrap,
        "PLANPERFECT_DATABASE_URL": database,
        "PLANPERFECT_TOPIC_PREFIX": prefix,
        "PLANPERFECT_DATA_DIR": str(work / "data"),
        "PLANPERFECT_API_PORT": str(port),
        "PLANPERFECT_API_KEY": key,
        **extra_env,
    }
    sys_ = System(f"http://127.0.0.1:{port}", env, work / "logs", database, prefix, key)
    for role in ("worker", "projector", "api"):
        sys_.start(role)
    try:
        await wait_ready(sys_.base_url, sys_)
        yield sys_
    finally:
        for child in sys_.children.values():
            child.stop()


@pytest.fixture
async def system(infra, database, prefix, tmp_path):
    async with running_system(infra, database, prefix, tmp_path) as sys_:
        yield sys_


@pytest.fixture(scope="module")
async def faulty_system(infra):
    """One system per module with fault injection on, for the delivery tests."""
    database = await create_database(infra)
    prefix = await create_prefix(infra)
    work = Path(tempfile.mkdtemp(prefix="planperfect-e2e-"))
    try:
        async with running_system(infra, database, prefix, work, PLANPERFECT_FAULT_INJECTION="1",
                                  PLANPERFECT_WORKER_IN_FLIGHT="16") as sys_:
            yield sys_
    finally:
        await drop_database(infra, database)
        await delete_prefix(infra, prefix)
