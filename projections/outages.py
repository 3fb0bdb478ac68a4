"""Which errors mean Kafka or PostgreSQL is out of reach for now: an outage to wait out, not a bug or a bad event.

One table for every process that talks to them: the projector and the CLI (through planperfect.reachability), the
API (a 503 instead of a 500) and the worker (agents/outage.py: it waits an outage out). Pure: it looks at the exception
and the libraries its traceback passed through.
"""

from __future__ import annotations

import traceback

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError

KAFKA = "kafka"
POSTGRES = "postgres"

KAFKA_OUTAGES: tuple[type[BaseException], ...] = (
    KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError,
)
# PostgreSQL's own word that it is not there for us. Class 08: the connection failed or no longer exists. Class 57,
# operator intervention: the server is shutting down (57P01 after a clean stop or restart), crashed (57P02), is
# still starting (57P03), or cancelled our statement. Too many connections; and a server that refuses our role or
# database (the settings point at the wrong place, which only the operator can mend too).
POSTGRES_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError, asyncpg.TooManyConnectionsError,
    asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidCatalogNameError,
)


def _libraries(exc: BaseException) -> set[str]:
    """The top-level packages the exception's traceback passed through."""
    frames = traceback.walk_tb(exc.__traceback__)
    return {(frame.f_globals.get("__name__") or "").partition(".")[0] for frame, _ in frames}


def postgres_gone(exc: BaseException) -> bool:
    """True when PostgreSQL (or asyncpg about it) says the server or our connection to it is gone."""
    if isinstance(exc, POSTGRES_OUTAGES):
        return True
    # asyncpg's word for using a connection the server dropped under us; its other InterfaceErrors are our bugs.
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return True
    # A server killed while asyncpg introspected a statement's types leaves the protocol mid-operation: the next step
    # on that connection says so (seen when PostgreSQL was SIGKILLed under the worker's guard load).
    return isinstance(exc, asyncpg.InternalClientError) and "cannot switch to state" in str(exc)


def out_of_reach(exc: BaseException, *, sockets: str | None = None, waiting: bool = False) -> str | None:
    """KAFKA or POSTGRES when `exc` says that service cannot be reached now, else None.

    The libraries let the socket's own errors through (refused, reset, a bounded connect timing out): such an error
    is the service whose library it came through, and `sockets` when it came through neither (the API passes
    POSTGRES: in a request, Kafka's failures arrive as its own errors; the worker passes the service it called).

    `waiting`: the caller waits an outage out rather than answer at once (the worker: its message must go through).
    It also waits on what may be one: Kafka's "try again" (a retriable KafkaError: no leader yet, a coordinator
    loading, a partition a restarted broker has not loaded yet) and asyncpg's other words for a connection it cannot
    use now (an InterfaceError that is not about what we sent). The API and the CLI report those instead.
    """
    network = isinstance(exc, (OSError, TimeoutError))  # asyncio.TimeoutError and socket.timeout are this too
    libraries = _libraries(exc) if network else set()
    if isinstance(exc, KAFKA_OUTAGES) or "aiokafka" in libraries:
        return KAFKA
    if waiting and isinstance(exc, KafkaError) and exc.retriable:
        return KAFKA
    if postgres_gone(exc) or "asyncpg" in libraries:
        return POSTGRES
    # asyncpg's plain InterfaceError ("connection is closed", "pool is closing", "another operation is in
    # progress" on a connection a failed operation left behind); its subclasses are about what we sent or asked for.
    if waiting and type(exc) is asyncpg.InterfaceError:
        return POSTGRES
    return sockets if network else None
