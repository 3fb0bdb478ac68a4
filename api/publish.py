"""Writes to the log from the HTTP edge, bounded in time: a broker that cannot acknowledge is a 503, not a hang."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiokafka.errors import KafkaError

from api.errors import unavailable
from api.state import CONFIG, PRODUCER


async def publish(app: web.Application, topic: str, value: bytes, key: bytes, *, idempotent: bool = False) -> None:
    """Send and wait for Kafka's acknowledgement, at most `kafka_send_timeout_seconds`.

    503 `kafka_unavailable` at once while the producer has not yet reached a broker. On a timeout the record
    may still be written later (the producer keeps it queued), and the 503 says so. `idempotent`: the route takes
    an Idempotency-Key, so the 503 tells the client to retry with the same one (a retry then names the same job);
    the other routes have none to name.
    """
    limit = app[CONFIG].kafka_send_timeout_seconds
    retry = ("retry with the same Idempotency-Key (a retry with it is the same write, never a second)" if idempotent
             else "check before retrying")
    try:
        async with asyncio.timeout(limit):
            await app[PRODUCER].get().send_and_wait(topic, value, key=key)
    except TimeoutError:
        raise unavailable("kafka_unavailable", f"Kafka did not acknowledge the write within {limit:g} s; the write "
                          f"may still have been accepted and take effect: {retry}") from None
    except KafkaError as exc:
        raise unavailable("kafka_unavailable", f"the write to Kafka failed: {type(exc).__name__}; it may still have "
                          f"been accepted and take effect: {retry}") from None
