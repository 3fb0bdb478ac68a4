"""Pacing on the existing backbone: additive wire formats, the same retry machinery, one analysis per user per day."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from agents import transitions
from agents.errors import TransientError
from agents.pacing.scheduler import Delivery, PacingScheduler
from agents.progress import MemoryGuard
from agents.runner import Dispatcher, Emitter
from api.requests import IntakeRequest
from streams.codec import DecodeError, decode_command, decode_event, encode
from streams.deadletters import DeadLettered
from streams.events import JobSubmitted, StageCompleted
from streams.pacing_events import KnowledgeDocumentAdded, ScheduleCreated, ScheduleDeleted, decode_pacing_event
from streams.pacing_jobs import pacing_job_id, pacing_submitted
from streams.pacing_payloads import (
    AnalysisOutcome, ContentType, ContextAnalysis, ContextSource, ContextSummary, PacingBrief, PacingSchedule,
)
from streams.payloads import Brief, JobType, Stage
from streams.topics import CATALOGUE, Topics

NOW = datetime(2026, 3, 10, 8, 0, 5, tzinfo=timezone.utc)
BRIEF = PacingBrief(user_id="maya", local_date=date(2026, 3, 10), slot="09:00", trigger="schedule",
                    time_zone="Europe/Berlin", content_types=[ContentType.BLOG_POST])

# A JobSubmitted exactly as the intake wrote it before pacing existed.
OLD_ARTICLE = {
    "type": "JobSubmitted", "schema_version": 1, "event_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "job_id": "8c9e6679-7425-40de-944b-e07fc1f90ae7", "sequence": 1, "occurred_at": "2026-01-05T09:00:00Z",
    "correlation_id": "8c9e6679-7425-40de-944b-e07fc1f90ae7", "causation_id": None, "job_type": "article",
    "requester_email": "a@example.com",
    "brief": {"title": "Old article", "keywords": ["k"], "domain": None, "word_count": 800, "audience": None,
              "tone": None, "language": "en", "author": None, "url": None, "schema_type": "Article",
              "description": None},
    "initial_stage": "research", "priority": 5, "delay_seconds": 0, "max_attempts": 3, "retry_delay_seconds": 5,
    "visibility_seconds": 600, "idempotency_key": None,
}


def submitted(brief=BRIEF, now=NOW) -> JobSubmitted:
    return pacing_submitted(brief, now=now, max_attempts=2, retry_delay_seconds=1, visibility_seconds=60)


def test_old_events_still_decode_as_article_briefs():
    event = decode_event(json.dumps(OLD_ARTICLE).encode())
    assert isinstance(event.brief, Brief) and event.brief.title == "Old article"
    req = transitions.first_request(event, NOW)
    assert decode_command(encode(req)) == req


def test_a_pacing_job_round_trips_with_its_brief_and_outputs():
    event = submitted()
    back = decode_event(encode(event))
    assert isinstance(back.brief, PacingBrief) and back == event
    assert event.job_type is JobType.PACING and event.initial_stage is Stage.ANALYZE
    assert back.brief.title == "Pacing for maya on 2026-03-10"
    req = transitions.first_request(event, NOW)
    begun = transitions.started(req, NOW)
    empty = ContextSummary(source=ContextSource.KNOWLEDGE, items=[], chunk_count=0)
    analysis = ContextAnalysis(outcome=AnalysisOutcome.NO_CONTEXT, user_id="maya", local_date=BRIEF.local_date,
                               window_start=BRIEF.local_date, window_end=BRIEF.local_date, knowledge_context=empty,
                               meeting_context=empty.model_copy(update={"source": ContextSource.MEETING}),
                               topics=[], suggestions=[])
    done, nxt = transitions.completed(req, begun, 3, analysis, 5, NOW)
    assert isinstance(decode_event(encode(done)), StageCompleted) and decode_event(encode(done)) == done
    assert nxt.stage is Stage.WRITE and decode_command(encode(nxt)).outputs.analyze == analysis


def test_one_job_per_user_per_local_date():
    assert pacing_job_id("maya", date(2026, 3, 10)) == submitted().job_id
    later = BRIEF.model_copy(update={"slot": "18:00", "trigger": "manual"})
    assert submitted(later, NOW + timedelta(hours=9)).job_id == submitted().job_id
    assert pacing_job_id("maya", date(2026, 3, 11)) != pacing_job_id("maya", date(2026, 3, 10))
    assert pacing_job_id("mayb", date(2026, 3, 10)) != pacing_job_id("maya", date(2026, 3, 10))


def test_the_intake_refuses_pacing_jobs():
    with pytest.raises(ValidationError, match="job_type: pacing jobs are started"):
        IntakeRequest.model_validate({"job_type": "pacing", "requester_email": "a@example.com",
                                      "payload": {"title": "A title"}})


def test_a_failing_write_stage_retries_then_dead_letters_like_any_stage():
    req = transitions.first_request(submitted(), NOW).model_copy(update={"stage": Stage.WRITE})
    begun = transitions.started(req, NOW)
    events, retry = transitions.failed(req, begun, 3, TransientError("db away"), 5, NOW)
    assert [e.type for e in events] == ["StageFailed", "RetryScheduled"] and retry.request.attempt == 2
    last = retry.request
    begun = transitions.started(last, NOW)
    events, letter = transitions.failed(last, begun, last.next_sequence + 1, TransientError("db away"), 5, NOW)
    assert [e.type for e in events] == ["StageFailed", "JobDeadLettered"] and isinstance(letter, DeadLettered)
    assert letter.stage is Stage.WRITE and letter.original.job_type is JobType.PACING


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))


async def test_the_dispatcher_starts_a_day_once_however_many_times_it_is_submitted():
    send, guard = Recorder(), MemoryGuard()
    dispatcher = Dispatcher(emit=Emitter(Topics("t."), send), guard=guard)
    first, second = submitted(), submitted(BRIEF.model_copy(update={"slot": "18:00"}), NOW + timedelta(hours=9))
    for event in (first, second, first):
        await dispatcher.on_event(encode(event))
    assert [t for t, _, _ in send.sent] == ["t.stage.analyze.normal"]


class Schedules:
    def __init__(self, schedules: list[PacingSchedule]) -> None:
        self.schedules = schedules
        self.done: set = set()

    async def active_schedules(self):
        return self.schedules

    async def analysed(self, keys):
        return {k for k in keys if k in self.done}


def scheduler(source: Schedules, send: Recorder, clock) -> PacingScheduler:
    return PacingScheduler(emit=Emitter(Topics("t."), send), source=source, delivery=Delivery(), clock=clock,
                           catch_up=timedelta(hours=6))


async def test_the_scheduler_submits_each_due_day_once_and_not_again_after_a_restart():
    schedule = PacingSchedule(schedule_id=uuid.UUID(int=1), user_id="maya", time_zone="Europe/Berlin",
                              local_times=["09:00", "09:30"], created_at=NOW - timedelta(days=3))
    source, send = Schedules([schedule]), Recorder()
    now = [NOW]
    first = scheduler(source, send, lambda: now[0])
    assert [e.brief.slot for e in await first.tick()] == ["09:00"]
    now[0] += timedelta(minutes=31)  # 09:31: the 09:30 slot of the same day is due, the day is already submitted
    assert await first.tick() == []
    other_worker = scheduler(source, send, lambda: now[0])
    racing = await other_worker.tick()  # another worker's timer: the same job, which the dispatcher drops
    assert [e.job_id for e in racing] == [pacing_job_id("maya", date(2026, 3, 10))]
    source.done.add(("maya", date(2026, 3, 10)))  # the analysis is projected
    restarted = scheduler(source, send, lambda: now[0])
    assert await restarted.tick() == []
    assert len({decode_event(v).event_id for _, _, v in send.sent}) == 1


async def test_slots_missed_while_no_worker_ran_are_caught_up_within_the_horizon():
    schedule = PacingSchedule(schedule_id=uuid.UUID(int=1), user_id="maya", time_zone="UTC", local_times=["06:00"],
                              created_at=NOW - timedelta(days=3))
    send = Recorder()
    late = scheduler(Schedules([schedule]), send, lambda: NOW)  # 08:00: two hours late
    assert [e.brief.local_date for e in await late.tick()] == [date(2026, 3, 10)]
    too_late = scheduler(Schedules([schedule]), send, lambda: NOW + timedelta(hours=5))
    assert await too_late.tick() == []  # 13:00: seven hours after the slot, beyond the six-hour horizon


def test_pacing_events_decode_and_garbage_does_not():
    created = ScheduleCreated(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=uuid.uuid4(),
                              schedule_id=uuid.uuid4(), time_zone="Asia/Kolkata", local_times=["09:00"],
                              days_of_week=["mon"], content_types=["social_post"], window_days=7, active=True)
    assert decode_pacing_event(encode(created)) == created
    doc = KnowledgeDocumentAdded(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=uuid.uuid4(),
                                 document_id=uuid.uuid4(), title="t", format="text", body="b")
    assert decode_pacing_event(encode(doc)) == doc
    for raw in (b"not json", b"[1]", b'{"type": "ScheduleCreated"}'):
        with pytest.raises(DecodeError):
            decode_pacing_event(raw)
    with pytest.raises(ValidationError, match="IANA time zone"):
        created.model_validate({**created.model_dump(), "time_zone": "Mars/Olympus"})


# A KnowledgeDocumentAdded exactly as the API wrote it before pacing facts carried their tenant and their writer.
OLD_DOCUMENT = {
    "type": "KnowledgeDocumentAdded", "schema_version": 1, "event_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "user_id": "maya", "occurred_at": "2026-01-05T09:00:00Z", "correlation_id": "8c9e6679-7425-40de-944b-e07fc1f90ae7",
    "causation_id": None, "document_id": "8c9e6679-7425-40de-944b-e07fc1f90ae7", "title": "Old notes", "format": "text",
    "body": "Written before tenants.",
}


def test_pacing_facts_carry_who_wrote_them_and_older_ones_decode_without():
    old = decode_pacing_event(json.dumps(OLD_DOCUMENT).encode())
    assert isinstance(old, KnowledgeDocumentAdded) and old.tenant is None and old.by is None
    actor = "key:3f9a1c0b7d2e (billing site)"
    for event in (old.model_copy(update={"by": actor, "tenant": "acme"}),
                  ScheduleDeleted(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=uuid.uuid4(),
                                  schedule_id=uuid.uuid4(), by=actor)):
        back = decode_pacing_event(encode(event))
        assert back == event and back.by == actor
        assert json.loads(encode(event))["by"] == actor


def test_the_catalogue_has_the_pacing_topics():
    topics = Topics("p.")
    names = {name for name, _ in topics.all()}
    assert {topics.pacing_events, topics.stage(Stage.ANALYZE), topics.stage(Stage.WRITE)} <= names
    assert len(names) == len(CATALOGUE)
