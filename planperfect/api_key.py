"""The command line's API key: the admin key the first `up` makes (in a file only its owner reads), and the key
every command that calls the HTTP API sends (PLANPERFECT_API_KEY, else that file)."""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from planperfect.settings import Settings

if TYPE_CHECKING:
    from api.keys import KeyRecord

KEY_FILE = "admin-api-key"
BOOTSTRAP = "bootstrap"  # the actor of the admin keys `up` makes
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
    """Who an action made from the command line is recorded as (it reaches the database directly): the account the
    process runs as, by its uid, never $LOGNAME or $USER, which anyone sets to anything; and the account that ran
    sudo, when sudo says so and that account exists."""
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without an account (a container's)
        user = f"uid {uid}"
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and sudo_user != user and _is_account(sudo_user):
        return f"cli:{user} via sudo from {sudo_user}"
    return f"cli:{user}"


def _is_account(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except (KeyError, ValueError):  # ValueError: a name with a NUL
        return False
    return True


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


@dataclass(frozen=True)
class AdminKeyFile:
    """What `ensure_admin_key` found and did, for `up` to say."""

    path: Path
    made: str | None = None  # the id of the admin key made now (the file was missing, empty or unknown)
    repaired: int | None = None  # the too-open mode the file had before it was put back to 0600
    still_active: tuple[KeyRecord, ...] = ()  # earlier bootstrap admin keys nobody revoked


def ensure_admin_key(settings: Settings) -> AdminKeyFile:
    """Make an admin key when the key file is missing, empty, not a key, or names a key this database does not have
    (a new database). A revoked key in the file stays revoked: revoking it was an admin's decision, which a restart
    must not undo. A file others may read is put back to 0600 first (`up` owns the file it made)."""
    from api.keys import create_key, find_key, key_id_of, list_keys
    from api.principal import Role

    path = key_file(settings)
    repaired = _make_private(path)

    async def run() -> AdminKeyFile:
        conn = await asyncpg.connect(settings.database())
        try:
            existing = client_key_in(path)
            key_id = key_id_of(existing) if existing else None
            if key_id is not None and await find_key(conn, key_id) is not None:
                return AdminKeyFile(path, repaired=repaired)
            # Dated: a lost file makes another one, and the operator must tell them apart to revoke the old ones.
            name = f"admin (made by planperfect up, {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
            async with access_log(settings) as send:
                record, key = await create_key(conn, send, name=name, role=Role.ADMIN, tenant=None, actor=BOOTSTRAP)
            write_secret(path, key)
            older = tuple(k for k in await list_keys(conn) if k.created_by == BOOTSTRAP and k.revoked_at is None
                          and k.role is Role.ADMIN and k.key_id != record.key_id)
            return AdminKeyFile(path, made=record.key_id, repaired=repaired, still_active=older)
        finally:
            await conn.close()

    return asyncio.run(run())


def _make_private(path: Path) -> int | None:
    """Put a key file that others may read or write back to 0600; the mode it had, when it was too open."""
    mode = too_open(path)
    if mode is not None:
        os.chmod(path, 0o600)
    return mode


def too_open(path: Path) -> int | None:
    """The mode of `path` when its group or others may read or write it (as ssh refuses a private key), else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except (FileNotFoundError, PermissionError):
        return None
    return mode if mode & 0o077 else None


def client_key_in(path: Path) -> str | None:
    """The key in `path`; SystemExit with the fix when others may read the file, as ssh refuses such a key: a key
    others could have read is not the owner's alone any more, and using it silently hides that."""
    mode = too_open(path)
    if mode is not None:
        raise SystemExit(f"{path} holds an API key but its permissions {mode:04o} let others on this machine read or "
                         f"change it; refusing to use it: chmod 600 {path} (and revoke the key if someone else may "
                         "have read it)")
    try:
        return path.read_text().strip() or None
    except (FileNotFoundError, PermissionError):  # no key yet, or another user's: the API will say 401
        return None


def refused_key_hint(settings: Settings) -> str:
    """What to do when the API answers 401 to what the CLI sent, by where the key came from."""
    if settings.api_key is not None:
        return ("PLANPERFECT_API_KEY was refused (unknown or revoked): ask an admin for a key "
                "(`planperfect keys create`), or unset it to send the admin key file")
    path = key_file(settings)
    if client_key_in(path) is None:
        return (f"no key was sent: set PLANPERFECT_API_KEY, or run `planperfect up` once to make the admin key file "
                f"{path}")
    return (f"the admin key in {path} was refused (revoked, or made for another database: see `planperfect keys list`); "
            f"make a new one in its place with `planperfect keys create --role admin --name \"admin "
            f"{datetime.now(timezone.utc):%Y-%m-%d}\" --out {path}`")
