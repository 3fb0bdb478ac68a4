"""A stage attempt's boundaries as data: what admission, an outcome and a cancel write, and in which guard state."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timezone

from agents import steps, transitions
from agents.errors import PermanentError, TransientError
from agents.progress import JobState, Progress
from streams.commands import RequestStage
from streams.envelope import event_id_for
from streams.events import (
    JobCancelled,
    JobCompleted,
    JobSubmitted,
    RetryScheduled,
    StageCompleted,
    StageFailed,
    StageStarted,
)
from streams.payloads import Brief, Completion, JobType, ResearchNotes, Stage

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
JOB = uuid.UUID("22222222-2222-4222-8222-222222222222")
NOTES = ResearchNotes(summary="s", audience="a", angle="g", key_points=["k"], keyword_insights=[], questions=["q"])


def first(stage: Stage = Stage.RESEARCH) -> RequestStage:
    sub = JobSubmitted(
        event_id=event_id_for(JOB, 1), job_id=JOB, sequence=1, occurred_at=NOW, correlation_id=JOB,
        job_type=JobType.ARTICLE, requester_email=None, brief=Brief(title="Steps"), initial_stage=stage, priority=5,
        delay_seconds=0, max_attempts=3, retry_delay_seconds=0, visibility_seconds=30,
    )
    return transitions.first_request(sub, NOW)


def test_a_new_attempt_writes_its_start_and_records_running_past_it():
    req = first()
    start = steps.admit(req, Progress.waiting(req, JobState.QUEUED), NOW)
    assert isinstance(start, steps.Start) and start.fresh
    assert [(e.type, e.sequence, e.attempt) for e in start.step.events] == [("StageStarted", 2, 1)]
    assert (start.step.guard.state, start.step.guard.next_sequence, start.step.guard.started_sequence) == (
        JobState.RUNNING, 3, 2)
    assert start.outcome_at == 3 and start.step.settle is None and start.step.route is None


def test_a_crashed_attempt_is_one_more_and_its_start_is_written_again():
    req = first()
    crashed = steps.admit(req, None, NOW).step.guard  # recorded beside the start, which may never have landed
    again = steps.admit(req, crashed, NOW)
    assert isinstance(again, steps.Start) and again.fresh
    assert [(e.sequence, e.attempt) for e in again.step.events] == [(2, 1), (3, 2)]
    assert again.outcome_at == 4 and again.step.guard.started_sequence == 3


def test_a_settling_attempt_reruns_at_the_same_place_or_cancels():
    req = first()
    begun = transitions.started(req, NOW)
    settle = steps.settling(req, begun, 3, cancel_requested=False)
    again = steps.admit(req, settle, NOW)
    assert isinstance(again, steps.Start) and not again.fresh and again.outcome_at == 3
    assert [(e.type, e.sequence, e.attempt) for e in again.step.events] == [("StageStarted", 2, 1)]  # the same start
    assert again.begun.sequence == 2 and again.step.guard is None
    cancel = steps.admit(req, settle.with_cancel(), NOW)
    assert isinstance(cancel, steps.Step)
    assert [(type(e), e.sequence) for e in cancel.events] == [(StageStarted, 2), (JobCancelled, 3)]
    assert cancel.guard.state is JobState.CANCELLED


def test_a_request_that_outran_its_outcome_is_dropped_and_stale_ones_too():
    req = first()
    begun = transitions.started(req, NOW)
    step = steps.completed(req, begun, 3, NOTES, 5, NOW, cancel_requested=False)
    nxt = step.route
    assert steps.admit(nxt, step.settle, NOW) is None  # the research outcome may not be in the log
    assert isinstance(steps.admit(nxt, step.guard, NOW), steps.Start)  # recorded: the outline runs
    assert steps.admit(req, step.guard, NOW) is None  # the research request again: stale
    assert steps.admit(nxt, replace(step.guard, state=JobState.CANCELLED), NOW) is None


def test_an_outcome_settles_first_then_routes_or_ends_or_cancels():
    req = first()
    begun = transitions.started(req, NOW)
    step = steps.completed(req, begun, 3, NOTES, 5, NOW, cancel_requested=False)
    assert (step.settle.state, step.settle.next_sequence, step.settle.started_sequence) == (JobState.SETTLING, 3, 2)
    assert [type(e) for e in step.events] == [StageCompleted]
    assert step.route.stage is Stage.OUTLINE and step.route.next_sequence == 4
    assert (step.guard.state, step.guard.command_id) == (JobState.QUEUED, step.route.command_id)

    cancelled = steps.completed(req, begun, 3, NOTES, 5, NOW, cancel_requested=True)
    assert [(type(e), e.sequence) for e in cancelled.events] == [(StageCompleted, 3), (JobCancelled, 4)]
    assert cancelled.route is None and cancelled.settle.cancel_requested
    assert (cancelled.guard.state, cancelled.guard.next_sequence) == (JobState.CANCELLED, 5)
    # Who asked is kept while the outcome settles and named on the JobCancelled (the API key's actor).
    by = "key:0123456789ab (ops)"
    named = steps.completed(req, begun, 3, NOTES, 5, NOW, cancel_requested=True, cancel_by=by)
    assert named.events[-1].by == by and named.settle.cancel_by == by
    failed = steps.failed(req, begun, 3, TransientError("flaky"), 5, NOW, True, "t.stage.research", cancel_by=by)
    assert isinstance(failed.events[-1], JobCancelled) and failed.events[-1].by == by

    last = first(Stage.COMPLETE)
    done = steps.completed(last, transitions.started(last, NOW), 3, _completion(), 5, NOW, cancel_requested=False)
    assert [type(e) for e in done.events] == [StageCompleted, JobCompleted] and done.route is None
    assert (done.guard.state, done.guard.next_sequence) == (JobState.DONE, 5)


def test_a_failure_retries_or_dead_letters():
    req = first()
    begun = transitions.started(req, NOW)
    retry = steps.failed(req, begun, 3, TransientError("flaky"), 5, NOW, False, "t.stage.research")
    assert [type(e) for e in retry.events] == [StageFailed, RetryScheduled]
    assert retry.route.attempt == 2 and retry.route.next_sequence == 5
    assert retry.guard.state is JobState.QUEUED and retry.dead_letter is None
    dead = steps.failed(req, begun, 3, PermanentError("no"), 5, NOW, False, "t.stage.research")
    assert dead.route is None and dead.dead_letter.source_topic == "t.stage.research"
    assert (dead.guard.state, dead.guard.next_sequence) == (JobState.DEAD, 5)


def _completion() -> Completion:
    return Completion(job_type=JobType.ARTICLE, title="t", slug="t", word_count=300, qa_passed=True, formats=["md"])


def test_a_qa_return_writes_both_events_then_routes_the_draft_or_cancels_after_them():
    from tests.unit.test_transitions import qa_report

    req = first().model_copy(update={"stage": Stage.QA})
    begun = transitions.started(req, NOW)
    report = qa_report(["Keyword 'heat pump' does not appear in the draft."])
    step = steps.completed(req, begun, 9, report, 5, NOW, cancel_requested=False)
    assert [(e.type, e.sequence) for e in step.events] == [("StageCompleted", 9), ("StageReturned", 10)]
    assert (step.route.stage, step.route.next_sequence) == (Stage.DRAFT, 11)
    assert (step.guard.state, step.guard.command_id) == (JobState.QUEUED, step.route.command_id)
    cancelled = steps.completed(req, begun, 9, report, 5, NOW, cancel_requested=True)
    assert [(e.type, e.sequence) for e in cancelled.events] == [
        ("StageCompleted", 9), ("StageReturned", 10), ("JobCancelled", 11)]
    assert cancelled.route is None and cancelled.guard.state is JobState.CANCELLED
