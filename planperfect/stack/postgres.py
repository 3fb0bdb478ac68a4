"""The local PostgreSQL cluster: a private initdb under `data_dir/postgres`, never a system cluster.

Locked down: a Unix socket in a directory of the stack's own, which every client of the project uses (see
pgsocket.py), and TCP on 127.0.0.1 for the user's own tools; scram-sha-256 for every connection, a generated
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
from planperfect.stack.pgsocket import MAX_SOCKET_PATH_BYTES, socket_dir, socket_path, url_address
from planperfect.stack.process import RunAs, StackError
from planperfect.stack.secrets import (POSTGRES_APP_ROLE, POSTGRES_SUPERUSER, StackSecrets, ensure_secrets, private_dir,
                                      write_private)

Echo = Callable[[str], None]

HOST = "127.0.0.1"
# The only ways in: a password through the stack's socket or over TCP from the loopback address, for every user and
# database.
PG_HBA = ("# written by the local stack: scram-sha-256 through its Unix socket and from the loopback address only\n"
          "local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n")
# PostgreSQL refuses to run as root; when we are root it runs as this system account, made on first need. Never a
# shared account such as `nobody`: any process of that account could edit pg_hba.conf or read the data files.
SERVICE_ACCOUNT = "planperfect-pg"
NOLOGIN = "/usr/sbin/nologin"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


class PostgresCluster:
    """A PostgreSQL cluster of our own: data in `data_dir/postgres/data`, a socket in `data_dir/postgres/socket`
    for the project's clients, TCP on 127.0.0.1 for the user's tools."""

    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.home = settings.data_dir.resolve() / "postgres"
        self.data_dir = self.home / "data"
        self.socket_dir = socket_dir(settings.data_dir)
        self.socket = socket_path(settings.data_dir, settings.postgres_port)
        self.address = str(self.socket)  # what the project's clients connect to
        self.tcp_address = f"{HOST}:{settings.postgres_port}"
        self.log = self.home / "postgres.log"
        self._run_as: RunAs | None = None  # as root: the service account, resolved (and made) by service_group()
        self._secrets: StackSecrets | None = None
        self._spawned: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0

    @property
    def url(self) -> str:
        """The application role's URL: what the project's processes use."""
        return self._passwords().database_url(self._url_address, self._settings.postgres_db)

    @property
    def admin_url(self) -> str:
        """The superuser's URL (database `postgres`): for creating databases, never for the application."""
        return self._passwords().database_url(self._url_address, "postgres", superuser=True)

    @property
    def _url_address(self) -> str:
        return url_address(self._settings.data_dir, self._settings.postgres_port)

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

    def service_group(self, echo: Echo) -> str | None:
        """As root, the group of the account PostgreSQL runs as (the account is made if missing), which must pass
        through the stack's directories to reach its data; None when we are not root (it runs as us)."""
        if os.geteuid() != 0:
            return None
        if self._run_as is None:
            self._run_as = system_account(SERVICE_ACCOUNT, echo)
        return self._run_as.group

    def prepare(self, echo: Echo) -> None:
        """Check the port is free and the data dir reachable; create the cluster on first start, and the socket's
        directory, which only PostgreSQL's account may write."""
        if process.port_is_open(HOST, self._settings.postgres_port):
            raise StackError(f"postgres: {self.tcp_address} is already taken by another process; "
                             "choose another port with PLANPERFECT_POSTGRES_PORT")
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH_BYTES:
            raise StackError(f"postgres: the socket's path {self.socket} is longer than the {MAX_SOCKET_PATH_BYTES} "
                             "bytes a Unix socket's path may have; set PLANPERFECT_DATA_DIR to a shorter path")
        self.home.mkdir(parents=True, exist_ok=True)
        private_dir(self.home, self.service_group(echo))
        if self._run_as is not None:
            _check_traversable(self.home, self._run_as)
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(echo)
        elif "trust" in _hba_methods(self.data_dir / "pg_hba.conf"):
            raise StackError(f"postgres: the cluster in {self.data_dir} lets users in without a password (`trust`: it was "
                             "created before the local stack locked it down); stop the stack and remove "
                             f"{self._settings.data_dir.resolve()} to create a new one")
        if self._run_as is not None:
            _hand_over(self.data_dir, self._run_as, echo)
        _keep_hba(self.data_dir / "pg_hba.conf", echo)
        self._private_socket_dir()

    def _private_socket_dir(self) -> None:
        """The socket's directory: PostgreSQL's account's alone (it makes the socket and its lock file there), 0700,
        so no other account can put a socket of its own where the clients look."""
        self.socket_dir.mkdir(exist_ok=True)
        if self._run_as is not None:
            shutil.chown(self.socket_dir, self._run_as.user, self._run_as.group)
        self.socket_dir.chmod(0o700)

    def launch(self) -> None:
        """Start the postmaster detached; it records its own pid in `data/postmaster.pid`."""
        self._launched_at = time.time()
        # Settings given on the command line win over postgresql.conf, so a changed port applies. The socket's own
        # mode is its owner's only too: the directory already keeps others out, this keeps it so if the directory
        # is ever opened.
        self._spawned = process.spawn_detached(
            [str(_bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self._settings.postgres_port),
             "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={_quoted_dir(self.socket_dir)}",
             "-c", "unix_socket_permissions=0700", "-c", "fsync=on"],
            log_path=self.log, cwd=self.data_dir, run_as=self._run_as,
        )

    def wait_ready(self) -> None:
        """Block until the server accepts a connection, then create the project's database if missing."""
        if not self._launched_at and (pid := self.pid()) is not None and not self.socket.is_socket():
            raise StackError(f"postgres: the running server (pid {pid}) has no socket at {self.socket} (an earlier "
                             "version started it, on TCP only, or it runs on another port); restart the stack "
                             "(`planperfect down`, then `planperfect up`)")
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


