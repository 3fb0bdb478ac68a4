"""Riding out an outage: retried with capped backoff, one line when the dependency goes and one when it is back."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import KafkaConnectionError

from agents.outage import Outage, kafka_unreachable


async def test_an_outage_is_retried_and_logged_once_each_way(caplog):
    outage = Outage("Kafka at k:9092", kafka_unreachable, initial=0.001, cap=0.004)
    calls = 0

    async def flaky():
        nonlocal calls
        calls += 1
        if calls <= 6:
            raise KafkaConnectionError("no route")
        return "sent"

    with caplog.at_level(logging.WARNING, logger="planperfect.outage"):
        assert await outage.call(flaky) == "sent"
        assert await outage.call(flaky) == "sent"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Kafka at k:9092 unreachable (KafkaConnectionError")
    assert lines[1].startswith("Kafka at k:9092 back after")
    assert outage.outages == 1 and not outage.is_down


async def test_an_error_that_is_not_an_outage_is_raised_at_once():
    outage = Outage("Kafka", kafka_unreachable, initial=0.001)

    async def broken():
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await outage.call(broken)
    assert outage.outages == 0


def test_a_connection_left_mid_operation_by_a_killed_server_is_an_outage_not_a_skipped_message():
    # Seen in CI: PostgreSQL SIGKILLed while the guard's load introspected types; the worker took it for a bug and
    # skipped the JobSubmitted it was dispatching, so the job never started.
    import asyncpg

    from agents.outage import database_unreachable

    assert database_unreachable(asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"))
    assert not database_unreachable(ValueError("cannot switch to state 11"))
