"""A worker may die after any write: re-running the request must give the same facts, never a second outcome."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from agents import transitions
from agents.errors import TransientError
from agents.handlers import run_stage
from agents.progress import MemoryGuard
from agents.providers.offline import OfflineProvider
from agents.runner import Emitter, StageRunner
from streams.codec import encode
from streams.commands import RequestStage
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import Brief, JobType, Stage
from streams.topics import Topics

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)


class Crash(BaseException):
    """Stands for SIGKILL: nothing after it runs (BaseException, so no handler catches it)."""


class Log:
    """What reached Kafka, and a switch that kills the 'worker' at the n-th write."""

    def __init__(self, crash_at: int | None) -> None:
        self.writes: list[tuple[str, dict]] = []
        self.crash_at = crash_at

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        if self.crash_at is not None and len(self.writes) == self.crash_at:
            self.crash_at = None
            raise Crash()
        self.writes.append((topic, json.loads(value)))

    def events(self) -> dict[int, dict]:
        """As the projector keeps them: the first event at each sequence wins."""
        kept: dict[int, dict] = {}
        for topic, body in self.writes:
            if topic.endswith("job-events"):
                kept.setdefault(body["sequence"], body)
        return kept


def request(stage: Stage, fail_first: int = 0) -> RequestStage:
    job_id = uuid.UUID(int=7)
    title = f"Crash windows [fault:{stage.value}:transient:{fail_first}]" if fail_first else "Crash windows"
    sub = JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=NOW, correlation_id=job_id,
        job_type=JobType.ARTICLE, requester_email="a@example.com", brief=Brief(title=title), initial_stage=stage,
        priority=5, delay_seconds=0, max_attempts=3, retry_delay_seconds=0, visibility_seconds=30,
    )
    return transitions.first_request(sub, NOW)


def runner(log: Log, guard: MemoryGuard, stage_fn=run_stage) -> StageRunner:
    return StageRunner(emit=Emitter(Topics("t."), log.send), guard=guard, provider=OfflineProvider(), stage_fn=stage_fn)


async def _flaky(inp, ctx):
    if inp.attempt == 1:
        raise TransientError("first attempt fails")
    return await run_stage(inp, ctx)


@pytest.mark.parametrize("stage_fn", [run_stage, _flaky], ids=["succeeds", "fails-then-retries"])
async def test_a_crash_after_any_write_never_duplicates_an_outcome(stage_fn):
    req = request(Stage.RESEARCH)
    clean = Log(None)
    await runner(clean, MemoryGuard(), stage_fn).on_request(encode(req), "t", 0, 0)
    writes = len(clean.writes)
    assert writes >= 3
    for crash_at in range(writes):
        log, guard = Log(crash_at), MemoryGuard()
        with pytest.raises(Crash):
            await runner(log, guard, stage_fn).on_request(encode(req), "t", 0, 0)
        await runner(log, guard, stage_fn).on_request(encode(req), "t", 0, 0)  # redelivered to a new worker
        events = log.events()
        seqs = sorted(events)
        assert seqs == list(range(2, 2 + len(seqs))), f"gap after a crash at write {crash_at}"
        outcomes = [e for e in events.values() if e["type"] in ("StageCompleted", "StageFailed")]
        assert len([e for e in outcomes if e["type"] == "StageCompleted"]) <= 1, crash_at
        assert len(outcomes) == len({(e["attempt"], e["type"]) for e in outcomes}), crash_at
        routed = [b for t, b in log.writes if ".stage." in t or ".delay." in t]
        assert len({b["command_id"] if "command_id" in b else b["request"]["command_id"] for b in routed}) == 1, crash_at


async def test_a_rebalance_waits_for_a_running_attempt_and_gives_up_one_that_outlasts_it():
    import asyncio

    release, started = asyncio.Event(), asyncio.Event()

    async def slow(inp, ctx):
        started.set()
        await release.wait()
        return await run_stage(inp, ctx)

    # Finishes within the drain: its outcome is written before the partition goes.
    log, guard = Log(None), MemoryGuard()
    r = runner(log, guard, slow)
    work = asyncio.create_task(r.on_request(encode(request(Stage.RESEARCH)), "t", 0, 0))
    await started.wait()
    asyncio.get_running_loop().call_later(0.05, release.set)
    assert await r.drain(timeout=5) == 0
    await work
    assert any(b["type"] == "StageCompleted" for _, b in log.writes)

    # Outlasts the drain: given up, nothing more written, and the worker's loop goes on (no exception).
    release.clear()
    started.clear()
    log, guard = Log(None), MemoryGuard()
    r = runner(log, guard, slow)
    work = asyncio.create_task(r.on_request(encode(request(Stage.RESEARCH)), "t", 0, 0))
    await started.wait()
    written = len(log.writes)
    assert await r.drain(timeout=0.05) == 1
    await work
    assert len(log.writes) == written and not any(b["type"] == "StageCompleted" for _, b in log.writes)
    assert r.active == set() and r.fenced == set()


class BatchLog(Log):
    """A transport that sends a step's messages as one batch: a crash may let any of them land, here only the
    last one (the routed request), the outcome before it lost."""

    def __init__(self, crash_on_batch_with: str) -> None:
        super().__init__(None)
        self.crash_on = crash_on_batch_with

    async def send_many(self, messages):
        if self.crash_on and any(self.crash_on in t for t, _, _ in messages) and len(messages) > 1:
            self.crash_on = ""
            topic, _, value = messages[-1]
            self.writes.append((topic, json.loads(value)))
            raise Crash()
        return [await self.send(*m) for m in messages]


async def test_a_request_that_landed_without_its_outcome_waits_for_the_redelivered_outcome():
    log, guard = BatchLog(crash_on_batch_with=".stage."), MemoryGuard()

    def worker() -> StageRunner:
        return StageRunner(emit=Emitter(Topics("t."), log.send, log.send_many), guard=guard,
                           provider=OfflineProvider(), stage_fn=run_stage)

    research = request(Stage.RESEARCH)
    with pytest.raises(Crash):
        await worker().on_request(encode(research), "t", 0, 0)
    assert [b["type"] for t, b in log.writes if t.endswith("job-events")] == ["StageStarted"]
    (outline,) = [b for t, b in log.writes if ".stage." in t]
    # The next owner meets the outline request first: its research outcome is not in the log, so it waits.
    await worker().on_request(json.dumps(outline).encode(), "t", 0, 1)
    assert not any(b.get("stage") == "outline" for t, b in log.writes if t.endswith("job-events"))
    await worker().on_request(encode(research), "t", 0, 0)  # redelivered: writes the outcome, routes outline again
    routed = [b for t, b in log.writes if ".stage." in t]
    assert len(routed) == 2 and routed[0]["command_id"] == routed[1]["command_id"]
    await worker().on_request(json.dumps(routed[1]).encode(), "t", 0, 2)
    events = log.events()
    assert sorted(events) == list(range(2, 2 + len(events)))
    assert [events[s]["type"] for s in sorted(events)] == ["StageStarted", "StageCompleted", "StageStarted",
                                                             "StageCompleted"]
