"""Riding out outages: capped backoff, a supervisor's crash-loop limit, and a log that says each change once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Exponential delays, capped: 1, 2, 4, 8 ... `cap` seconds for the 1st, 2nd, 3rd ... failure in a row."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.cap, self.initial * self.factor ** (failures - 1))


# sysexits.h EX_CONFIG: a child that exits with it was given a setting it cannot work with (a worker's provider
# without its key, say); no restart mends that, so the supervisor stops at once and passes the code on.
EXIT_CONFIG = 78


@dataclass(frozen=True)
class Exit:
    """One exit of a supervised child: when, whether a dependency it needs was unreachable then, and its code."""

    at: float
    outage: bool = False
    code: int | None = None  # negative: killed by that signal


@dataclass(frozen=True)
class RestartDecision:
    give_up: bool
    delay: float  # seconds to wait before the restart (meaningless when giving up)
    recent_crashes: int
    misconfigured: bool = False  # giving up at the first exit: the child said its configuration is wrong


@dataclass(frozen=True)
class RestartPolicy:
    """When a supervised child dies: restart it after a backoff, and give up once it has crashed `limit`
    times within `window` seconds, a loop no restart will fix.

    An exit while Kafka or PostgreSQL is unreachable is the outage's doing, not a crash: it never counts
    towards the limit, and its backoff grows with the outage (up to the cap), however long it lasts.
    An exit with EXIT_CONFIG gives up at once, outage or not: the child checked its settings and they are wrong.
    """

    limit: int = 5
    window: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)

    def decide(self, exits: Sequence[Exit], now: float) -> RestartDecision:
        """`exits` holds every exit of this child so far, oldest first, the one just seen last."""
        crashes = sum(1 for e in exits if not e.outage and now - e.at < self.window)
        if exits[-1].code == EXIT_CONFIG:
            return RestartDecision(True, 0.0, crashes, misconfigured=True)
        if not exits[-1].outage:
            if crashes >= self.limit:
                return RestartDecision(True, 0.0, crashes)
            return RestartDecision(False, self.backoff.delay(crashes), crashes)
        outage_streak = 0
        for e in reversed(exits):
            if not e.outage:
                break
            outage_streak += 1
        return RestartDecision(False, self.backoff.delay(outage_streak), crashes)


@dataclass
class OutageLog:
    """Turns a stream of failures and successes into one line per change of state, never one per retry."""

    what: str
    down_since: float | None = None
    dependency: str | None = None

    def failed(self, dependency: str, reason: str, now: float) -> str | None:
        if self.down_since is not None and dependency == self.dependency:
            return None
        first = self.down_since is None
        self.dependency = dependency
        if first:
            self.down_since = now
        return f"{self.what}: {dependency} unavailable ({reason}); retrying with backoff"

    def recovered(self, now: float) -> str | None:
        if self.down_since is None:
            return None
        line = f"{self.what}: {self.dependency} back after {now - self.down_since:.0f} s"
        self.down_since = self.dependency = None
        return line


class RepeatedLines(logging.Filter):
    """Lets each library line through once per `every` seconds, then says how many like it it held back.

    During an outage aiokafka logs the same connection error several times a second, for as long as the
    outage lasts; our own lines (loggers under `planperfect`) always pass.
    """

    def __init__(self, every: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # (logger, template) -> (last shown, held)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "planperfect" or record.name.startswith("planperfect."):
            return True
        key, now = (record.name, str(record.msg)), self.clock()
        shown, held = self._seen.get(key, (None, 0))
        if shown is not None and now - shown < self.every:
            self._seen[key] = (shown, held + 1)
            return False
        self._seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} [and {held} more like this in the last {now - shown:.0f} s]"
        return True
