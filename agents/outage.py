"""Riding out a dependency's outage: retry with capped backoff, and one log line when it goes and one when it is back."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence, TypeVar

from projections.outages import KAFKA, POSTGRES, out_of_reach

log = logging.getLogger("planperfect.outage")

T = TypeVar("T")


def kafka_unreachable(exc: BaseException) -> bool:
    """Of a call to Kafka: the broker cannot be reached or answered "try again" (not a request it refuses for good)."""
    return out_of_reach(exc, sockets=KAFKA, waiting=True) == KAFKA


def database_unreachable(exc: BaseException) -> bool:
    """Of a call to PostgreSQL: the server or our connection to it is gone, or not there yet."""
    return out_of_reach(exc, sockets=POSTGRES, waiting=True) == POSTGRES


@dataclass
class Outage:
    """One dependency's state as this process sees it; logs changes only, never each retry."""

    what: str  # "Kafka at host:port", "PostgreSQL"
    unreachable: Callable[[BaseException], bool]
    initial: float = 0.1
    cap: float = 5.0
    down_since: float | None = None
    outages: int = 0  # times it went away (a counter for the metrics)

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            log.warning("%s unreachable (%s: %s); retrying with backoff up to %.0f s", self.what,
                        type(exc).__name__, str(exc)[:200], self.cap)

    def succeeded(self) -> None:
        if self.down_since is not None:
            log.warning("%s back after %.0f s", self.what, time.monotonic() - self.down_since)
            self.down_since = None

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn()` until it succeeds; an error that is not this dependency being away is raised at once."""
        result = await through((self,), fn)
        self.succeeded()
        return result


async def through(outages: Sequence[Outage], fn: Callable[[], Awaitable[T]]) -> T:
    """`fn()` again while it fails because one of `outages` is away (counted and logged on that one), until it
    succeeds; any other error is raised at once. A success says nothing of dependencies `fn` may not have called:
    which one is back is told by its own calls (`Outage.call`)."""
    delay = min(o.initial for o in outages)
    while True:
        try:
            return await fn()
        except Exception as exc:
            outage = next((o for o in outages if o.unreachable(exc)), None)
            if outage is None:
                raise
            outage.failed(exc)
            await asyncio.sleep(delay)  # backoff before the next try, not synchronisation
            delay = min(outage.cap, delay * 2)
