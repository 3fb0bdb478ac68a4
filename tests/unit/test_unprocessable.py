"""A message the worker fails on outside a stage's logic: retried through an outage, dead-lettered whole otherwise."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import asyncpg
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from agents import steps, transitions
from agents.engine import Actors, Engine, EngineConfig, Kind, Owned
from agents.faults import run_stage_with_faults
from agents.outage import Outage, database_unreachable, kafka_unreachable
from agents.progress import JobState, MemoryGuard, Progress
from agents.providers.offline import OfflineProvider
from agents.runner import DelayForwarder, Dispatcher, Emitter, JobControl, StageRunner
from streams.codec import encode
from streams.commands import RedriveJob, RequestStage
from streams.deadletters import DeadLettered, Reason
from streams.envelope import command_id_for, event_id_for
from streams.events import JobSubmitted
from streams.payloads import Brief, JobType, Stage
from streams.topics import Lane, Topics

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
JOB = uuid.UUID(int=11)
TOPICS = Topics("t.")


class Log:
    """What reached Kafka; `refuse` dead letters raise that many times first (a letter that cannot be written yet)."""

    def __init__(self, refuse: int = 0) -> None:
        self.writes: list[tuple[str, dict]] = []
        self.refuse = refuse

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        if topic == TOPICS.dead_letters and self.refuse:
            self.refuse -= 1
            raise ValueError("the letter was refused")
        self.writes.append((topic, json.loads(value)))

    def on(self, topic: str) -> list[dict]:
        """As a reader keeps them: a repeat (the letter retried with the event before it) is the same fact, once."""
        kept: dict[str, dict] = {}
        for t, body in self.writes:
            if t == topic:
                kept.setdefault(body.get("event_id") or body.get("dead_letter_id") or body["command_id"], body)
        return list(kept.values())


def request(title: str) -> RequestStage:
    sub = JobSubmitted(
        event_id=event_id_for(JOB, 1), job_id=JOB, sequence=1, occurred_at=NOW, correlation_id=JOB,
        job_type=JobType.ARTICLE, requester_email="a@example.com", brief=Brief(title=title),
        initial_stage=Stage.RESEARCH, priority=5, delay_seconds=0, max_attempts=3, retry_delay_seconds=0,
        visibility_seconds=30,
    )
    return transitions.first_request(sub, NOW)


def engine(log: Log, guard: MemoryGuard) -> Engine:
    emit = Emitter(TOPICS, log.send)
    runner = StageRunner(emit=emit, guard=guard, provider=OfflineProvider(), stage_fn=run_stage_with_faults)
    actors = Actors(runner=runner, dispatcher=Dispatcher(emit=emit, guard=guard, locks=runner.locks),
                    forwarder=DelayForwarder(emit=emit, guard=guard, locks=runner.locks),
                    control=JobControl(emit=emit, guard=guard, runner=runner))
    return Engine(None, TOPICS, actors, EngineConfig(), Outage("Kafka", kafka_unreachable, initial=0.001, cap=0.004),
                  Outage("PostgreSQL", database_unreachable, initial=0.001, cap=0.004))


async def handled(e: Engine, owned: Owned, offset: int, value: bytes, act) -> None:
    """One message through the engine, as its consumer loop hands it over; returns once its task ended."""
    owned.tracker.received(offset)
    e._spawn(owned, offset, value, act)
    await asyncio.gather(*owned.tasks)


def stage_partition() -> Owned:
    return Owned(TopicPartition(TOPICS.stage(Stage.RESEARCH, Lane.NORMAL), 0), Kind.STAGE)


async def test_an_outage_is_waited_out_and_never_skips_or_dead_letters_the_message():
    log, guard = Log(), MemoryGuard()
    e, owned = engine(log, guard), stage_partition()
    failures = [KafkaConnectionError("no route"), asyncpg.PostgresConnectionError("gone"), OSError("reset")]
    calls = 0

    async def act():
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)

    await handled(e, owned, 5, b"{}", act)
    assert calls == 4 and owned.tracker.committable() == 6
    assert log.writes == [] and e.stats.failed == 0 and e.kafka.outages == 1 and e.database.outages == 1
    # A message handled says nothing of a dependency it may not have called: the calls that failed (the producer's,
    # the guard's) tell when each is back, so an outage is logged once each way, not once per message handled.
    assert e.kafka.is_down and e.database.is_down


async def test_a_request_whose_outcome_cannot_be_written_dead_letters_its_job_whole_and_a_redrive_continues_it():
    log, guard = Log(refuse=2), MemoryGuard()
    e, owned = engine(log, guard), stage_partition()
    req = request("Cut off mid-character [fault:research:unencodable:1]")
    raw = encode(req)
    await handled(e, owned, 7, raw, lambda: e.actors.runner.on_request(raw, owned.tp.topic, 0, 7))

    assert owned.tracker.committable() == 8, "the partition flows on once the letter is written"
    assert e.stats.failed == 1 and e.stats.dead_lettered == 1 and e.letters.outages == 1
    events = log.on(TOPICS.job_events)
    assert [(ev["type"], ev["sequence"]) for ev in events] == [("StageStarted", 2), ("JobDeadLettered", 3)]
    (letter,) = [DeadLettered.model_validate(body) for body in log.on(TOPICS.dead_letters)]
    assert letter.reason == Reason.UNPROCESSABLE and "PydanticSerializationError" in letter.error
    assert (letter.job_id, letter.stage, letter.attempts, letter.next_sequence) == (JOB, Stage.RESEARCH, 1, 4)
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (owned.tp.topic, 0, 7)
    assert base64.b64decode(letter.raw_base64) == raw and letter.original.command_id == req.command_id
    assert events[1]["dead_letter_id"] == str(letter.dead_letter_id)
    assert (await guard.get(JOB)).state == JobState.DEAD

    # The redrive the API sends from this letter: the job goes on at its next sequence, and its second attempt
    # (which the fault spares) completes the stage.
    redrive = RedriveJob(command_id=command_id_for(JOB, "redrive-command"), job_id=JOB, requested_at=NOW,
                         dead_letter_id=letter.dead_letter_id, request=letter.original,
                         next_sequence=letter.next_sequence, fresh_attempts=3, requested_by="test")
    await e.actors.control.on_control(encode(redrive), TOPICS.job_control, 0, 0)
    again = RequestStage.model_validate(log.on(TOPICS.stage(Stage.RESEARCH, Lane.NORMAL))[-1])
    await e.actors.runner.on_request(encode(again), owned.tp.topic, 0, 8)
    assert [ev["type"] for ev in log.on(TOPICS.job_events)][2:] == ["JobRedriven", "StageStarted", "StageCompleted"]
    assert [ev["sequence"] for ev in log.on(TOPICS.job_events)] == [2, 3, 4, 5, 6]


async def test_a_control_command_that_fails_is_kept_whole_without_touching_its_job():
    log, guard = Log(), MemoryGuard()
    e = engine(log, guard)
    owned = Owned(TopicPartition(TOPICS.job_control, 3), Kind.CONTROL)

    async def broken():
        raise KeyError("a bug")

    await handled(e, owned, 0, b'{"not": "read"}', broken)
    (letter,) = [DeadLettered.model_validate(body) for body in log.on(TOPICS.dead_letters)]
    assert letter.job_id is None and letter.original is None and letter.reason == Reason.UNPROCESSABLE
    assert base64.b64decode(letter.raw_base64) == b'{"not": "read"}' and letter.error == "KeyError: 'a bug'"
    assert log.on(TOPICS.job_events) == [] and owned.tracker.committable() == 1


def test_only_a_request_the_job_waits_on_dead_letters_the_job():
    req = request("Steps")
    kept = DeadLettered.kept_whole("t", 0, 1, "ValueError: x", encode(req), NOW, reason=Reason.UNPROCESSABLE)
    for p in (None, Progress.waiting(req, JobState.QUEUED), Progress.running(req, 2).at(4, JobState.SETTLING)):
        step = steps.unprocessable(req, p, kept, NOW)
        assert step.events[0].sequence == (p.next_sequence if p else req.next_sequence)
        assert step.guard.state == JobState.DEAD and step.guard.next_sequence == step.dead_letter.next_sequence
        assert step.dead_letter.attempts == (p.attempt if p else 1)
    later = req.model_copy(update={"command_id": uuid.uuid4(), "next_sequence": 9})
    moved_on = Progress.waiting(later, JobState.QUEUED)
    for p in (moved_on, Progress.running(req, 1).at(3, JobState.DONE)):
        assert steps.unprocessable(req, p, kept, NOW) == steps.Step(dead_letter=kept)


async def test_undecodable_bytes_on_a_delay_tier_are_kept_whole_and_the_tier_flows_on():
    log = Log()
    e = engine(log, MemoryGuard())
    owned = Owned(TopicPartition(TOPICS.delay(30), 1), Kind.DELAY, tier=30)
    owned.tracker.received(4)
    e._hold(owned, SimpleNamespace(value=b"\x00 not a delay", offset=4, timestamp=0))
    await asyncio.gather(*owned.tasks)
    (letter,) = [DeadLettered.model_validate(body) for body in log.on(TOPICS.dead_letters)]
    assert letter.reason == Reason.UNDECODABLE and base64.b64decode(letter.raw_base64) == b"\x00 not a delay"
    assert e.stats.failed == 0 and owned.tracker.committable() == 5
