"""Which errors are an outage of Kafka or PostgreSQL: the one table the projector, the CLI and the API share."""

import asyncpg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    LeaderNotAvailableError,
    RecordTooLargeError,
    RequestTimedOutError,
    UnknownTopicOrPartitionError,
)

from planperfect.reachability import Unreachable, classify
from planperfect.settings import Settings
from projections.outages import KAFKA, POSTGRES, out_of_reach


def raised_in(module: str, exc: BaseException) -> BaseException:
    """`exc` with a traceback through a frame of `module`, as if that library had let it through."""
    scope = {"__name__": module}
    exec("def fail(exc):\n    raise exc\n", scope)
    try:
        scope["fail"](exc)
    except BaseException as caught:  # noqa: BLE001 - it is the exception we built
        return caught
    raise AssertionError("unreachable")


@pytest.mark.parametrize(("exc", "service"), [
    # a clean stop or restart of PostgreSQL ends every session with 57P01; a crash with 57P02; starting up, 57P03
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), POSTGRES),
    (asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
     POSTGRES),
    (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), POSTGRES),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), POSTGRES),
    (asyncpg.InterfaceError("connection is closed"), POSTGRES),
    (asyncpg.InterfaceError("cannot call Connection.fetch(): the underlying connection is closed"), POSTGRES),
    (asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"), POSTGRES),
    (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), POSTGRES),
    (asyncpg.InvalidCatalogNameError('database "nope" does not exist'), POSTGRES),
    (raised_in("asyncpg.connect_utils", ConnectionRefusedError(111, "Connection refused")), POSTGRES),
    (raised_in("asyncpg.pool", TimeoutError()), POSTGRES),
    (KafkaConnectionError("Connection at 127.0.0.1:9092 closed"), KAFKA),
    (RequestTimedOutError(), KAFKA),
    (raised_in("aiokafka.conn", ConnectionResetError(104, "Connection reset by peer")), KAFKA),
    # not outages: our bugs, and data PostgreSQL refuses (the projector dead-letters those instead)
    (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), None),
    (asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"), None),
    (asyncpg.UniqueViolationError("duplicate key value violates unique constraint"), None),
    (UnknownTopicOrPartitionError(), None),
    (ConnectionRefusedError(111, "Connection refused"), None),  # through neither library
    (raised_in("planperfect.demo", OSError(28, "No space left on device")), None),
    (ValueError("connection is closed"), None),
])
def test_the_outage_table(exc, service):
    assert out_of_reach(exc) == service


def test_a_socket_error_through_neither_library_is_blamed_on_the_service_the_caller_names():
    assert out_of_reach(ConnectionResetError(104, "Connection reset by peer"), sockets=POSTGRES) == POSTGRES
    assert out_of_reach(raised_in("aiokafka.conn", TimeoutError()), sockets=POSTGRES) == KAFKA
    assert out_of_reach(ValueError("no socket"), sockets=POSTGRES) is None


def test_the_projector_and_the_cli_name_the_service_its_address_and_why():
    settings = Settings()
    gone = classify(asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
                    settings)
    assert isinstance(gone, Unreachable) and gone.service == "PostgreSQL" and gone.address == settings.database()
    assert gone.reason == "terminating connection due to administrator command"
    group = ExceptionGroup("tasks", [ValueError("a bug"), KafkaConnectionError("Connection refused")])
    assert classify(group, settings).service == "Kafka"
    assert classify(ValueError("a bug"), settings) is None


@pytest.mark.parametrize(("exc", "reported", "waited"), [
    # the broker's "try again": the API and the CLI say what it answered, the worker waits for the partition
    (UnknownTopicOrPartitionError(), None, KAFKA),
    (LeaderNotAvailableError(), None, KAFKA),
    (RecordTooLargeError(), None, None),  # refused for good: the worker dead-letters what carried it
    # asyncpg's plain word for a connection it cannot use now; its subclasses are about what we sent
    (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), None, POSTGRES),
    (asyncpg.exceptions.ClientConfigurationError("bad sslmode"), None, None),
    (ValueError("a bug"), None, None),
])
def test_a_caller_that_waits_also_waits_on_what_may_be_an_outage(exc, reported, waited):
    assert out_of_reach(exc) == reported
    assert out_of_reach(exc, waiting=True) == waited


def test_the_worker_blames_a_socket_error_on_the_service_it_called():
    from agents.outage import database_unreachable, kafka_unreachable

    refused = ConnectionRefusedError(111, "Connection refused")
    assert kafka_unreachable(refused) and database_unreachable(refused)
    through_kafka, through_asyncpg = raised_in("aiokafka.conn", refused), raised_in("asyncpg.pool", TimeoutError())
    assert kafka_unreachable(through_kafka) and not database_unreachable(through_kafka)
    assert database_unreachable(through_asyncpg) and not kafka_unreachable(through_asyncpg)
    missing = UnknownTopicOrPartitionError()
    assert kafka_unreachable(missing) and not database_unreachable(missing)
    assert not kafka_unreachable(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert not kafka_unreachable(ValueError("a bug")) and not database_unreachable(ValueError("a bug"))
