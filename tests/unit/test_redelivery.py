"""A request the consumer committed without the job moving on is found from the guard and run again, once confirmed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from agents import transitions
from agents.progress import JobState, MemoryGuard, Progress
from agents.providers.offline import OfflineProvider
from agents.handlers import run_stage
from agents.redelivery import Redeliverer, lost_requests
from agents.runner import Dispatcher, Emitter, StageRunner
from streams.codec import encode
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import Brief, JobType, Stage
from streams.topics import Topics

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
TOPICS = Topics("t.")


class Kafka:
    """Topics as lists: a send lands at the next offset of partition 0 and says where."""

    def __init__(self) -> None:
        self.topics: dict[str, list[bytes]] = {}

    async def send(self, topic: str, key: bytes, value: bytes) -> tuple[int, int]:
        log = self.topics.setdefault(topic, [])
        log.append(value)
        return 0, len(log) - 1

    async def read(self, topic: str, partition: int, offset: int):
        log = self.topics.get(topic, [])
        return (log[offset], NOW.timestamp()) if offset < len(log) else None


def submitted() -> JobSubmitted:
    job_id = uuid.UUID(int=11)
    return JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=NOW, correlation_id=job_id,
        job_type=JobType.ARTICLE, requester_email="a@example.com", brief=Brief(title="Lost and found"),
        initial_stage=Stage.RESEARCH, priority=5, delay_seconds=0, max_attempts=3, retry_delay_seconds=0,
        visibility_seconds=30,
    )


def waiting(at=("t.stage.research.normal", 0, 4), state=JobState.QUEUED) -> Progress:
    return Progress.waiting(transitions.first_request(submitted(), NOW), state, at)


def test_only_a_committed_message_of_an_owned_partition_that_the_job_still_waits_on_is_lost():
    job = uuid.uuid4()
    p = waiting()
    owned = lambda t, part: True  # noqa: E731
    assert lost_requests([(job, p)], lambda t, part: 5, owned, set()) == {job: p}
    assert lost_requests([(job, p)], lambda t, part: 4, owned, set()) == {}     # not consumed yet: a backlog
    assert lost_requests([(job, p)], lambda t, part: None, owned, set()) == {}  # nothing committed yet
    assert lost_requests([(job, p)], lambda t, part: 5, lambda t, part: False, set()) == {}  # another worker's
    assert lost_requests([(job, p)], lambda t, part: 5, owned, {p.command_id}) == {}  # running here now
    assert lost_requests([(job, p.at(5, JobState.DONE))], lambda t, part: 9, owned, set()) == {}
    assert lost_requests([(job, waiting(at=None))], lambda t, part: 9, owned, set()) == {}


def test_the_location_survives_the_json_of_the_table_and_is_kept_by_the_running_attempt():
    p = waiting()
    assert Progress.from_json(p.to_json()) == p
    guard = MemoryGuard()
    job = uuid.uuid4()
    asyncio.run(guard.put(job, p))
    req = transitions.first_request(submitted(), NOW)
    asyncio.run(guard.put(job, Progress.running(req, 1)))
    assert guard.get(job).state == JobState.RUNNING and guard.get(job).request_at == p.request_at


async def test_a_lost_first_request_is_run_again_on_the_second_sweep_and_the_job_moves_on():
    kafka, guard = Kafka(), MemoryGuard()
    emit = Emitter(TOPICS, kafka.send)
    runner = StageRunner(emit=emit, guard=guard, provider=OfflineProvider(), stage_fn=run_stage)
    redeliver = Redeliverer(kafka.send, kafka.read, lambda: runner.active)
    sub = submitted()
    await Dispatcher(emit=emit, guard=guard).on_event(encode(sub))
    queued = guard.get(sub.job_id)
    assert queued.state == JobState.QUEUED and queued.request_at == (TOPICS.stage(Stage.RESEARCH), 0, 0)

    # The consumer committed offset 1 of that partition, yet no agent ever got the request.
    research = TOPICS.stage(Stage.RESEARCH)
    entries = lambda: [(sub.job_id, guard.get(sub.job_id))]  # noqa: E731
    committed, owned = (lambda t, p: 1), (lambda t, p: True)
    assert await redeliver.sweep(entries(), committed, owned) == []  # suspected, not yet confirmed
    assert await redeliver.sweep(entries(), committed, owned) == [sub.job_id]
    assert kafka.topics[research][1] == kafka.topics[research][0]  # the same request, published again at 1
    # While the copy waits its turn (offset 1 not committed), it is not published again.
    for _ in range(3):
        assert await redeliver.sweep(entries(), committed, owned) == []
    assert len(kafka.topics[research]) == 2 and redeliver.redelivered == 1

    # The research agent takes the copy like any request, and the job moves on.
    await runner.on_request(kafka.topics[research][1], research, 0, 1)
    after = guard.get(sub.job_id)
    assert after.state == JobState.QUEUED and after.stage == Stage.OUTLINE
    assert after.request_at == (TOPICS.stage(Stage.OUTLINE), 0, 0)
    assert await redeliver.sweep(entries(), lambda t, p: 0 if "outline" in t else 2, owned) == []
    assert redeliver.copies == {}


async def test_a_copy_lost_again_is_published_again():
    kafka, guard = Kafka(), MemoryGuard()
    emit = Emitter(TOPICS, kafka.send)
    redeliver = Redeliverer(kafka.send, kafka.read, lambda: set())
    sub = submitted()
    await Dispatcher(emit=emit, guard=guard).on_event(encode(sub))
    entries = lambda: [(sub.job_id, guard.get(sub.job_id))]  # noqa: E731
    everything_committed = lambda t, p: len(kafka.topics.get(t, []))  # noqa: E731
    for _ in range(4):
        await redeliver.sweep(entries(), everything_committed, lambda t, p: True)
    assert len(kafka.topics[TOPICS.stage(Stage.RESEARCH)]) == 3 and redeliver.redelivered == 2


async def test_a_job_that_moves_between_sweeps_is_not_run_again():
    kafka = Kafka()
    redeliver = Redeliverer(kafka.send, kafka.read, lambda: set())
    job = uuid.uuid4()
    first, second = waiting(at=("t.stage.research.normal", 0, 4)), waiting(at=("t.stage.research.normal", 0, 7))
    assert await redeliver.sweep([(job, first)], lambda t, p: 9, lambda t, p: True) == []
    assert await redeliver.sweep([(job, second)], lambda t, p: 9, lambda t, p: True) == []
    redeliver.forget()
    assert await redeliver.sweep([(job, second)], lambda t, p: 9, lambda t, p: True) == []


async def test_suspicions_start_over_when_the_group_generation_changes():
    kafka = Kafka()
    redeliver = Redeliverer(kafka.send, kafka.read, lambda: set())
    job, p = uuid.uuid4(), waiting()
    assert await redeliver.sweep([(job, p)], lambda t, part: 9, lambda t, part: True, generation=1) == []
    assert await redeliver.sweep([(job, p)], lambda t, part: 9, lambda t, part: True, generation=2) == []
    assert await redeliver.sweep([(job, p)], lambda t, part: 9, lambda t, part: True, generation=2) == [job]
