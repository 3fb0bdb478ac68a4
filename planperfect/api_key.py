"""The command line's API key: the admin key the first `up` makes (in a file only its owner reads), and the key
every command that calls the HTTP API sends (PLANPERFECT_API_KEY, else that file)."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from planperfect.settings import Settings

KEY_FILE = "admin-api-key"
# The first fact on a topic `topics ensure` has just made waits for the topic's leader: give it time, then fail.
KAFKA_SEND_TIMEOUT_S = 30.0


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def client_key(settings: Settings) -> str | None:
    """The key the CLI and the demo send: PLANPERFECT_API_KEY, else the bootstrap admin key's file."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return client_key_in(key_file(settings))


def auth_headers(settings: Settings) -> dict[str, str]:
    key = client_key(settings)
    return {"Authorization": f"Bearer {key}"} if key else {}


def cli_actor() -> str:
    """Who a key change made from the command line is recorded as (it reaches the database directly)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid {os.getuid()}"


def write_secret(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only (0600 from creation on, never wider), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    os.replace(tmp, path)


@asynccontextmanager
async def access_log(settings: Settings) -> AsyncIterator:
    """A `send` for api/keys.py and the projections commands: each operator action as a fact on access-events,
    acknowledged by every in-sync replica (before a key change commits)."""
    from aiokafka import AIOKafkaProducer

    from streams.access import kafka_options
    from streams.codec import encode

    producer = AIOKafkaProducer(**kafka_options(settings.kafka()), acks="all", enable_idempotence=True)
    await producer.start()
    topic = settings.topics().access_events

    async def send(fact) -> None:
        await asyncio.wait_for(producer.send_and_wait(topic, encode(fact), key=fact.log_key),
                               KAFKA_SEND_TIMEOUT_S)

    try:
        yield send
    finally:
        await producer.stop()


async def new_key(settings: Settings, *, name: str, role: str, tenant: str | None = None, actor: str | None = None):
    """(record, key) of a key made in the deployment's database, its fact on the deployment's log."""
    from api.keys import create_key
    from api.principal import Role

    conn = await asyncpg.connect(settings.database())
    try:
        async with access_log(settings) as send:
            return await create_key(conn, send, name=name, role=Role(role), tenant=tenant, actor=actor or cli_actor())
    finally:
        await conn.close()


def ensure_admin_key(settings: Settings) -> Path | None:
    """Make the first admin key when the key file is missing, or names a key this database does not have (a new
    database); the file's path when one was made. A revoked key in the file stays revoked: revoking it was an
    admin's decision, which a restart must not undo."""
    from api.keys import create_key, find_key, key_id_of
    from api.principal import Role

    path = key_file(settings)

    async def run() -> Path | None:
        conn = await asyncpg.connect(settings.database())
        try:
            existing = client_key_in(path)
            key_id = key_id_of(existing) if existing else None
            if key_id is not None and await find_key(conn, key_id) is not None:
                return None
            async with access_log(settings) as send:
                _, key = await create_key(conn, send, name="admin (made by the first planperfect up)",
                                          role=Role.ADMIN, tenant=None, actor="bootstrap")
            write_secret(path, key)
            return path
        finally:
            await conn.close()

    return asyncio.run(run())


def client_key_in(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except (FileNotFoundError, PermissionError):  # no key yet, or another user's: the API will say 401
        return None
