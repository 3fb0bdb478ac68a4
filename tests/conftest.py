"""Session fixtures: ONE real Kafka broker and ONE PostgreSQL for the whole run; per-test prefixes and databases."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from planperfect.migrate import migrate
from planperfect.settings import Settings
from planperfect.topic_admin import ensure_topics
from tests.support import TEST_PARTITIONS, free_port, free_port_pair


os.environ["PLANPERFECT_PARTITIONS"] = str(TEST_PARTITIONS)  # child processes create and read topics alike


@dataclass(frozen=True)
class Infra:
    bootstrap: str
    admin_dsn: str  # a database on the server where tests may CREATE DATABASE


def _dsn_with_db(dsn: str, db: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{db}"


@pytest.fixture(scope="session")
def infra() -> Infra:
    """The configured cluster and database when PLANPERFECT_* say so, else a local stack of our own."""
    bootstrap = os.environ.get("PLANPERFECT_KAFKA_BOOTSTRAP")
    dsn = os.environ.get("PLANPERFECT_DATABASE_URL")
    if bootstrap and dsn:
        yield Infra(bootstrap, dsn)
        return
    if bootstrap or dsn:
        raise pytest.UsageError("set both PLANPERFECT_KAFKA_BOOTSTRAP and PLANPERFECT_DATABASE_URL, or neither")
    from planperfect.stack import LocalStack

    # Not under pytest's tmp dir: pytest resets it to 0700, and as root PostgreSQL runs as `nobody`,
    # who must be able to enter every directory above its data directory.
    data = Path(tempfile.mkdtemp(prefix="planperfect-suite-"))
    data.chmod(0o711)
    settings = Settings(data_dir=data, kafka_port=free_port_pair(), postgres_port=free_port())
    stack = LocalStack(settings, echo=lambda line: print(f"[stack] {line}"))
    info = stack.up()
    try:
        yield Infra(info.bootstrap, info.database_url)
    finally:
        stack.down()
        shutil.rmtree(data, ignore_errors=True)


async def create_database(infra: Infra, *, migrated: bool = True) -> str:
    """A fresh database on the test server (with every migration applied unless told otherwise)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _dsn_with_db(infra.admin_dsn, name)
    if migrated:
        await migrate(dsn)
    return dsn


async def drop_database(infra: Infra, dsn: str) -> None:
    name = dsn.rpartition("/")[2]
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_prefix(infra: Infra) -> str:
    """A topic prefix of its own, with the whole catalogue created under it."""
    p = f"t{uuid.uuid4().hex[:10]}."
    await ensure_topics(infra.bootstrap, p, TEST_PARTITIONS)
    return p


@pytest.fixture
async def database(infra: Infra) -> str:
    """A fresh database with every migration applied; dropped after the test."""
    dsn = await create_database(infra)
    yield dsn
    await drop_database(infra, dsn)


@pytest.fixture
async def empty_database(infra: Infra) -> str:
    dsn = await create_database(infra, migrated=False)
    yield dsn
    await drop_database(infra, dsn)


async def delete_prefix(infra: Infra, prefix: str) -> None:
    """Remove a test's topics so the one broker of the run stays small."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


@pytest.fixture
async def prefix(infra: Infra) -> str:
    p = await create_prefix(infra)
    yield p
    await delete_prefix(infra, p)
