"""The local PostgreSQL cluster: a private initdb under `data_dir/postgres`, never a system cluster.

Locked down: TCP on 127.0.0.1 only (no Unix socket), scram-sha-256 for every connection, a generated
superuser password, and an application role that is not a superuser and owns only the project's database.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

from planperfect.settings import Settings
from planperfect.stack import process
from planperfect.stack.process import RunAs, StackError
from planperfect.stack.secrets import POSTGRES_APP_ROLE, POSTGRES_SUPERUSER, StackSecrets, ensure_secrets, write_private

Echo = Callable[[str], None]

HOST = "127.0.0.1"
# The only way in: a password over TCP from the loopback address, for every user and database.
PG_HBA = "# written by the local stack: scram-sha-256 from the loopback address only\nhost all all 127.0.0.1/32 scram-sha-256\n"
# PostgreSQL refuses to run as root; when we are root it runs as this account instead.
UNPRIVILEGED_USER = "nobody"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


class PostgresCluster:
    """A PostgreSQL cluster of our own: data in `data_dir/postgres/data`, TCP on 127.0.0.1 only."""

    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.home = settings.data_dir.resolve() / "postgres"
        self.data_dir = self.home / "data"
        self.address = f"{HOST}:{settings.postgres_port}"
        self.log = self.home / "postgres.log"
        self._run_as = _unprivileged_account() if os.geteuid() == 0 else None
        self._secrets: StackSecrets | None = None
        self._spawned: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0

    @property
    def url(self) -> str:
        """The application role's URL: what the project's processes use."""
        return self._passwords().database_url(self.address, self._settings.postgres_db)

    @property
    def admin_url(self) -> str:
        """The superuser's URL (database `postgres`): for creating databases, never for the application."""
        return self._passwords().database_url(self.address, "postgres", superuser=True)

    def _passwords(self) -> StackSecrets:
        if self._secrets is None:
            self._secrets = ensure_secrets(self._settings.data_dir)
        return self._secrets

    def pid(self) -> int | None:
        """The postmaster's pid if it is running, else None."""
        for pid in (process.read_pid(self.data_dir / "postmaster.pid"), self._spawned and self._spawned.pid):
            if pid and process.is_running(pid, str(self.data_dir)):
                return pid
        return None

    def prepare(self, echo: Echo) -> None:
        """Check the port is free and the data dir reachable; create the cluster on first start."""
        if process.port_is_open(HOST, self._settings.postgres_port):
            raise StackError(f"postgres: {self.address} is already taken by another process; "
                             "choose another port with PLANPERFECT_POSTGRES_PORT")
        self.home.mkdir(parents=True, exist_ok=True)
        if self._run_as is not None:
            self.home.chmod(0o755)
            _check_traversable(self.home, self._run_as)
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(echo)
        elif "trust" in _hba_methods(self.data_dir / "pg_hba.conf"):
            raise StackError(f"postgres: the cluster in {self.data_dir} lets users in without a password (`trust`: it was "
                             "created before the local stack locked it down); stop the stack and remove "
                             f"{self._settings.data_dir.resolve()} to create a new one")

    def launch(self) -> None:
        """Start the postmaster detached; it records its own pid in `data/postmaster.pid`."""
        self._launched_at = time.time()
        # Settings given on the command line win over postgresql.conf, so a changed port applies.
        self._spawned = process.spawn_detached(
            [str(_bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self._settings.postgres_port),
             "-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories=", "-c", "fsync=on"],
            log_path=self.log, cwd=self.data_dir, run_as=self._run_as,
        )

    def wait_ready(self) -> None:
        """Block until the server accepts a connection, then create the project's database if missing."""
        process.wait_until(
            lambda: asyncio.run(self._accepts_connections()), timeout=READY_TIMEOUT_S,
            what=f"postgres on {self.address}", alive=lambda: self.pid() is not None,
            logs=(self.log,), since=self._launched_at,
        )
        asyncio.run(self._ensure_database())

    def stop(self, echo: Echo) -> int | None:
        """Fast shutdown (SIGINT: roll back sessions, checkpoint), SIGKILL after a deadline."""
        pid = self.pid()
        if pid is not None and not process.stop(pid, str(self.data_dir), sig=signal.SIGINT,
                                                timeout=STOP_TIMEOUT_S):
            echo(f"postgres: pid {pid} did not stop within {STOP_TIMEOUT_S:.0f}s; killed it")
        if self._spawned is not None:
            self._spawned.wait()
            self._spawned = None
        return pid

    def _initdb(self, echo: Echo) -> None:
        """initdb into a staging directory renamed at the end: a data dir is whole or absent."""
        as_whom = f" as user {self._run_as.user}" if self._run_as else ""
        echo(f"postgres: creating a cluster in {self.data_dir}{as_whom} (first start)")
        for stale in self.home.glob("data.initdb-*"):
            shutil.rmtree(stale)
        staging = Path(tempfile.mkdtemp(dir=self.home, prefix="data.initdb-"))
        # initdb reads the superuser's password from a file: readable by the server's account alone, gone after
        pwfile = self.home / f".initdb-password-{os.getpid()}"
        try:
            write_private(pwfile, self._passwords().postgres_superuser_password + "\n")
            if self._run_as is not None:
                shutil.chown(staging, self._run_as.user, self._run_as.group)
                shutil.chown(pwfile, self._run_as.user, self._run_as.group)
            result = subprocess.run(
                [str(_bin_dir() / "initdb"), "-D", str(staging), "-U", POSTGRES_SUPERUSER, "--auth=scram-sha-256",
                 f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C"],
                cwd=staging, capture_output=True, text=True,
                user=self._run_as.user if self._run_as else None,
                group=self._run_as.group if self._run_as else None,
                extra_groups=[] if self._run_as else None,
            )
            if result.returncode != 0:
                raise StackError(f"postgres: initdb failed:\n{result.stdout}{result.stderr}")
            (staging / "pg_hba.conf").write_text(PG_HBA)  # initdb's also lets in ::1 and the Unix socket
            staging.rename(self.data_dir)
        finally:
            pwfile.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)  # gone already if renamed

    async def _accepts_connections(self) -> bool:
        try:
            conn = await asyncpg.connect(self.admin_url, timeout=5)
        except (OSError, asyncio.TimeoutError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError):
            return False  # refused while starting up, or "the database system is starting up"; a wrong password raises
        await conn.close()
        return True

    async def _ensure_database(self) -> None:
        """The application role (its password kept in step with the secrets file) and its database, which
        it owns, and with it the database's `public` schema (PostgreSQL 15: owned by the database's owner)."""
        conn = await asyncpg.connect(self.admin_url, timeout=5)
        try:
            role, password = POSTGRES_APP_ROLE, self._passwords().postgres_app_password
            verb = "ALTER" if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role) else "CREATE"
            await conn.execute(f"{verb} ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                               f"NOBYPASSRLS PASSWORD {_literal(password)}")
            name = self._settings.postgres_db
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f"CREATE DATABASE {_ident(name)} OWNER {_ident(role)}")
            # The maintenance database is the superuser's: other roles may not even connect to it.
            await conn.execute("REVOKE ALL ON DATABASE postgres FROM PUBLIC")
        finally:
            await conn.close()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _hba_methods(pg_hba: Path) -> set[str]:
    """The authentication methods a pg_hba.conf names (the last field of each rule, options aside)."""
    methods = set()
    for line in pg_hba.read_text().splitlines():
        fields = [field for field in line.split("#", 1)[0].split() if "=" not in field]
        if fields:
            methods.add(fields[-1])
    return methods


