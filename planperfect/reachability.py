"""Whether the CLI can reach Kafka and PostgreSQL: bounded probes, and one classification of failures for every command."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit
from streams.access import kafka_address, kafka_options, parse_bootstrap

# sysexits.h EX_UNAVAILABLE: a service the command needs is not there (argparse's own errors exit 2).
EXIT_UNAVAILABLE = 69
PROBE_SECONDS = 5.0

# The services' names as projections.outages gives them, spelled here too: the CLI starts without asyncpg and aiokafka.
KAFKA = "kafka"
POSTGRES = "postgres"


class Unreachable(Exception):
    """A service a command needs did not answer; the message names it, its address and why."""

    def __init__(self, service: str, address: str, reason: str, hint: str = "") -> None:
        super().__init__(service, address, reason)
        self.service, self.address, self.reason, self.hint = service, address, reason, hint

    def __str__(self) -> str:
        return f"cannot reach {self.service} at {self.address}: {self.reason}" + (f" ({self.hint})" if self.hint else "")


def postgres_address(dsn: str) -> str:
    """The DSN as it may be printed: without its password."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def reason_of(exc: BaseException, timeout: float = PROBE_SECONDS) -> str:
    """A few words for what a connection attempt ran into."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(exc, FileNotFoundError):  # a Unix socket (the local stack's PostgreSQL) that is not there
        return "no socket there (no server is running)"
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved ({exc.strerror})"
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError and socket.timeout are this class too
        return f"no answer within {timeout:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for item in parse_bootstrap(bootstrap).servers:
        host, _, port = item.strip().rpartition(":")
        hosts.append((host.strip("[]") or "localhost", int(port) if port.isdigit() else 9092))
    return hosts


async def _tcp(host: str, port: int, timeout: float) -> None:
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    writer.close()
    await writer.wait_closed()


async def probe_kafka(bootstrap: str, timeout: float = PROBE_SECONDS, hint: str = "") -> None:
    """Raise Unreachable unless a broker of `bootstrap` answers a metadata request within `timeout` in all."""
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # A plain connect to every bootstrap address first, at once: it says *why* (refused, unresolved, silent).
    tried = await asyncio.gather(*(_tcp(h, p, timeout) for h, p in _hosts(bootstrap)), return_exceptions=True)
    failures = [r for r in tried if isinstance(r, BaseException)]
    if len(failures) == len(tried):
        raise Unreachable("Kafka", kafka_address(bootstrap), reason_of(failures[0], timeout), hint)
    left = max(deadline - loop.time(), 0.5)
    client = AIOKafkaClient(**kafka_options(bootstrap), request_timeout_ms=int(left * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), left)
    except (KafkaError, OSError, TimeoutError) as exc:
        # aiokafka says only "Unable to bootstrap"; what a port that accepted us did next is the useful part
        why = "no answer" if isinstance(exc, TimeoutError) else "no answer as a Kafka broker"
        raise Unreachable("Kafka", kafka_address(bootstrap), f"the port accepts connections but gave {why} within {timeout:g} s",
                          hint) from None
    finally:
        await client.close()


async def probe_postgres(dsn: str, timeout: float = PROBE_SECONDS, hint: str = "") -> None:
    """Raise Unreachable unless PostgreSQL accepts a connection to `dsn` within `timeout`."""
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn, timeout=timeout), timeout + 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise Unreachable("PostgreSQL", postgres_address(dsn), reason_of(exc, timeout), hint) from None
    await conn.close()


def hints(settings) -> dict[str, str]:
    """What to check, per service: the local stack, or the variable that names the address."""
    if settings.uses_local_stack:
        return {KAFKA: "is the local stack up? `planperfect up`", POSTGRES: "is the local stack up? `planperfect up`"}
    return {KAFKA: "check PLANPERFECT_KAFKA_BOOTSTRAP", POSTGRES: "check PLANPERFECT_DATABASE_URL"}


def check(settings, needs: Iterable[str], timeout: float = PROBE_SECONDS) -> None:
    """Probe every service in `needs` at once; raise Unreachable for the first that does not answer."""
    needs = set(needs)
    if not needs:
        return
    hint = hints(settings)

    async def probes() -> None:
        jobs = []
        if KAFKA in needs:
            jobs.append(probe_kafka(settings.kafka(), timeout, hint[KAFKA]))
        if POSTGRES in needs:
            jobs.append(probe_postgres(settings.database(), timeout, hint[POSTGRES]))
        for result in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    asyncio.run(probes())


def classify(exc: BaseException, settings) -> Unreachable | None:
    """The Unreachable that `exc` means, or None when it is not a failure to reach Kafka or PostgreSQL."""
    from projections.outages import out_of_reach

    if isinstance(exc, Unreachable):
        return exc
    if isinstance(exc, BaseExceptionGroup):  # a TaskGroup's failures: the first one that classifies
        return next(filter(None, (classify(e, settings) for e in exc.exceptions)), None)
    hint = hints(settings)
    service = out_of_reach(exc)
    if service == KAFKA:
        return Unreachable("Kafka", kafka_address(settings.kafka()), reason_of(exc), hint[KAFKA])
    if service == POSTGRES:
        return Unreachable("PostgreSQL", postgres_address(settings.database()), reason_of(exc), hint[POSTGRES])
    return None
