"""The command line's API keys: the admin and operator keys the first `up` makes (in files only their owner reads),
and the key every command that calls the HTTP API sends (PLANPERFECT_API_KEY, else the operator key's file)."""

from __future__ import annotations

import asyncio
import errno
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
# The key the CLI and the demo send: none of their API calls needs more than an operator (the `keys` commands work on
# the database), so the admin key stays in its file for key changes, and a squatter on the API's port (a local client
# cannot tell it from the API) gets an operator key at worst.
OPERATOR_KEY_FILE = "operator-api-key"
KEY_FILES = {"admin": KEY_FILE, "operator": OPERATOR_KEY_FILE}  # the files the first `up` makes, by role
BOOTSTRAP = "bootstrap"  # the actor of the keys `up` makes
# The first fact on a topic `topics ensure` has just made waits for the topic's leader: give it time, then fail.
KAFKA_SEND_TIMEOUT_S = 30.0


def key_file(settings: Settings, role: str = "admin") -> Path:
    return settings.data_dir / KEY_FILES[role]


def client_key(settings: Settings) -> str | None:
    """The key the CLI and the demo send: PLANPERFECT_API_KEY, else the operator key file `up` made."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    return client_key_in(key_file(settings, "operator"))


def auth_headers(settings: Settings) -> dict[str, str]:
    key = client_key(settings)
    return {"Authorization": f"Bearer {key}"} if key else {}


# The account a session logged in as, set by PAM at login and kept across su and sudo; the process cannot change it
# (only a privileged write at login can set it once). 4294967295, (uid_t) -1, means no login set it (a daemon's).
LOGIN_UID = Path("/proc/self/loginuid")
NO_LOGIN_UID = 4294967295


def cli_actor(login_uid: Path = LOGIN_UID) -> str:
    """Who an action made from the command line is recorded as (it reaches the database directly): the account the
    process runs as, by its uid, never $LOGNAME or $USER, which anyone sets to anything; and the account that logged
    in, by the kernel's login uid, when it is another (`cli:root (login alice)` after sudo or su). Not $SUDO_USER:
    root, without sudo, could set it to blame any account."""
    uid = os.geteuid()
    login = _login_uid(login_uid)
    if login is not None and login != uid:
        return f"cli:{_account(uid)} (login {_account(login)})"
    return f"cli:{_account(uid)}"


def _login_uid(path: Path) -> int | None:
    try:
        uid = int(path.read_text().strip())
    except (OSError, ValueError):  # no audit support in the kernel: no login uid to tell
        return None
    return None if uid == NO_LOGIN_UID else uid


def _account(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without an account (a container's)
        return f"uid {uid}"


class SecretFile:
    """A file only its owner reads (0600 from creation on, never wider, in directories this makes 0700), opened before
    its secret exists, so that a file that cannot be written is known before a key is made for it; `commit` writes
    the secret and puts the file in place atomically; leaving without a commit leaves nothing behind."""

    def __init__(self, path: Path) -> None:
        _make_private_dirs(path.parent)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._out = os.fdopen(os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w")
        self._done = False

    def commit(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.close()  # flushes: a full disk fails here, before the file is put in place
        os.replace(self._tmp, self.path)
        self._done = True

    def __enter__(self) -> "SecretFile":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self._out.close()
            self._tmp.unlink(missing_ok=True)


def _make_private_dirs(directory: Path) -> None:
    """Make the missing directories of `directory` 0700 (`mkdir -p` would make them with the umask's 0755)."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:  # made meanwhile by another process
            pass


def os_reason(exc: OSError) -> str:
    """An OSError in one line: its reason, and the path it is about."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


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
class KeyFile:
    """What `ensure_key_file` found and did, for `up` to say."""

    role: str
    path: Path
    made: str | None = None  # the id of the key made now (the file was missing, empty or unknown)
    repaired: int | None = None  # the too-open mode the file had before it was put back to 0600
    still_active: tuple[KeyRecord, ...] = ()  # earlier keys of its role `up` made that nobody revoked


def ensure_key_file(settings: Settings, role: str) -> KeyFile:
    """Make a key of `role` (admin or operator) when its file is missing, empty, not a key, or names a key this
    database does not have (a new database). A revoked key in the file stays revoked: revoking it was an admin's
    decision, which a restart must not undo. A file others may read is put back to 0600 first (`up` owns the file it
    made); the file is opened before the key is made, so that one it cannot write leaves no key behind."""
    from api.keys import create_key, find_key, key_id_of, list_keys
    from api.principal import Role

    path = key_file(settings, role)
    repaired = _make_private(path)

    async def run() -> KeyFile:
        conn = await asyncpg.connect(settings.database())
        try:
            existing = client_key_in(path)
            key_id = key_id_of(existing) if existing else None
            if key_id is not None and await find_key(conn, key_id) is not None:
                return KeyFile(role, path, repaired=repaired)
            # Dated: a lost file makes another one, and the operator must tell them apart to revoke the old ones.
            name = f"{role} (made by planperfect up, {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"
            with SecretFile(path) as out:
                async with access_log(settings) as send:
                    record, key = await create_key(conn, send, name=name, role=Role(role), tenant=None,
                                                   actor=BOOTSTRAP)
                out.commit(key)
            older = tuple(k for k in await list_keys(conn) if k.created_by == BOOTSTRAP and k.revoked_at is None
                          and k.role is Role(role) and k.key_id != record.key_id)
            return KeyFile(role, path, made=record.key_id, repaired=repaired, still_active=older)
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
                "(`planperfect keys create`), or unset it to send the operator key file")
    path = key_file(settings, "operator")
    if client_key_in(path) is None:
        return (f"no key was sent: set PLANPERFECT_API_KEY, or run `planperfect up` once to make the operator key "
                f"file {path}")
    return (f"the operator key in {path} was refused (revoked, or made for another database: see `planperfect keys "
            f"list`); make a new one in its place with `planperfect keys create --role operator --name \"operator "
            f"{datetime.now(timezone.utc):%Y-%m-%d}\" --out {path}`")