def _bin_dir() -> Path:
    """PostgreSQL's server binaries: beside `initdb` on PATH, else the newest /usr/lib/postgresql/*/bin."""
    if initdb := shutil.which("initdb"):
        return Path(initdb).resolve().parent
    installed = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if not installed:
        raise StackError("postgres: no PostgreSQL server binaries found (initdb is neither on PATH nor under "
                         "/usr/lib/postgresql/*/bin); install PostgreSQL 15+ or set PLANPERFECT_DATABASE_URL")
    return max(installed, key=lambda bin_dir: _version(bin_dir.parent.name))


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _unprivileged_account() -> RunAs:
    try:
        account = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise StackError(f"postgres: running as root needs the unprivileged user {UNPRIVILEGED_USER!r} "
                         "to run PostgreSQL under, and it does not exist") from None
    return RunAs(user=account.pw_name, group=grp.getgrgid(account.pw_gid).gr_name)


def _check_traversable(directory: Path, run_as: RunAs) -> None:
    """Fail, naming the directories, if `run_as` cannot reach `directory` (e.g. a 0700 home above it)."""
    account = pwd.getpwnam(run_as.user)
    closed = [ancestor for ancestor in reversed([directory, *directory.parents])
              if not _enterable(ancestor.stat(), account.pw_uid, account.pw_gid)]
    if closed:
        paths = " ".join(str(path) for path in closed)
        raise StackError(
            f"postgres: as root, PostgreSQL runs as user {run_as.user}, who cannot enter {paths}; "
            f"allow it with `chmod o+x {paths}`, or set PLANPERFECT_DATA_DIR to a directory it can reach"
        )


def _enterable(mode: os.stat_result, uid: int, gid: int) -> bool:
    if mode.st_uid == uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    if mode.st_gid == gid:
        return bool(mode.st_mode & stat.S_IXGRP)
    return bool(mode.st_mode & stat.S_IXOTH)
