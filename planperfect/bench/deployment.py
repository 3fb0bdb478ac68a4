"""A benchmark's own deployment on the configured cluster: a fresh database and topic prefix, removed afterwards."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from planperfect.processes import child_env, spawn, stop_children
from planperfect.settings import Settings
from streams.access import kafka_options


@dataclass
class Deployment:
    """Settings pointing at the bench's own database and prefix, and the processes it started."""

    settings: Settings
    children: list[subprocess.Popen] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def start(self, role: str, **env: str) -> subprocess.Popen:
        """`python -m planperfect.cli <role>` on this deployment; `env` adds PLANPERFECT_* settings."""
        child = spawn(role, child_env(self.settings) | env, self.log_dir)
        self.children.append(child)
        return child

    def stop(self, children: list[subprocess.Popen] | None = None) -> None:
        which = self.children if children is None else children
        stop_children(which)
        self.children = [c for c in self.children if c not in which]

    def check_alive(self) -> None:
        for child in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"{' '.join(child.args[-1:])} exited with code {child.returncode} "
                                   f"(see its log in {self.log_dir})")


def ensure_stack(base: Settings) -> Settings:
    """The local stack, when no cluster is configured (as every other command does); the settings to run the
    bench with: on the local stack its administrators', since a bench makes databases and topic prefixes of its own."""
    if base.uses_local_stack:
        from planperfect.stack import LocalStack

        return LocalStack(base).up().as_admin(base)
    return base


def _server_dsn(dsn: str, database: str) -> str:
    return f"{dsn.rpartition('/')[0]}/{database}"


@asynccontextmanager
async def deployment(base: Settings, label: str, *, catalogue: bool = True, **overrides) -> AsyncIterator[Deployment]:
    """A database and topic prefix of the bench's own, migrated and (unless `catalogue` is false: the relay
    and the seed design need none of it) with every topic of the catalogue."""
    from planperfect.cli import prepare
    from planperfect.migrate import migrate

    base = await asyncio.to_thread(ensure_stack, base)
    tag = f"{label}{uuid.uuid4().hex[:8]}"
    database = f"bench_{tag}"
    admin_dsn = base.database()
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    data_dir = Path(tempfile.mkdtemp(prefix=f"planperfect-bench-{label}-"))
    settings = base.model_copy(update={
        "kafka_bootstrap": base.kafka(), "database_url": _server_dsn(admin_dsn, database),
        "topic_prefix": f"bench.{tag}.", "data_dir": data_dir, **overrides,
    })
    dep = Deployment(settings)
    names = [name for name, _ in settings.topics().all()] if catalogue else []
    try:
        if catalogue:
            await asyncio.to_thread(prepare, settings, quiet=True)
            await wait_for_topics(settings.kafka(), names)
        else:
            await migrate(settings.database())
        yield dep
    finally:
        dep.stop()
        try:
            await remove_topics(settings.kafka(), settings.topic_prefix, names)
        finally:  # the database goes even when the broker is unreachable
            conn = await asyncpg.connect(admin_dsn)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await conn.close()
            if not os.environ.get("PLANPERFECT_BENCH_KEEP_LOGS"):
                shutil.rmtree(data_dir, ignore_errors=True)


async def wait_for_topics(bootstrap: str, names: list[str], timeout: float = 60.0) -> None:
    """Until every topic is in the cluster metadata with a leader for each partition: on a busy broker a
    topic that was just created can take seconds to show up, and a client would fail or retry against it."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            meta = await admin.describe_topics(names)
            waiting = [t["topic"] for t in meta if t["error_code"] or not t["partitions"]
                       or any(p["leader"] < 0 for p in t["partitions"])]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(waiting)} topics not ready after {timeout:.0f}s, e.g. {waiting[0]}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def remove_topics(bootstrap: str, prefix: str, names: list[str]) -> None:
    """The deployment's topics: a bench leaves no topic behind on a shared cluster (its consumer groups, now
    empty, expire with the broker's offsets retention; aiokafka's admin client cannot delete groups)."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        listed = [t for t in await admin.list_topics() if t.startswith(prefix)]  # the relay's own topics too
        await admin.delete_topics(sorted(set(names) | set(listed)))  # unknown names are answered, not raised
    finally:
        await admin.close()