def _quoted_dir(path: Path) -> str:
    """`path` as one element of PostgreSQL's list of directories (commas and spaces allowed inside the quotes)."""
    return '"' + str(path).replace('"', '""') + '"'


def _keep_hba(pg_hba: Path, echo: Echo) -> None:
    """Put the stack's rules in a cluster an earlier version made (it had no `local` rule), keeping the file's owner."""
    if pg_hba.read_text() != PG_HBA:
        write_private(pg_hba, PG_HBA)
        echo(f"postgres: {pg_hba} now lets the stack's clients in through its Unix socket, with scram-sha-256")


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


def system_account(name: str, echo: Echo) -> RunAs:
    """The system account `name`, made when missing (useradd, else adduser: a login-less account without a home).
    Fails saying how to make it rather than fall back to a shared account."""
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        account = _make_system_account(name, echo)
    return RunAs(user=account.pw_name, group=grp.getgrgid(account.pw_gid).gr_name)


def _make_system_account(name: str, echo: Echo) -> pwd.struct_passwd:
    shell = NOLOGIN if Path(NOLOGIN).exists() else "/bin/false"
    attempts = (["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", shell, name],
                ["adduser", "--system", "--group", "--no-create-home", "--home", "/nonexistent", "--shell", shell, name])
    failures = []
    for argv in attempts:
        if shutil.which(argv[0]) is None:
            failures.append(f"{argv[0]} is not installed")
            continue
        result = subprocess.run(argv, capture_output=True, text=True)
        try:
            account = pwd.getpwnam(name)  # made now, or by a start running beside this one
        except KeyError:
            failures.append(f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip() or result.returncode}")
            continue
        echo(f"postgres: created the system account {name} to run PostgreSQL as (it refuses to run as root)")
        return account
    raise StackError(f"postgres: as root, PostgreSQL runs as the system account {name}, which does not exist and "
                     f"could not be made ({'; '.join(failures)}); make it (`{' '.join(attempts[0])}`), or run "
                     "`planperfect up` as an ordinary user (PostgreSQL then runs as that user)")


def _hand_over(data_dir: Path, run_as: RunAs, echo: Echo) -> None:
    """Give a data dir that another account owns (`nobody`, before this version) to `run_as`, and say so once."""
    account = pwd.getpwnam(run_as.user)
    owner = data_dir.stat().st_uid
    if owner != account.pw_uid:
        for parent, dirs, files in os.walk(data_dir):
            for entry in (parent, *(os.path.join(parent, name) for name in (*dirs, *files))):
                os.chown(entry, account.pw_uid, account.pw_gid, follow_symlinks=False)
        try:
            previous = pwd.getpwuid(owner).pw_name
        except KeyError:
            previous = f"uid {owner}"
        echo(f"postgres: {data_dir} belonged to {previous}; handed it to {run_as.user}, the account PostgreSQL "
             "runs as now (no account shared with other services may own it)")
    data_dir.chmod(0o700)


def _check_traversable(directory: Path, run_as: RunAs) -> None:
    """Fail, naming the directories, if `run_as` cannot reach `directory` (e.g. a 0700 home above it)."""
    account = pwd.getpwnam(run_as.user)
    closed = [ancestor for ancestor in reversed([directory, *directory.parents])
              if not _enterable(ancestor.stat(), account.pw_uid, account.pw_gid)]
    if closed:
        paths = " ".join(str(path) for path in closed)
        raise StackError(
            f"postgres: as root, PostgreSQL runs as the account {run_as.user}, which cannot enter {paths}; "
            f"allow it with `chmod o+x {paths}`, or set PLANPERFECT_DATA_DIR to a directory it can reach"
        )


def _enterable(mode: os.stat_result, uid: int, gid: int) -> bool:
    if mode.st_uid == uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    if mode.st_gid == gid:
        return bool(mode.st_mode & stat.S_IXGRP)
    return bool(mode.st_mode & stat.S_IXOTH)
