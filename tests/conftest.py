"""Session fixtures: ONE real Kafka broker and ONE PostgreSQL for the whole run; per-test prefixes and databases."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from planperfect.migrate import migrate
from planperfect.settings import Settings
from planperfect.topic_admin import ensure_topics
from tests.support import TEST_PARTITIONS, free_port, free_port_pair

TEST_PREFIX_ROOT = "t"  # of every test's topic prefix
from streams.access import kafka_options


os.environ["PLANPERFECT_PARTITIONS"] = str(TEST_PARTITIONS)  # child processes create and read topics alike


@dataclass(frozen=True)
class Infra:
    bootstrap: str  # the application principal's (on the local stack: topics and groups starting with "t")
    admin_dsn: str  # the superuser's, on a database where tests may CREATE DATABASE
    admin_bootstrap: str = ""  # the Kafka super user's, for topics outside the application's prefix; else `bootstrap`
    app_dsn: str = ""  # the application role's (any database: the name is replaced); else `admin_dsn`

    @classmethod
    def of(cls, info) -> Infra:
        """The Infra of a running local stack (`planperfect.stack.StackInfo`)."""
        return cls(info.bootstrap, info.admin_database_url, admin_bootstrap=info.admin_bootstrap, app_dsn=info.database_url)

    @property
    def kafka_admin(self) -> str:
        return self.admin_bootstrap or self.bootstrap

    @property
    def app_role(self) -> str | None:
        """The role that owns each test's database and runs the app in it; None: the admin's own."""
        return urlsplit(self.app_dsn).username if self.app_dsn else None


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

    # Not under pytest's tmp dir: pytest resets it to 0700, and as root PostgreSQL runs as an account of its own,
    # which must be able to enter every directory above its data directory (`up` then narrows this one to it).
    data = Path(tempfile.mkdtemp(prefix="planperfect-suite-"))
    data.chmod(0o711)
    # Every test's topic prefix and consumer groups start with "t": the application principal is granted that.
    settings = Settings(data_dir=data, kafka_port=free_port_pair(), postgres_port=free_port(), topic_prefix=TEST_PREFIX_ROOT)
    stack = LocalStack(settings, echo=lambda line: print(f"[stack] {line}"))
    info = stack.up()
    try:
        yield Infra.of(info)
    finally:
        stack.down()
        shutil.rmtree(data, ignore_errors=True)


async def create_database(infra: Infra, *, migrated: bool = True) -> str:
    """A fresh database on the test server, created by the superuser and owned by the application role, whose
    URL it returns: migrations and the app run as that role (with every migration applied unless told otherwise)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        owner = f' OWNER "{infra.app_role}"' if infra.app_role else ""
        await admin.execute(f'CREATE DATABASE "{name}"{owner}')
    finally:
        await admin.close()
    dsn = _dsn_with_db(infra.app_dsn or infra.admin_dsn, name)
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
    p = f"{TEST_PREFIX_ROOT}{uuid.uuid4().hex[:10]}."
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

    admin = AIOKafkaAdminClient(**kafka_options(infra.bootstrap))
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
