"""Rows of PostgreSQL an API process remembers for a few seconds, and trusts a little longer while PostgreSQL is away.

One rule for API keys (api/keys.py) and monitor sessions (api/sessions.py): a row is read again after `ttl`
seconds, so a change made by another process applies within that time; while PostgreSQL is out of reach, a row read
shortly before is trusted as it was, for `outage_trust` seconds after that read and no longer (a key revoked just
before an outage must not keep working for all of it); anything else meets the outage's 503.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Hashable, TypeVar

import asyncpg

from projections.outages import POSTGRES, out_of_reach

log = logging.getLogger("planperfect.api")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

OUTAGE_TRUST_SECONDS = 60.0


class Remembered(Generic[K, V]):
    """`lookup(conn, key)` through a cache of `ttl` seconds, trusted for `outage_trust` seconds during an outage."""

    MAX_ENTRIES = 10_000  # unknown keys are remembered too (their None): a flood of them empties the cache, not memory

    def __init__(self, pool: asyncpg.Pool, lookup: Callable[[asyncpg.Connection, K], Awaitable[V]], *, ttl: float,
                 what: str, outage_trust: float = OUTAGE_TRUST_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = pool
        self._lookup = lookup
        self._ttl = ttl
        self._what = what  # "API keys", "monitor sessions": for the outage's log line
        self._outage_trust = outage_trust
        self._clock = clock
        self._rows: dict[K, tuple[float, V]] = {}
        self._in_outage = False  # logged once per outage, not once per request

    async def get(self, key: K) -> V:
        now = self._clock()
        cached = self._rows.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            async with self._pool.acquire() as conn:
                value = await self._lookup(conn, key)
        except Exception as exc:
            if (cached is None or now - cached[0] >= self._outage_trust
                    or out_of_reach(exc, sockets=POSTGRES) != POSTGRES):
                raise
            if not self._in_outage:
                self._in_outage = True
                log.warning("PostgreSQL is out of reach: %s checked within the last %g s are trusted as they were then "
                            "(a revocation or sign-out since is not seen); others are answered 503", self._what,
                            self._outage_trust)
            return cached[1]
        self._in_outage = False
        if len(self._rows) >= self.MAX_ENTRIES:
            self._rows.clear()
        self._rows[key] = (now, value)
        return value

    def forget(self, key: K) -> None:
        """Read `key` afresh on its next use (a change this process made itself applies at once)."""
        self._rows.pop(key, None)

    def forget_where(self, stale: Callable[[V], bool]) -> None:
        """Read afresh every remembered row for which `stale(value)` holds."""
        for key in [k for k, (_, value) in self._rows.items() if stale(value)]:
            del self._rows[key]
