"""The local stack: a Kafka broker and a PostgreSQL cluster of our own, started and stopped together."""

from __future__ import annotations

import asyncio
import fcntl
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from planperfect.settings import Settings
from planperfect.stack.kafka import KafkaBroker
from planperfect.stack.postgres import PostgresCluster
from planperfect.stack.process import StackError
from planperfect.stack.secrets import private_dir, read_secrets

Echo = Callable[[str], None]


class Service(Protocol):
    """What the stack needs of each of its services."""

    name: str
    address: str
    data_dir: Path

    def pid(self) -> int | None: ...
    def prepare(self, echo: Echo) -> None: ...
    def launch(self) -> None: ...
    def wait_ready(self) -> None: ...
    def stop(self, echo: Echo) -> int | None: ...


@dataclass(frozen=True)
class StackInfo:
    """Where the running stack is, with the credentials to reach it, and which services this `up()` started.

    `bootstrap` and `database_url` are the application's (what every process of the project uses); the admin
    ones are the Kafka super user's and the PostgreSQL superuser's, for administration only."""

    bootstrap: str
    database_url: str
    started: list[str]
    admin_bootstrap: str = ""
    admin_database_url: str = ""

    def as_admin(self, settings: Settings) -> Settings:
        """`settings` pointed at this stack as its administrators: for harnesses (benchmarks) that create their
        own databases and topic prefixes outside the application's grant, never for the application."""
        return settings.model_copy(update={"kafka_bootstrap": self.admin_bootstrap,
                                           "database_url": self.admin_database_url})


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    data_dir: Path


@dataclass(frozen=True)
class StackStatus:
    kafka: ServiceStatus  # the first broker
    postgres: ServiceStatus
    brokers: tuple[ServiceStatus, ...] = ()  # every broker, the first included

    @property
    def running(self) -> bool:
        return all(broker.running for broker in self.brokers or (self.kafka,)) and self.postgres.running


class LocalStack:
    """Starts, stops and reports the local Kafka broker and PostgreSQL cluster under `data_dir`.

    The API is synchronous and blocking: call it from plain code or from a worker thread (from
    async code: `await asyncio.to_thread(stack.up)`), not on a running event loop's thread.
    Concurrent calls, from threads or from other processes, are serialised by a lock file in
    `data_dir`.
    """

    def __init__(self, settings: Settings, *, echo: Echo = print) -> None:
        self._settings = settings
        self._echo = echo
        self._brokers = [KafkaBroker(settings, node) for node in range(1, settings.kafka_brokers + 1)]
        self._kafka = self._brokers[0]  # writes the clients' files and grants the ACLs for the cluster
        self._postgres = PostgresCluster(settings)
        # All are prepared (jars, initdb, format) before any is launched, and launched before any is
        # waited on, so that their start-ups overlap and a failed preparation starts nothing.
        self._services: list[Service] = [self._postgres, *self._brokers]

    def up(self) -> StackInfo:
        """Start whatever is not running, and return once both services answer.

        Idempotent: with everything running it starts nothing and says so. If it fails or is
        interrupted midway, it stops what it started, so that no process is left behind.
        """
        _refuse_event_loop_thread("up")
        with self._lock():
            read_secrets(self._settings.data_dir)  # lost or corrupt: `up` stops before starting anything
            # It holds the credentials, the admin key and the processes' logs: ours alone (as root, PostgreSQL's
            # account may pass through to its data, never list it).
            private_dir(self._settings.data_dir.resolve(), self._postgres.service_group(self._echo))
            stopped = [service for service in self._services if not self._reports_running(service)]
            try:
                self._start(stopped)
            except BaseException:
                for service in reversed(stopped):
                    if (pid := service.stop(self._echo)) is not None:
                        self._echo(f"{service.name}: stopped (pid {pid}) after the failed start")
                raise
        if not stopped:
            self._echo("stack: everything was already running; started nothing")
        return StackInfo(bootstrap=self._kafka.bootstrap, database_url=self._postgres.url,
                         started=[service.name for service in stopped],
                         admin_bootstrap=self._kafka.admin_bootstrap, admin_database_url=self._postgres.admin_url)

    def _reports_running(self, service: Service) -> bool:
        if (pid := service.pid()) is None:
            return False
        self._echo(f"{service.name}: already running on {service.address} (pid {pid})")
        return True

    def _start(self, services: list[Service]) -> None:
        for service in services:
            self._echo(f"{service.name}: starting on {service.address}…")
            service.prepare(self._echo)
        launched_at: dict[str, float] = {}
        for service in services:
            service.launch()
            launched_at[service.name] = time.monotonic()
        for service in self._services:  # those already running must answer too
            service.wait_ready()
            if service.name in launched_at:
                seconds = time.monotonic() - launched_at[service.name]
                self._echo(f"{service.name}: started in {seconds:.1f}s on {service.address} "
                           f"(pid {service.pid()})")

    def down(self, only: Collection[str] | None = None) -> None:
        """Stop both services, or those named in `only` (`StackInfo.started`: what one `up()` started), cleanly
        (SIGKILL past a deadline). Safe when nothing runs."""
        _refuse_event_loop_thread("down")
        with self._lock():
            # The brokers of a cluster stop together: one by one, the last would wait for a controller quorum
            # that the others took with them, and be killed at the deadline.
            brokers = [b for b in self._brokers if only is None or b.name in only]
            with ThreadPoolExecutor(max_workers=max(1, len(brokers))) as pool:
                list(pool.map(self._stop, brokers))
            if only is None or self._postgres.name in only:
                self._stop(self._postgres)

    def _stop(self, service: Service) -> None:
        began = time.monotonic()
        pid = service.stop(self._echo)
        if pid is None:
            self._echo(f"{service.name}: not running")
        else:
            self._echo(f"{service.name}: stopped (pid {pid}) in {time.monotonic() - began:.1f}s")

    def status(self) -> StackStatus:
        """Each service's pid, address and data directory; does not start or probe anything."""
        brokers = tuple(self._status_of(broker) for broker in self._brokers)
        return StackStatus(kafka=brokers[0], postgres=self._status_of(self._postgres), brokers=brokers)

    @staticmethod
    def _status_of(service: Service) -> ServiceStatus:
        pid = service.pid()
        return ServiceStatus(name=service.name, running=pid is not None, pid=pid,
                             address=service.address, data_dir=service.data_dir)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        data_dir = self._settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        with (data_dir / "stack.lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _refuse_event_loop_thread(method: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise StackError(f"LocalStack.{method}() blocks; from async code run it in a thread: "
                     f"`await asyncio.to_thread(stack.{method})`")
