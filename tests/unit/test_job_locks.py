"""A cancel racing the dispatcher or a stage's outcome is never overwritten: one job's steps take turns."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

from agents.joblocks import JobLocks
from agents.progress import JobState, MemoryGuard
from agents.providers.offline import OfflineProvider
from agents.runner import Dispatcher, Emitter, JobControl, StageRunner
from streams.codec import encode
from streams.commands import CancelJob
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import Brief, JobType, Stage
from streams.topics import Topics

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
JOB = uuid.UUID(int=11)


class HeldLog:
    """The log as the shells see it; a write to a topic matching `hold` waits until released."""

    def __init__(self, hold: str) -> None:
        self.hold, self.reached, self.release = hold, asyncio.Event(), asyncio.Event()
        self.events: list[dict] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> tuple[int, int]:
        if self.hold in topic and not self.release.is_set():
            self.reached.set()
            await self.release.wait()
        if topic.endswith("job-events"):
            self.events.append(json.loads(value))
        return 0, len(self.events)


def submitted(delay: int = 0) -> JobSubmitted:
    return JobSubmitted(
        event_id=event_id_for(JOB, 1), job_id=JOB, sequence=1, occurred_at=NOW, correlation_id=JOB,
        job_type=JobType.ARTICLE, requester_email=None, brief=Brief(title="Locks"), initial_stage=Stage.RESEARCH,
        priority=5, delay_seconds=delay, max_attempts=3, retry_delay_seconds=0, visibility_seconds=30,
    )


def cancel() -> bytes:
    return encode(CancelJob(command_id=uuid.uuid4(), job_id=JOB, requested_at=NOW))


async def settle(task: asyncio.Task) -> None:
    """Let `task` run as far as it can without the held write (it touches no I/O: a bounded number of turns)."""
    for _ in range(100):
        if task.done():
            return
        await asyncio.sleep(0)  # a turn of the loop, not a wait for time


async def test_a_cancel_arriving_while_the_dispatcher_routes_the_job_is_kept():
    log, guard = HeldLog(hold=".stage."), MemoryGuard()
    emit = Emitter(Topics("t."), log.send)
    runner = StageRunner(emit=emit, guard=guard, provider=OfflineProvider(), stage_fn=None)
    dispatcher = Dispatcher(emit=emit, guard=guard, locks=runner.locks)
    control = JobControl(emit=emit, guard=guard, runner=runner)

    dispatching = asyncio.create_task(dispatcher.on_event(encode(submitted())))
    await log.reached.wait()  # the first request is on its way to the stage topic
    cancelling = asyncio.create_task(control.on_control(cancel(), "t.job-control", 0, 0))
    await settle(cancelling)
    log.release.set()
    await asyncio.gather(dispatching, cancelling)

    p = await guard.get(JOB)
    assert p is not None and p.state == JobState.CANCELLED, p
    assert [e["type"] for e in log.events] == ["JobCancelled"], log.events


async def test_a_cancel_before_dispatch_still_cancels_at_dispatch():
    log, guard = HeldLog(hold="nothing"), MemoryGuard()
    emit = Emitter(Topics("t."), log.send)
    runner = StageRunner(emit=emit, guard=guard, provider=OfflineProvider(), stage_fn=None)
    await JobControl(emit=emit, guard=guard, runner=runner).on_control(cancel(), "t.job-control", 0, 0)
    await Dispatcher(emit=emit, guard=guard, locks=runner.locks).on_event(encode(submitted()))
    assert (await guard.get(JOB)).state == JobState.CANCELLED
    assert [e["sequence"] for e in log.events] == [2]


async def test_locks_are_forgotten_once_free():
    locks = JobLocks()
    async with locks(JOB):
        assert len(locks) == 1
    assert len(locks) == 0
