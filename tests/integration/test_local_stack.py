"""The local stack runs a real broker and cluster, keeps their data, and leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, KafkaTimeoutError, TopicAuthorizationFailedError, UnknownTopicOrPartitionError

from planperfect.processes import child_env
from planperfect.reachability import postgres_address
from planperfect.settings import Settings
from planperfect.stack import LocalStack, StackError, StackInfo
from planperfect.stack.kafka import kafka_tool_command
from planperfect.stack.postgres import SERVICE_ACCOUNT, system_account
from planperfect.stack.process import port_is_open
from planperfect.stack.secrets import read_secrets
from streams.access import kafka_address, kafka_options

HOST = "127.0.0.1"


@dataclass
class RunningStack:
    stack: LocalStack
    info: StackInfo
    settings: Settings
    echoed: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _free_port_pair() -> int:
    """A free port whose successor is free too (Kafka's controller listens on port + 1)."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind((HOST, 0))
            port = first.getsockname()[1]
            try:
                second.bind((HOST, port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports found")


def _stack_settings(root: Path, name: str) -> Settings:
    data_dir = root / name
    data_dir.mkdir()
    data_dir.chmod(0o711)  # as root, `up` lets PostgreSQL's account through; this checks that it narrows this
    return Settings(data_dir=data_dir, kafka_port=_free_port_pair(), postgres_port=_free_port(),
                    postgres_db="planperfect_test")


def _processes_inside(directory: Path) -> list[int]:
    """Pids whose working directory lies in `directory`: the broker and every PostgreSQL process."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cwd = (proc / "cwd").resolve(strict=True)
            except OSError:
                continue
            if cwd == directory or directory in cwd.parents:
                found.append(int(proc.name))
    return found


def _real_uid(pid: int) -> int:
    status = (Path("/proc") / str(pid) / "status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def _topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _first_message(bootstrap: str, topic: str, group: str) -> bytes | None:
    consumer = AIOKafkaConsumer(topic, **kafka_options(bootstrap), group_id=group, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=15)
    finally:
        await consumer.stop()
    return message.value


@pytest.fixture(scope="module")
def stacks_root() -> Iterator[Path]:
    """A directory for this module's stacks that PostgreSQL's user can enter.

    Not pytest's tmp_path: as root, PostgreSQL runs as its own account, which cannot enter the 0700
    /tmp/pytest-of-root, and any pytest process starting meanwhile resets a chmod of it to 0700.
    """
    root = Path(tempfile.mkdtemp(prefix="planperfect-stack-test-"))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root)


@pytest.fixture(scope="module")
def running(stacks_root: Path) -> Iterator[RunningStack]:
    settings = _stack_settings(stacks_root, "stack")
    echoed: list[str] = []
    stack = LocalStack(settings, echo=echoed.append)
    try:
        info = stack.up()
        yield RunningStack(stack=stack, info=info, settings=settings, echoed=echoed)
    finally:
        stack.down()


def test_up_starts_both_services_on_the_chosen_ports(running: RunningStack) -> None:
    settings = running.settings
    assert running.info.started == ["postgres", "kafka"]
    assert kafka_address(running.info.bootstrap) == f"{HOST}:{settings.kafka_port}"
    socket_dir = quote(str(settings.data_dir.resolve() / "postgres" / "socket"), safe="")
    assert postgres_address(running.info.database_url) == (
        f"postgresql://planperfect_app:***@{socket_dir}:{settings.postgres_port}/planperfect_test")
    assert (running.info.bootstrap, running.info.database_url) == (settings.kafka(), settings.database())
    status = running.stack.status()
    assert status.running
    assert status.kafka.data_dir.is_relative_to(settings.data_dir)
    assert status.postgres.data_dir.is_relative_to(settings.data_dir)


async def test_the_projects_clients_reach_postgres_through_its_socket_never_tcp(running: RunningStack) -> None:
    # A client cannot tell the server from a process that binds its TCP port while it is down, and asyncpg answers
    # any authentication such a squatter asks for, cleartext included: the processes `run` starts, the CLI (the
    # settings) and the stack's own administration all connect through the socket in the stack's private dir.
    settings = running.settings
    socket_dir = settings.data_dir.resolve() / "postgres" / "socket"
    dsns = {"processes": child_env(settings)["PLANPERFECT_DATABASE_URL"], "cli": settings.database(),
            "app": running.info.database_url, "admin": running.info.admin_database_url}
    for who, dsn in dsns.items():
        parts = urlsplit(dsn)
        assert (unquote(parts.netloc.rpartition("@")[2]), parts.query) == (f"{socket_dir}:{settings.postgres_port}", ""), who
    for who in ("processes", "admin"):
        conn = await asyncpg.connect(dsns[who])
        try:
            assert await conn.fetchval("SELECT inet_server_addr()") is None, who  # NULL: not a TCP connection
        finally:
            await conn.close()


async def test_a_message_produced_with_acks_all_is_consumed_back(running: RunningStack) -> None:
    bootstrap = running.info.bootstrap
    await _create_topic(bootstrap, "planperfect.roundtrip")
    await _produce(bootstrap, "planperfect.roundtrip", b"hello, log")
    assert await _first_message(bootstrap, "planperfect.roundtrip", group="planperfect.roundtrip-reader") == b"hello, log"


async def test_kafkas_own_tools_run_from_the_same_jars(running: RunningStack) -> None:
    argv = kafka_tool_command(running.settings, "org.apache.kafka.tools.TopicCommand",
                              ["--bootstrap-server", kafka_address(running.info.bootstrap), "--list",
                               "--command-config", str(running.settings.data_dir / "kafka" / "client.properties")])
    tool = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(tool.communicate(), timeout=60)
    assert tool.returncode == 0, err.decode()
    assert "planperfect.roundtrip" in out.decode().split()


async def test_a_second_up_starts_nothing(running: RunningStack) -> None:
    before = running.stack.status()
    info = await asyncio.to_thread(running.stack.up)
    after = running.stack.status()
    assert info.started == []
    assert (after.kafka.pid, after.postgres.pid) == (before.kafka.pid, before.postgres.pid)
    assert running.echoed[-1] == "stack: everything was already running; started nothing"


async def test_up_on_an_event_loop_thread_says_to_use_a_thread(running: RunningStack) -> None:
    with pytest.raises(StackError, match="asyncio.to_thread"):
        running.stack.up()


async def test_producing_to_a_topic_that_does_not_exist_fails(running: RunningStack) -> None:
    producer = AIOKafkaProducer(**kafka_options(running.info.bootstrap), acks="all", request_timeout_ms=2000)
    await producer.start()
    try:
        with pytest.raises((UnknownTopicOrPartitionError, KafkaTimeoutError)):
            await producer.send_and_wait("planperfect.roundtirp", b"a typo")
    finally:
        await producer.stop()
    assert "planperfect.roundtirp" not in await _topics(running.info.bootstrap)


async def test_postgres_answers_and_does_not_run_as_root(running: RunningStack) -> None:
    postmaster_pid = running.stack.status().postgres.pid
    assert postmaster_pid is not None
    assert _real_uid(postmaster_pid) != 0
    conn = await asyncpg.connect(running.info.database_url)
    try:
        assert await conn.fetchval("select 1") == 1
        assert _real_uid(await conn.fetchval("select pg_backend_pid()")) != 0  # while the session lives
    finally:
        await conn.close()


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_postgres_runs_as_an_account_of_its_own_and_the_stacks_files_are_private(running: RunningStack) -> None:
    # As root, PostgreSQL runs as its own system account: never `nobody`, whose every process could otherwise edit
    # pg_hba.conf and make itself superuser, nor root. Otherwise, as us.
    expected = pwd.getpwnam(SERVICE_ACCOUNT) if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    status = running.stack.status()
    assert status.postgres.pid is not None and status.kafka.pid is not None
    assert pwd.getpwuid(_real_uid(status.postgres.pid)).pw_name == expected.pw_name != "nobody"
    assert (status.postgres.data_dir.stat().st_uid, _mode(status.postgres.data_dir)) == (expected.pw_uid, 0o700)
    assert _real_uid(status.kafka.pid) == os.geteuid()  # the broker runs as us: its files are ours alone
    data = running.settings.data_dir
    assert _mode(data) == (0o710 if os.geteuid() == 0 else 0o700)  # as root, PostgreSQL's account passes through
    assert _mode(data / "postgres") == _mode(data)
    assert _mode(data / "kafka") == 0o700  # the log (every job's data), the SCRAM verifiers
    # Only PostgreSQL's account may create a file where the clients look for the socket: no one can squat it.
    socket = data / "postgres" / "socket" / f".s.PGSQL.{running.settings.postgres_port}"
    assert (socket.parent.stat().st_uid, _mode(socket.parent)) == (expected.pw_uid, 0o700)
    assert socket.is_socket() and (socket.stat().st_uid, _mode(socket)) == (expected.pw_uid, 0o700)
    lock = socket.with_name(f"{socket.name}.lock")
    assert (lock.stat().st_uid, _mode(lock)) == (expected.pw_uid, 0o600)
    private = [data / "secrets.json", data / "postgres" / "postgres.log", data / "kafka" / "kafka.out",
               *(data / "kafka" / name for name in ("server.properties", "admin.properties", "client.properties",
                                                     "kcat.conf"))]
    assert {str(path): _mode(path) for path in private} == {str(path): 0o600 for path in private}


def test_an_account_that_cannot_be_made_is_an_error_never_a_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # neither useradd nor adduser
    with pytest.raises(StackError, match=r"runs as the system account planperfect-test-none, which does not exist "
                                         r"and could not be made \(useradd is not installed; adduser is not installed\)"):
        system_account("planperfect-test-none", echo=lambda line: None)
    with pytest.raises(KeyError):
        pwd.getpwnam("planperfect-test-none")


def test_secrets_open_to_others_are_closed_and_a_lost_or_corrupt_file_says_restore_it(
    running: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    data = running.settings.data_dir
    path = data / "secrets.json"
    path.chmod(0o644)
    assert read_secrets(data) == read_secrets(data)  # read by every command: the first one closes it
    assert _mode(path) == 0o600
    assert capsys.readouterr().err.count("was readable by others (mode 0644); set it back to 0600") == 1

    kept = path.with_name("secrets.json.kept")
    path.rename(kept)
    try:
        with pytest.raises(StackError, match=r"secrets.json is missing, and the stack's data .*postgres/data/PG_VERSION"
                                             r".* cannot be opened without it: restore secrets.json from a backup") as lost:
            running.stack.up()
        assert "loses the API keys, the guard" in str(lost.value)
        path.write_text('{"postgres_superuser_password": ')
        with pytest.raises(StackError, match="secrets.json is corrupt .*: restore secrets.json from a backup"):
            read_secrets(data)
    finally:
        path.unlink(missing_ok=True)
        kept.rename(path)
    assert running.stack.status().running


def test_a_taken_port_fails_clearly_and_leaves_the_running_stack_alone(
    running: RunningStack, stacks_root: Path
) -> None:
    before = running.stack.status()
    elsewhere = running.settings.model_copy(update={"data_dir": stacks_root / "elsewhere"})
    with pytest.raises(StackError, match="already taken by another process"):
        LocalStack(elsewhere, echo=lambda line: None).up()
    after = running.stack.status()
    assert after.running
    assert (after.kafka.pid, after.postgres.pid) == (before.kafka.pid, before.postgres.pid)


def test_a_running_server_without_the_socket_is_named_not_waited_for(running: RunningStack) -> None:
    # As a server an earlier version started (TCP only) is: here the stack's own, asked for under another port.
    other = running.settings.model_copy(update={"postgres_port": _free_port()})
    with pytest.raises(StackError, match=r"the running server \(pid \d+\) has no socket at .*/postgres/socket/"
                                         rf"\.s\.PGSQL\.{other.postgres_port} .*restart the stack"):
        LocalStack(other, echo=lambda line: None).up()
    assert running.stack.status().running


async def test_down_leaves_no_process_and_up_again_keeps_the_data(running: RunningStack) -> None:
    settings, info = running.settings, running.info
    conn = await asyncpg.connect(info.database_url)
    try:
        await conn.execute("create table kept (note text); insert into kept values ('survives a restart')")
    finally:
        await conn.close()
    await _create_topic(info.bootstrap, "planperfect.kept")
    await _produce(info.bootstrap, "planperfect.kept", b"survives a restart")
    before = running.stack.status()

    await asyncio.to_thread(running.stack.down)

    assert not running.stack.status().kafka.running and not running.stack.status().postgres.running
    for pid in (before.kafka.pid, before.postgres.pid):
        assert not Path(f"/proc/{pid}").exists()
    assert _processes_inside(settings.data_dir.resolve()) == []
    for port in (settings.kafka_port, settings.kafka_port + 1, settings.postgres_port):
        assert not port_is_open(HOST, port)
    assert await _connections_to_a_squatter_while_down(settings) == []
    pg_data = before.postgres.data_dir
    # A cluster of an earlier version: its only rule was TCP's, and `up` adds the socket's.
    (pg_data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    if os.geteuid() == 0:  # a data dir of an earlier version, when PostgreSQL ran as the shared `nobody`
        nobody = pwd.getpwnam("nobody")
        for entry in (pg_data, *pg_data.rglob("*")):
            os.chown(entry, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)

    again = await asyncio.to_thread(running.stack.up)

    assert again.started == ["postgres", "kafka"]
    assert f"postgres: {pg_data / 'pg_hba.conf'} now lets the stack's clients in through its Unix socket, with scram-sha-256" in running.echoed
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVICE_ACCOUNT)
        assert [line for line in running.echoed if "belonged to nobody" in line] == [
            f"postgres: {pg_data} belonged to nobody; handed it to {SERVICE_ACCOUNT}, the account PostgreSQL runs as "
            "now (no account shared with other services may own it)"]
        assert {path.stat().st_uid for path in (pg_data, *pg_data.rglob("*"))} == {account.pw_uid}
    conn = await asyncpg.connect(again.database_url)
    try:
        assert await conn.fetchval("select note from kept") == "survives a restart"
    finally:
        await conn.close()
    assert "planperfect.kept" in await _topics(again.bootstrap)
    assert await _first_message(again.bootstrap, "planperfect.kept", group="planperfect.kept-reader") == b"survives a restart"


async def _connections_to_a_squatter_while_down(settings: Settings) -> list[str]:
    """Bind PostgreSQL's TCP port, as any local account may while the server is down, and run a command that needs
    the database: who connected to the squatter (it would be asked for the password in clear)."""
    connected: list[str] = []

    async def squatter(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.append(str(writer.get_extra_info("peername")))
        writer.close()

    squat = await asyncio.start_server(squatter, HOST, settings.postgres_port)
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLANPERFECT_")}
    env |= {"PLANPERFECT_DATA_DIR": str(settings.data_dir), "PLANPERFECT_POSTGRES_PORT": str(settings.postgres_port),
            "PLANPERFECT_KAFKA_PORT": str(settings.kafka_port), "PLANPERFECT_POSTGRES_DB": settings.postgres_db}
    try:
        keys = await asyncio.create_subprocess_exec(sys.executable, "-m", "planperfect.cli", "keys", "list", env=env,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = await asyncio.wait_for(keys.communicate(), timeout=60)
    finally:
        squat.close()
        await squat.wait_closed()
    assert keys.returncode != 0 and "cannot reach PostgreSQL" in err.decode() and "no socket there" in err.decode(), err.decode()
    return connected


async def test_postgres_refuses_a_connection_without_the_password(running: RunningStack) -> None:
    socket_dir = str(running.settings.data_dir.resolve() / "postgres" / "socket")
    for user, database in (("postgres", "postgres"), ("planperfect_app", "planperfect_test")):
        for host in (HOST, socket_dir):
            with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="password"):
                await asyncpg.connect(host=host, port=running.settings.postgres_port, user=user, database=database,
                                      password="wrong", timeout=10)
        with pytest.raises((asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InterfaceError), match="password"):
            await asyncpg.connect(host=HOST, port=running.settings.postgres_port, user=user, database=database,
                                  passfile="/nonexistent", timeout=10)
    conn = await asyncpg.connect(running.info.admin_database_url)
    try:
        rules = await conn.fetch("SELECT type, auth_method FROM pg_hba_file_rules")
        assert {(rule["type"], rule["auth_method"]) for rule in rules} == {("local", "scram-sha-256"), ("host", "scram-sha-256")}
        assert await conn.fetchval("SHOW listen_addresses") == HOST
        assert await conn.fetchval("SHOW unix_socket_directories") == f'"{socket_dir}"'
    finally:
        await conn.close()
    secrets = running.settings.data_dir / "secrets.json"
    assert secrets.stat().st_mode & 0o777 == 0o600


async def test_the_app_role_is_no_superuser_and_cannot_run_programs(running: RunningStack) -> None:
    conn = await asyncpg.connect(running.info.database_url)
    try:
        assert await conn.fetchval("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = current_user") is False
        await conn.execute("CREATE TABLE owned (line text)")  # it owns its database's schema
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("COPY owned FROM PROGRAM 'id'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE ROLE intruder SUPERUSER LOGIN PASSWORD 'x'")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("ALTER ROLE planperfect_app SUPERUSER")
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the maintenance database is the superuser's
        await asyncpg.connect(running.info.database_url.rpartition("/")[0] + "/postgres")


async def test_kafka_refuses_a_client_without_valid_credentials(running: RunningStack) -> None:
    address = kafka_address(running.info.bootstrap)
    wrong = running.info.bootstrap.replace("@", "x@", 1)  # the application's user, a wrong password
    for bootstrap in (address, wrong):
        admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=5000)
        with pytest.raises(KafkaError):
            await asyncio.wait_for(admin.start(), timeout=30)
        await admin.close()


async def test_the_app_principal_cannot_touch_topics_outside_its_prefix(running: RunningStack) -> None:
    app, admin_bootstrap = running.info.bootstrap, running.info.admin_bootstrap
    await _create_topic(admin_bootstrap, "elsewhere.private")
    await _produce(admin_bootstrap, "elsewhere.private", b"not for the app")

    assert "elsewhere.private" not in await _topics(app)
    consumer = AIOKafkaConsumer("elsewhere.private", **kafka_options(app), group_id="planperfect.snoop",
                                auto_offset_reset="earliest")
    try:
        with pytest.raises(TopicAuthorizationFailedError):  # from start() or, at the latest, the first fetch
            await consumer.start()
            await asyncio.wait_for(consumer.getone(), timeout=15)
    finally:
        await consumer.stop()
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(app, "elsewhere.private", b"a write")
    admin = AIOKafkaAdminClient(**kafka_options(app))
    await admin.start()
    try:
        created = await admin.create_topics([NewTopic("elsewhere.mine", num_partitions=1, replication_factor=1)])
        assert [error for _, error, *_ in created.topic_errors] == [TopicAuthorizationFailedError.errno]
    finally:
        await admin.close()
    assert await _first_message(admin_bootstrap, "elsewhere.private", group="elsewhere.reader") == b"not for the app"


def test_a_data_dir_too_deep_for_the_socket_is_refused_saying_so(stacks_root: Path) -> None:
    settings = _stack_settings(stacks_root, "deep-" + "d" * 80)
    with pytest.raises(StackError, match="is longer than the 107 bytes a Unix socket's path may have; set "
                                         "PLANPERFECT_DATA_DIR to a shorter path"):
        LocalStack(settings, echo=lambda line: None).up()
    assert _processes_inside(settings.data_dir.resolve()) == []


def test_down_when_nothing_runs_is_safe(stacks_root: Path) -> None:
    echoed: list[str] = []
    LocalStack(_stack_settings(stacks_root, "idle"), echo=echoed.append).down()
    assert echoed == ["kafka: not running", "postgres: not running"]


def test_an_interrupted_up_stops_what_it_started(stacks_root: Path) -> None:
    settings = _stack_settings(stacks_root, "interrupted")
    echoed: list[str] = []

    def ctrl_c_once_postgres_is_up(line: str) -> None:
        echoed.append(line)
        if line.startswith("postgres: started"):
            raise KeyboardInterrupt

    stack = LocalStack(settings, echo=ctrl_c_once_postgres_is_up)
    with pytest.raises(KeyboardInterrupt):
        stack.up()

    assert any(line.startswith("kafka: stopped") for line in echoed)
    assert any(line.startswith("postgres: stopped") for line in echoed)
    assert not stack.status().kafka.running and not stack.status().postgres.running
    assert _processes_inside(settings.data_dir.resolve()) == []
    for port in (settings.kafka_port, settings.kafka_port + 1, settings.postgres_port):
        assert not port_is_open(HOST, port)
