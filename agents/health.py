"""The worker's health: a stall detector (a counter and the readiness flag, never an exit) and `kill -USR1` dumps."""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agents.engine import Engine

log = logging.getLogger("planperfect.health")


def check_stall(engine: Engine) -> None:
    """A stall: owned partitions have messages this worker has not received, none of them is paused on purpose,
    and nothing was delivered for `stall_seconds`. Logged once per change, counted in `stats.stalls`."""
    waiting = 0
    for owned in engine.parts.values():
        high, position = engine.consumer.highwater(owned.tp), owned.tracker.next_offset
        if not owned.paused and high is not None and position is not None:
            waiting += max(0, high - position)
    quiet = time.monotonic() - engine.stats.last_delivery
    stalled = waiting > 0 and quiet >= engine.config.stall_seconds
    if stalled and not engine.stalled:
        engine.stats.stalls += 1
        log.error("stalled: %d message(s) wait on owned partitions and nothing was delivered for %.0f s", waiting, quiet)
    elif engine.stalled and not stalled:
        log.warning("no longer stalled")
    engine.stalled = stalled
    engine.ready = bool(engine.parts) and not stalled


def describe(engine: Engine) -> str:
    """What the engine holds: partitions, pauses, work in flight and waiting, commit positions."""
    paused = collections.Counter(why.value for o in engine.parts.values() for why in o.paused)
    lines = [f"ready={engine.ready} stalled={engine.stalled} partitions={len(engine.parts)} "
             f"attempts running={engine.running} waiting={len(engine.fair)} control running={engine.control_running} "
             f"paused={dict(paused)} stats={engine.stats}"]
    for o in sorted(engine.parts.values(), key=lambda o: (o.tp.topic, o.tp.partition)):
        if o.tracker.in_flight or o.paused or o.held:
            lines.append(f"  {o.tp.topic}[{o.tp.partition}] in flight={o.tracker.in_flight} "
                         f"commit at={o.tracker.committable()} held={len(o.held)} paused={sorted(o.paused)}")
    return "\n".join(lines)


def dump_tasks() -> str:
    """Pending asyncio tasks grouped by the line each one waits at, most common first."""
    where = collections.Counter()
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=1)
        where[f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else repr(task.get_coro())] += 1
    return "\n".join(f"  {n:5d} {at}" for at, n in where.most_common(40))


def install(engine: Engine) -> None:
    """`kill -USR1 <worker pid>` writes the engine's state and its tasks to the log."""
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGUSR1, lambda: log.warning("state dump (SIGUSR1):\n%s\ntasks:\n%s", describe(engine), dump_tasks()))
