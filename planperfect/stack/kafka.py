"""The local Kafka broker: its jars (resolved once from Maven Central), its KRaft config, its process.

Locked down: clients authenticate with SASL/SCRAM-SHA-256 (credentials generated per data dir and written
into the metadata log at format time), the StandardAuthorizer lets the application principal use only its
own topic and group prefix, and an admin super user does the rest; both listeners are on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from planperfect.settings import Settings
from planperfect.stack import process
from planperfect.stack.process import StackError
from planperfect.stack.secrets import KAFKA_ADMIN, KAFKA_APP, StackSecrets, ensure_secrets, private_dir, write_private
from streams.access import KafkaAccess, kafka_options, parse_bootstrap

Echo = Callable[[str], None]

HOST = "127.0.0.1"
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
ACL_TOOL = "org.apache.kafka.tools.AclCommand"
SCRAM = "SCRAM-SHA-256"
LOG4J_VERSION = "2.24.3"
# Kafka's own poms leave slf4j-api to the build; without a 2.x here Maven settles on 1.7.36,
# which cannot see log4j-slf4j2-impl, and the broker logs nothing.
SLF4J_VERSION = "2.0.17"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0

_SERVER_LOG4J = """\
status = warn
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = {log}
appender.server.filePattern = {log}.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 10MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""

# Kafka's command-line tools print their answers on stdout; their logging only gets in the way.
_TOOLS_LOG4J = """\
status = warn
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = stderr
"""


def kafka_libs(settings: Settings, echo: Echo = print) -> Path:
    """The directory of jars to run Kafka from: `$KAFKA_HOME/libs`, else the Maven-resolved cache."""
    if kafka_home := os.environ.get("KAFKA_HOME"):
        libs = Path(kafka_home) / "libs"
        if not any(libs.glob("kafka_*.jar")):
            raise StackError(f"KAFKA_HOME={kafka_home} is not a Kafka install: {libs} holds no kafka_*.jar")
        return libs
    home = settings.cache_dir.expanduser() / f"kafka-{settings.kafka_version}"
    if not (home / "libs").is_dir():
        _resolve_with_maven(settings.kafka_version, home, echo)
    return home / "libs"


