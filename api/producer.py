"""The API's Kafka producer, started in the background and retried until a broker answers.

The API must start, and answer 503 `kafka_unavailable`, while Kafka is away (as it does while PostgreSQL is):
a process that refuses to start leaves clients with "connection refused" until something restarts it. Once
started, aiokafka's producer reconnects on its own when the broker goes and comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer

from api.errors import unavailable
from streams.access import kafka_options

log = logging.getLogger("planperfect.api")

FIRST_RETRY_S = 0.5
LONGEST_RETRY_S = 5.0  # a broker that comes back is used within this long


class KafkaProducerLink:
    """One producer for the process; `get()` returns it once started, and raises 503 `kafka_unavailable` before."""

    def __init__(self, bootstrap: str, *, request_timeout_ms: int = 10000) -> None:
        self.bootstrap = bootstrap
        self.request_timeout_ms = request_timeout_ms
        self.problem = "the producer is still connecting"
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task | None = None

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect once now (so that an API started with Kafka up is ready at once); when no broker answers,
        return all the same and go on trying in the background."""
        if not await self._attempt(failures=0):
            self._connecting = asyncio.create_task(self._retry(), name="kafka-producer-connect")

    def get(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise unavailable("kafka_unavailable", f"Kafka is not reachable ({self.problem}); nothing was written: "
                              "retry later")
        return self._producer

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
            self._connecting = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _retry(self) -> None:
        failures = 1
        while not await self._attempt(failures):
            failures += 1
            await asyncio.sleep(min(LONGEST_RETRY_S, FIRST_RETRY_S * 2 ** (failures - 1)))  # backoff, not sync
        log.warning("api: Kafka back after %d failed attempts to connect", failures)

    async def _attempt(self, failures: int) -> bool:
        producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all", enable_idempotence=True,
                                    request_timeout_ms=self.request_timeout_ms)
        try:
            await producer.start()
        except Exception as exc:  # noqa: BLE001 - no broker, in whatever form; said once, retried
            await _close(producer)
            self.problem = f"{type(exc).__name__}: {exc}"
            if failures == 0:
                log.warning("api: Kafka unavailable (%s); answering 503 kafka_unavailable and retrying in the "
                            "background", self.problem)
            return False
        except BaseException:  # cancelled on shutdown: close what start() opened
            await _close(producer)
            raise
        self._producer = producer
        return True


async def _close(producer: AIOKafkaProducer) -> None:
    """Close a producer whose start failed, or it is reported unclosed at exit; its failure was reported already."""
    with contextlib.suppress(Exception):
        await producer.stop()
