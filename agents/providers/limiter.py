"""A client-side limiter per provider: concurrent requests, requests per window and tokens per window."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator


@dataclass(frozen=True)
class Limits:
    """None means unlimited. The window is a minute in production; tests shorten it."""

    concurrency: int | None = None
    requests: int | None = None  # per window
    tokens: int | None = None  # per window, input + output
    window_seconds: float = 60.0


class Permit:
    """Held while one request is in flight; `settle` replaces the token estimate with what the vendor reported."""

    def __init__(self, limiter: "Limiter", entry: list[float]) -> None:
        self._limiter = limiter
        self._entry = entry  # [started_at, tokens], shared with the limiter's window

    def settle(self, tokens: int) -> None:
        self._entry[1] = float(tokens)


class Limiter:
    """Shared by every stage of a worker; sliding windows, so a burst never exceeds the limit in any window."""

    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._window: deque[list[float]] = deque()  # [started_at, tokens], oldest first
        self._slots = asyncio.Semaphore(limits.concurrency) if limits.concurrency else None
        self._turn = asyncio.Lock()  # one waiter at a time decides, so waiting requests keep their order

    def wait_needed(self, tokens: int) -> float:
        """Seconds until a request of `tokens` fits both windows (0: now). Pure given the window and clock."""
        now = self._clock()
        horizon = now - self.limits.window_seconds
        while self._window and self._window[0][0] <= horizon:
            self._window.popleft()
        waits = [0.0]
        if self.limits.requests is not None and len(self._window) >= self.limits.requests:
            # the oldest request that must leave the window for one more to fit
            waits.append(self._window[len(self._window) - self.limits.requests][0] - horizon)
        if self.limits.tokens is not None and self._window:
            used = sum(e[1] for e in self._window)
            excess = used + min(tokens, self.limits.tokens) - self.limits.tokens
            for started, spent in self._window:
                if excess <= 0:
                    break
                excess -= spent
                waits.append(started - horizon)
        return max(waits)

    @asynccontextmanager
    async def permit(self, tokens: int) -> AsyncIterator[Permit]:
        """Wait until a request estimated at `tokens` may start, then hold a concurrency slot while it runs."""
        if self._slots is not None:
            await self._slots.acquire()
        try:
            async with self._turn:
                while (wait := self.wait_needed(tokens)) > 0:
                    await self._sleep(wait)
                entry = [self._clock(), float(tokens)]
                self._window.append(entry)
            yield Permit(self, entry)
        finally:
            if self._slots is not None:
                self._slots.release()