def _resolve_with_maven(version: str, home: Path, echo: Echo) -> None:
    """Resolve the broker's runtime jars into `home/libs`, through a temporary directory renamed at
    the end, so that an interrupted resolution never leaves a half-filled cache behind."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "kafka: Maven (mvn) is needed once to fetch Kafka's jars; install it, "
            "or set KAFKA_HOME to an Apache Kafka 4.1 install"
        )
    echo(f"kafka: resolving Kafka {version} jars from Maven Central into {home} (first run only)…")
    started = time.monotonic()
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".{home.name}-resolving-"))
    try:
        (staging / "pom.xml").write_text(_pom(version))
        result = subprocess.run(
            [mvn, "-q", "-B", "-f", str(staging / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={staging / 'libs'}", "-DincludeScope=runtime"],
            cwd=staging, capture_output=True, text=True,
        )
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise StackError(f"kafka: Maven could not resolve Kafka {version}:\n{output}")
        try:
            staging.rename(home)
        except OSError:
            if not (home / "libs").is_dir():  # not a concurrent resolution that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    echo(f"kafka: jars resolved in {time.monotonic() - started:.1f}s")


def _pom(kafka_version: str) -> str:
    """A pom whose runtime dependencies are exactly the broker, its tools, and their logging."""
    runtime = [
        ("org.apache.kafka", "kafka_2.13", kafka_version),
        ("org.apache.kafka", "kafka-tools", kafka_version),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    dependencies = "".join(
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version></dependency>\n"
        for group, artifact, version in runtime
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>dev.planperfect</groupId>\n"
        "  <artifactId>kafka-runtime</artifactId>\n"
        f"  <version>{kafka_version}</version>\n"
        "  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{dependencies}  </dependencies>\n"
        "</project>\n"
    )


def kafka_tool_command(
    settings: Settings, main_class: str, args: list[str], *, echo: Echo = print
) -> list[str]:
    """The java command line running one of Kafka's own tools from the stack's jars, e.g.
    `org.apache.kafka.tools.TopicCommand` with `["--bootstrap-server", ..., "--list"]`."""
    libs = kafka_libs(settings, echo)
    log4j = settings.cache_dir.expanduser() / "tools-log4j2.properties"
    _write_if_changed(log4j, _TOOLS_LOG4J)
    return [_java(), f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*", main_class, *args]


class KafkaBroker:
    """One KRaft node, broker and controller in one JVM: alone under `data_dir/kafka`, or node `node` of
    `settings.kafka_brokers` under `data_dir/kafka-cluster/node-N` (every node a voter of the controller quorum)."""

    def __init__(self, settings: Settings, node: int = 1) -> None:
        self._settings = settings
        self.node = node
        self._nodes = settings.kafka_brokers
        single = self._nodes == 1
        self.name = "kafka" if single else f"kafka-{node}"
        self.home = settings.data_dir.resolve() / ("kafka" if single else f"kafka-cluster/node-{node}")
        self.data_dir = self.home / "data"
        self._port = settings.kafka_port + 2 * (node - 1)
        self.address = f"{HOST}:{self._port}"
        self._controller_port = self._port + 1
        self._config = self.home / "server.properties"
        # Clients' configuration files for Kafka's own tools (`--command-config`) and kcat (`-F`), mode 0600.
        self.admin_properties = self.home / "admin.properties"
        self.client_properties = self.home / "client.properties"
        self.kcat_config = self.home / "kcat.conf"
        self._acl_marker = self.home / "acls.granted"
        self._secrets: StackSecrets | None = None
        self._log4j = self.home / "log4j2.properties"
        self._pid_file = self.home / "kafka.pid"
        self.server_log = self.home / "server.log"
        self._console_log = self.home / "kafka.out"
        self._libs: Path | None = None
        self._spawned: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0

    @property
    def bootstrap(self) -> str:
        """The application principal's bootstrap: what the project's processes use."""
        return self._passwords().kafka_bootstrap(self._settings.local_kafka_servers())

    @property
    def admin_bootstrap(self) -> str:
        """The super user's bootstrap: topic administration outside the application's prefix, ACLs."""
        return self._passwords().kafka_bootstrap(self._settings.local_kafka_servers(), admin=True)

    def _passwords(self) -> StackSecrets:
        if self._secrets is None:
            self._secrets = ensure_secrets(self._settings.data_dir)
        return self._secrets

    def pid(self) -> int | None:
        """The broker's pid if it is running, else None."""
        for pid in (process.read_pid(self._pid_file), self._spawned and self._spawned.pid):
            if pid and process.is_running(pid, str(self._config)):
                return pid
        return None

    def prepare(self, echo: Echo) -> None:
        """Check the ports are free, find the jars, write the config, format the storage on first start."""
        for port in (self._port, self._controller_port):
            if process.port_is_open(HOST, port):
                raise StackError(f"kafka: {HOST}:{port} is already taken by another process; choose other "
                                 "ports with PLANPERFECT_KAFKA_PORT (the controller uses the next one)")
        self._libs = kafka_libs(self._settings, echo)
        self.home.mkdir(parents=True, exist_ok=True)
        private_dir(self.home)  # the broker runs as us; its log holds every job's data, its config the passwords
        _write_if_changed(self._log4j, _SERVER_LOG4J.format(log=self.server_log))
        _write_if_changed(self._config, properties_text(self._server_properties(self.data_dir)))
        _write_if_changed(self.admin_properties, properties_text(java_client_properties(parse_bootstrap(self.admin_bootstrap))))
        app = parse_bootstrap(self.bootstrap)
        _write_if_changed(self.client_properties, properties_text(java_client_properties(app)))
        _write_if_changed(self.kcat_config, properties_text(kcat_properties(app)))
        if not (self.data_dir / "meta.properties").is_file():
            self._acl_marker.unlink(missing_ok=True)
            self._format(self._libs, echo)

    def launch(self) -> None:
        """Start the broker's JVM detached, its pid in `kafka.pid`."""
        if self._libs is None:
            raise StackError("kafka: launch() before prepare()")
        self._launched_at = time.time()
        self._spawned = process.spawn_detached(
            [_java(), "-Xmx1g" if self._nodes == 1 else "-Xmx512m", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={self._log4j}", "-cp", f"{self._libs}/*",
             BROKER_MAIN, str(self._config)],
            log_path=self._console_log, cwd=self.home,
        )
        process.write_pid(self._pid_file, self._spawned.pid)

    def wait_ready(self) -> None:
        """Block until the broker answers the super user's metadata request listing itself, then grant the
        application principal its prefix (once per prefix: ACLs live in the metadata log)."""
        process.wait_until(
            lambda: process.port_is_open(HOST, self._port) and asyncio.run(_answers(self._own_admin_bootstrap())),
            timeout=READY_TIMEOUT_S, what=f"kafka on {self.address}", alive=lambda: self.pid() is not None,
            logs=(self._console_log, self.server_log), since=self._launched_at,
        )
        prefix = self._settings.topic_prefix
        granted = self._acl_marker.read_text().splitlines() if self._acl_marker.is_file() else []
        if self.node == 1 and prefix not in granted:  # ACLs are the cluster's: the first node grants them
            self._grant(prefix)

    def _own_admin_bootstrap(self) -> str:
        return self._passwords().kafka_bootstrap(self.address, admin=True)

    def _grant(self, prefix: str) -> None:
        """The application principal may do anything to topics and consumer groups under `prefix`, nothing else."""
        result = subprocess.run(
            kafka_tool_command(self._settings, ACL_TOOL, [
                "--bootstrap-server", self.address, "--command-config", str(self.admin_properties), "--add",
                "--allow-principal", f"User:{KAFKA_APP}", "--operation", "All", "--resource-pattern-type", "prefixed",
                "--topic", prefix, "--group", prefix]),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"kafka: granting User:{KAFKA_APP} the prefix {prefix!r} failed:\n{result.stdout}{result.stderr}")
        with self._acl_marker.open("a") as marker:
            marker.write(f"{prefix}\n")

    def stop(self, echo: Echo) -> int | None:
        """Stop the broker (controlled shutdown, SIGKILL after a deadline); returns the pid stopped."""
        pid = self.pid()
        if pid is not None and not process.stop(pid, str(self._config), timeout=STOP_TIMEOUT_S):
            echo(f"kafka: pid {pid} did not stop within {STOP_TIMEOUT_S:.0f}s; killed it")
        if self._spawned is not None:
            self._spawned.wait()
            self._spawned = None
        self._pid_file.unlink(missing_ok=True)
        return pid

    def _format(self, libs: Path, echo: Echo) -> None:
        """Format the storage in a staging directory renamed at the end: a data dir is whole or absent."""
        echo(f"kafka: formatting storage in {self.data_dir} (first start)")
        for stale in self.home.glob("data.formatting-*"):
            shutil.rmtree(stale)
        staging = Path(tempfile.mkdtemp(dir=self.home, prefix="data.formatting-"))
        config = self.home / "format.properties"
        try:
            write_private(config, properties_text(self._server_properties(staging)))
            # SCRAM credentials live in the metadata log, so the first ones are written at format time.
            scram = [arg for user, password in ((KAFKA_ADMIN, self._passwords().kafka_admin_password),
                                                (KAFKA_APP, self._passwords().kafka_app_password))
                     for arg in ("--add-scram", f"{SCRAM}=[name={user},password={password}]")]
            result = subprocess.run(
                [_java(), f"-Dlog4j2.configurationFile={self._log4j}", "-cp", f"{libs}/*", STORAGE_TOOL,
                 "format", "-t", self._cluster_id(), "-c", str(config), *scram],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise StackError(f"kafka: formatting the storage failed:\n{result.stdout}{result.stderr}")
            staging.rename(self.data_dir)
        finally:
            config.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)  # gone already if renamed

    def _cluster_id(self) -> str:
        """A new id for a single node; the nodes of a cluster share the first one made (kept beside them)."""
        if self._nodes == 1:
            return _cluster_id()
        shared = self.home.parent / "cluster.id"
        if not shared.is_file():
            shared.write_text(_cluster_id())
        return shared.read_text().strip()

    def _server_properties(self, log_dir: Path) -> dict[str, str]:
        port, controller = self._port, self._controller_port
        admin_password = self._passwords().kafka_admin_password
        voters = ",".join(f"{n}@{HOST}:{self._settings.kafka_port + 2 * (n - 1) + 1}" for n in range(1, self._nodes + 1))
        # Three copies of everything on a cluster of three or more, two of which must have a write (with acks=all)
        # before it is acknowledged: one broker may die without losing an acknowledged record or stopping writes.
        replicas, in_sync = str(min(3, self._nodes)), str(min(2, self._nodes))
        return {
            "process.roles": "broker,controller",
            "node.id": str(self.node),
            "controller.quorum.voters": voters,
            "listeners": f"CLIENT://{HOST}:{port},CONTROLLER://{HOST}:{controller}",
            "advertised.listeners": f"CLIENT://{HOST}:{port}",
            "inter.broker.listener.name": "CLIENT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT",
            # Clients and the broker itself: SCRAM, whose credentials are in the metadata log. PLAIN too, with the
            # same users and passwords, for kcat only (see kcat_properties); on loopback, like everything here.
            "sasl.enabled.mechanisms": f"{SCRAM},PLAIN",
            "sasl.mechanism.inter.broker.protocol": SCRAM,
            "listener.name.client.scram-sha-256.sasl.jaas.config": _jaas("scram.ScramLoginModule", KAFKA_ADMIN, admin_password),
            "listener.name.client.plain.sasl.jaas.config": _jaas(
                "plain.PlainLoginModule", KAFKA_ADMIN, admin_password, extra=" ".join(
                    f'user_{user}="{_jaas_quoted(password)}"' for user, password in (
                        (KAFKA_ADMIN, admin_password), (KAFKA_APP, self._passwords().kafka_app_password)))),
            # The controller cannot use SCRAM (it serves the log the credentials are in): PLAIN with one static user.
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": _jaas(
                "plain.PlainLoginModule", KAFKA_ADMIN, admin_password, extra=f'user_{KAFKA_ADMIN}="{_jaas_quoted(admin_password)}"'),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{KAFKA_ADMIN}",
            "allow.everyone.if.no.acl.found": "false",
            "log.dirs": str(log_dir),
            # A typo in a topic name must fail loudly rather than create a new, empty topic.
            "auto.create.topics.enable": "false",
            # The log is the source of truth that read models are rebuilt from: keep it, unless a
            # topic says otherwise.
            "log.retention.ms": "-1",
            "num.partitions": "1",
            "default.replication.factor": replicas,
            "min.insync.replicas": in_sync,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": in_sync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": in_sync,
            "group.initial.rebalance.delay.ms": "0",
        }


def java_client_properties(access: KafkaAccess) -> dict[str, str]:
    """A Java client's configuration for `access` (Kafka's tools read it with `--command-config`)."""
    props = {"security.protocol": access.protocol}
    if access.mechanism is not None:
        module = "plain.PlainLoginModule" if access.mechanism == "PLAIN" else "scram.ScramLoginModule"
        props |= {"sasl.mechanism": access.mechanism,
                  "sasl.jaas.config": _jaas(module, access.username or "", access.password or "")}
    if access.cafile:
        props |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": access.cafile}
    return props


def kcat_properties(access: KafkaAccess) -> dict[str, str]:
    """librdkafka's configuration for `access` (kcat reads it with `-F`).

    SASL is PLAIN here, with the same user and password: librdkafka before 2.6.1 (Debian 12's kcat has 2.0.2)
    cannot complete SCRAM with a Kafka 4 broker (edenhill/kcat#462), and the local broker offers both."""
    props = {"security.protocol": access.protocol.lower()}
    if access.mechanism is not None:
        props |= {"sasl.mechanisms": "PLAIN", "sasl.username": access.username or "",
                  "sasl.password": access.password or ""}
    if access.cafile:
        props["ssl.ca.location"] = access.cafile
    return props


def _jaas(module: str, username: str, password: str, *, extra: str = "") -> str:
    return (f'org.apache.kafka.common.security.{module} required username="{_jaas_quoted(username)}" '
            f'password="{_jaas_quoted(password)}"{" " + extra if extra else ""};')


def _jaas_quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


async def _answers(bootstrap: str) -> bool:
    """True once the broker answers a metadata request that lists a live broker and a controller."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap), request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    except (KafkaError, OSError, asyncio.TimeoutError):
        return False
    finally:
        await admin.close()
    return bool(cluster["brokers"]) and cluster["controller_id"] >= 0


def _cluster_id() -> str:
    """A cluster id as `kafka-storage random-uuid` makes one: 16 random bytes, base64url, unpadded,
    never starting with '-' (it would read as an option on a command line)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _java() -> str:
    if java_home := os.environ.get("JAVA_HOME"):
        if (java := Path(java_home) / "bin" / "java").is_file():
            return str(java)
    if java := shutil.which("java"):
        return java
    raise StackError("kafka: no `java` found; install a Java 17+ runtime or set JAVA_HOME")


def properties_text(values: Mapping[str, str]) -> str:
    """A Java .properties file's text (backslashes escaped), for the broker's config and clients' `--command-config`."""
    return "".join(f"{key}={value.replace(chr(92), chr(92) * 2)}\n" for key, value in values.items())


def _write_if_changed(path: Path, text: str) -> None:
    """Replace the file atomically if its text differs; only its owner may read it (some hold credentials), even
    when its text is the same (an earlier version, or a chmod, may have opened it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        write_private(tmp, text)
        tmp.replace(path)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
