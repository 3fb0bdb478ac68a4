"""Per-key token buckets for intake: `rate` submissions a second on average, bursts of up to `burst`."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    """One bucket per key id, full at first; a submission takes a token, tokens come back at `rate` a second.

    Pure bookkeeping (the clock is passed in), so it is tested without waiting. State is per API process: with N
    processes behind a balancer a key may submit up to N times the rate. Memory is bounded by the keys that
    submitted within the last `burst / rate` seconds: a bucket left alone that long is full again, which is what
    a key without a bucket gets, so it is dropped.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        # key id -> (tokens, when counted); least recently counted first, so idle buckets are dropped from the front
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def __len__(self) -> int:
        """Buckets held (the keys that submitted recently)."""
        return len(self._buckets)

    def take(self, key_id: str) -> float | None:
        """None when the key may submit now (a token is taken), else the seconds until it may."""
        if not self.enabled:
            return None
        now = self._clock()
        self._drop_idle(now)
        tokens, then = self._buckets.pop(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key_id] = (tokens - 1.0, now)
            return None
        self._buckets[key_id] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _drop_idle(self, now: float) -> None:
        """Forget buckets not counted for `burst / rate` seconds (full by now): O(1) per call, amortised."""
        refill = self.burst / self.rate
        while self._buckets:
            _, then = next(iter(self._buckets.values()))
            if now - then < refill:
                break
            self._buckets.popitem(last=False)


def retry_after(seconds: float) -> str:
    """Retry-After is whole seconds: rounded up, so a client that waits it finds a token."""
    return str(max(1, math.ceil(seconds)))
