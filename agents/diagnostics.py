"""`kill -USR1 <worker pid>` writes where every asyncio task is suspended to the worker's log (for a worker that seems stuck)."""

from __future__ import annotations

import asyncio
import collections
import gc
import inspect
import logging
import signal
import sys
import threading
import traceback

log = logging.getLogger("planperfect.diagnostics")


def _await_chain(task: asyncio.Task) -> list[str]:
    """The frames from the task's coroutine down to what it waits on (coroutines, generators, async generators)."""
    return _await_chain_of(task.get_coro())


def _await_chain_of(obj) -> list[str]:
    frames = []
    for _ in range(40):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "ag_frame", None) or getattr(obj, "gi_frame", None)
        if frame is None:
            break
        frames.append(f"{frame.f_code.co_filename.rsplit('site-packages/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        obj = getattr(obj, "cr_await", None) or getattr(obj, "ag_await", None) or getattr(obj, "gi_yieldfrom", None)
        if obj is None:
            break
    return frames


def _ours(obj) -> bool:
    frame = getattr(obj, "cr_frame", None)
    return frame is not None and "site-packages" not in frame.f_code.co_filename and "/lib/python" not in frame.f_code.co_filename


def dump_tasks() -> str:
    """Pending tasks grouped by where they wait, most common first; then every suspended coroutine of ours
    (an actor awaiting through a wrapper object hides them from the task's own chain)."""
    chains = collections.Counter(tuple(_await_chain(t)) for t in asyncio.all_tasks() if not t.done())
    awaited = set()
    ours = [o for o in gc.get_objects() if inspect.iscoroutine(o) and _ours(o)]
    for o in ours:
        inner = getattr(o, "cr_await", None)
        if inner is not None:
            awaited.add(id(inner))
    for o in ours:
        if id(o) not in awaited:  # outermost of our coroutines: show its chain
            chains[("(coroutine)",) + tuple(_await_chain_of(o))] += 1
    lines = [f"{sum(chains.values())} pending tasks and coroutines"]
    for chain, n in chains.most_common():
        lines.append(f"--- {n} task(s):")
        lines.extend(f"    {f}" for f in chain)
    return "\n".join(lines)


def consumer_state(app) -> str:
    """What Faust's consumer believes: generation, flow, and which assigned partitions it is not fetching."""
    c = app.consumer
    assigned = set(c.assignment())
    active = set(c._active_partitions or ())
    def names(tps):
        return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(tps)) or "-"
    return (f"generation={app.consumer_generation_id} flow_active={app.flow_control.is_active()} "
            f"in_recovery={app.in_recovery} rebalancing={app.rebalancing} assigned={len(assigned)}\n"
            f"assigned but not active: {names(assigned - active)}\n"
            f"paused: {names(c._paused_partitions)}\nbuffered: {names(c._buffered_partitions)}\n"
            f"unacked: {len(c._unacked_messages)} acked pending: "
            f"{ {f'{tp.topic}[{tp.partition}]': v[:5] for tp, v in c._acked.items() if v} }")


def dump_threads(app=None) -> str:
    """Every other thread's stack, and the tasks of Faust's consumer thread loop (where the fetching happens)."""
    lines = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        name = next((t.name for t in threading.enumerate() if t.ident == ident), str(ident))
        lines.append(f"--- thread {name}:")
        lines.extend("    " + line.strip().replace("\n", " | ") for line in traceback.format_stack(frame, limit=8))
    thread_loop = getattr(getattr(getattr(app, "consumer", None), "_thread", None), "thread_loop", None)
    if thread_loop is not None:
        chains = collections.Counter(tuple(_await_chain(t)) for t in list(asyncio.all_tasks(thread_loop)) if not t.done())
        lines.append(f"--- consumer thread loop: {sum(chains.values())} tasks")
        for chain, n in chains.most_common():
            lines.append(f"  {n} task(s): " + " > ".join(chain))
    return "\n".join(lines)


def install(loop: asyncio.AbstractEventLoop, app=None) -> None:
    def dump() -> None:
        state = consumer_state(app) if app is not None else ""
        log.warning("task dump (SIGUSR1):\n%s\n%s\n%s", state, dump_tasks(), dump_threads(app))

    loop.add_signal_handler(signal.SIGUSR1, dump)
