"""The pure decisions of a stage attempt: sequences, ids, next requests, retries and failures."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from agents import transitions
from agents.errors import PermanentError, TransientError
from streams.codec import DecodeError, decode_command, decode_event, encode
from streams.commands import RequestStage
from streams.envelope import command_id_for, event_id_for
from streams.events import JobCompleted, JobDeadLettered, JobSubmitted
from streams.commands import DelayStage
from streams.deadletters import DeadLettered
from agents.retry import backoff_seconds
from agents.delays import tier_for
from streams.payloads import Brief, Completion, JobType, QAReport, ResearchNotes, Stage, StageOutputs

import pytest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
JOB = uuid.UUID("11111111-1111-4111-8111-111111111111")


def submitted(job_type=JobType.ARTICLE, max_attempts=3) -> JobSubmitted:
    return JobSubmitted(
        event_id=event_id_for(JOB, 1), job_id=JOB, sequence=1, occurred_at=NOW, correlation_id=JOB,
        job_type=job_type, requester_email="a@example.com", brief=Brief(title="A title"),
        initial_stage=Stage.RESEARCH, priority=5, delay_seconds=0, max_attempts=max_attempts,
        retry_delay_seconds=1, visibility_seconds=30,
    )


RESEARCH = ResearchNotes(summary="s", audience="a", angle="g", key_points=["k"], keyword_insights=[], questions=["q"])


def test_first_request_continues_the_sequence():
    req = transitions.first_request(submitted(), NOW)
    assert (req.stage, req.attempt, req.next_sequence) == (Stage.RESEARCH, 1, 2)
    assert req.causation_id == submitted().event_id and req.correlation_id == JOB


def test_completion_requests_the_next_stage_with_the_output_carried():
    req = transitions.first_request(submitted(), NOW)
    begun = transitions.started(req, NOW)
    done, nxt = transitions.completed(req, begun, begun.sequence + 1, RESEARCH, 12, NOW)
    assert (begun.sequence, done.sequence) == (2, 3)
    assert done.next_stage == Stage.OUTLINE and done.causation_id == begun.event_id
    assert isinstance(nxt, RequestStage) and nxt.stage == Stage.OUTLINE and nxt.next_sequence == 4
    assert nxt.outputs.research == RESEARCH


def test_the_last_stage_completes_the_job():
    req = transitions.first_request(submitted(JobType.SCHEMA), NOW).model_copy(update={"stage": Stage.COMPLETE})
    begun = transitions.started(req, NOW)
    out = Completion(job_type=JobType.SCHEMA, title="t", slug="t", word_count=None, qa_passed=True, formats=["json-ld"])
    done, after = transitions.completed(req, begun, begun.sequence + 1, out, 1, NOW)
    assert done.next_stage is None
    assert isinstance(after, JobCompleted) and after.sequence == done.sequence + 1


def test_same_position_same_event_id_so_a_redelivery_is_the_same_fact():
    req = transitions.first_request(submitted(), NOW)
    a = transitions.started(req, NOW)
    b = transitions.started(req, datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert a.event_id == b.event_id


def test_transient_failure_schedules_a_backed_off_retry_until_attempts_run_out():
    req = transitions.first_request(submitted(max_attempts=2), NOW)
    begun = transitions.started(req, NOW)
    (fail, scheduled), delayed = transitions.failed(req, begun, 3, TransientError("timeout"), 5, NOW)
    assert fail.retryable and (fail.sequence, scheduled.sequence) == (3, 4)
    assert isinstance(delayed, DelayStage) and delayed.due_at == scheduled.due_at
    assert 0.9 <= scheduled.delay_seconds <= 1.1  # retry_delay_seconds=1, first failure, +-10% jitter
    retry = delayed.request
    assert retry.attempt == 2 and retry.next_sequence == 5
    begun2 = transitions.started(retry, NOW)
    (fail2, dead), letter = transitions.failed(retry, begun2, 6, TransientError("timeout"), 5, NOW)
    assert isinstance(dead, JobDeadLettered) and "after 2 attempts" in dead.reason
    assert isinstance(letter, DeadLettered) and letter.original == retry and letter.next_sequence == 8


def test_permanent_failure_goes_to_the_dead_letters_at_once():
    req = transitions.first_request(submitted(), NOW)
    (fail, dead), letter = transitions.failed(req, transitions.started(req, NOW), 3, PermanentError("bad input"), 1, NOW)
    assert not fail.retryable and dead.reason.startswith("permanent error") and letter.dead_letter_id == dead.dead_letter_id


def test_backoff_doubles_with_bounded_jitter_and_a_cap():
    delays = [backoff_seconds(2, n, JOB) for n in range(1, 6)]
    for n, d in enumerate(delays, start=1):
        assert 2 * 2 ** (n - 1) * 0.9 <= d <= 2 * 2 ** (n - 1) * 1.1
    assert backoff_seconds(2, 30, JOB) == 3600.0
    assert backoff_seconds(2, 3, JOB) == backoff_seconds(2, 3, JOB)  # deterministic: a re-run decides the same


def test_a_delayed_submission_is_held_until_due():
    sub = submitted().model_copy(update={"delay_seconds": 30})
    routed = transitions.first_request(sub, NOW)
    assert isinstance(routed, DelayStage) and (routed.due_at - NOW).total_seconds() == 30
    assert tier_for(30) == 30 and tier_for(29.9) == 5 and tier_for(0.2) == 1 and tier_for(10_000) == 3600


def test_codec_round_trips_and_refuses_garbage():
    sub = submitted()
    assert decode_event(encode(sub)) == sub
    req = transitions.first_request(sub, NOW)
    assert decode_command(encode(req)) == req
    for raw in (b"\x00\xff", b"[]", b'{"type": "JobSubmitted"}', b'{"type": "JobSubmitted", "schema_version": 7}'):
        with pytest.raises(DecodeError):
            decode_event(raw)


def qa_report(draft_findings: list[str], metadata: list[str] = ()) -> QAReport:
    issues = [*draft_findings, *metadata]
    return QAReport(word_count=900, target_word_count=900, word_count_deviation_pct=0.0, keyword_stats=[],
                    missing_keywords=[], h1_count=1, h2_count=3, h3_count=0, heading_structure_ok=True,
                    title_length=40, meta_description_length=140, flesch_reading_ease=60.0, repeated_sentences=[],
                    issues=issues, passed=not issues, draft_findings=draft_findings)


def at_qa(req: RequestStage, earlier: QAReport | None = None) -> RequestStage:
    return req.model_copy(update={"stage": Stage.QA, "outputs": StageOutputs(qa=earlier)})


def test_qa_findings_send_the_job_back_to_the_draft_once_as_an_event():
    req = at_qa(transitions.first_request(submitted(), NOW))
    begun = transitions.started(req, NOW)
    report = qa_report(["Keyword 'heat pump' does not appear in the draft."])
    assert transitions.rejected(req, report) is None
    done, after = transitions.completed(req, begun, 9, report, 5, NOW)
    assert isinstance(after, transitions.Returned) and done.next_stage is Stage.DRAFT
    back, redo = after.event, after.request
    assert (back.sequence, back.stage, back.to_stage, back.causation_id) == (10, Stage.QA, Stage.DRAFT, done.event_id)
    assert back.findings == report.draft_findings and decode_event(encode(back)) == back
    assert (redo.stage, redo.attempt, redo.next_sequence, redo.causation_id) == (Stage.DRAFT, 1, 11, back.event_id)
    assert redo.outputs.qa == report  # the redraft reads the findings; the next QA knows the job came back once
    assert redo.command_id != command_id_for(JOB, "draft:1")  # not the first draft's request: a new one

    # The redone draft's QA: findings again fail the attempt (permanently), no second return.
    again = at_qa(redo, earlier=report)
    error = transitions.rejected(again, report)
    assert isinstance(error, PermanentError) and error.code == "qa_rejected" and "heat pump" in str(error)
    (fail, dead), _ = transitions.failed(again, transitions.started(again, NOW), 14, error, 1, NOW)
    assert not fail.retryable and isinstance(dead, JobDeadLettered)
    # Passed the second time: on to export as usual.
    _, onward = transitions.completed(again, transitions.started(again, NOW), 14, qa_report([]), 5, NOW)
    assert isinstance(onward, RequestStage) and onward.stage is Stage.EXPORT


def test_qa_issues_a_new_draft_cannot_fix_neither_return_nor_fail_the_job():
    req = at_qa(transitions.first_request(submitted(), NOW))
    report = qa_report([], metadata=["Title is 7 characters; it should be 10-70."])
    _, after = transitions.completed(req, transitions.started(req, NOW), 9, report, 5, NOW)
    assert isinstance(after, RequestStage) and after.stage is Stage.EXPORT
    assert transitions.rejected(at_qa(req, earlier=report), report) is None
