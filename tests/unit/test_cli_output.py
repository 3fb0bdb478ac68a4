"""What the CLI prints: dead letters to the terminal's width, a job's failures, a job's events as they happen."""

from __future__ import annotations

import pytest

from planperfect.cli_delivery import dead_letter_lines, lag_lines
from planperfect.cli import ApiUnreachable
from planperfect.cli_jobs import SUBMIT_BACKOFF, describe_event, sse_events, status_lines, submit_with_retries

REASON = ("permanent error at attempt 3: upstream provider answered 400 invalid_request_error: "
          "the prompt is longer than the model's context window")
LETTER = {"dead_letter_id": "0b6f0f8e-0d7a-4a52-bb0e-2f6c3a1f9d10", "status": "dead", "stage": "draft",
          "attempts": 3, "job_id": "7b0c7a52-4f43-4a4b-9d49-0f4f2d1c6a11", "reason": REASON}


def test_dead_letter_reason_fills_a_wide_terminal_and_is_whole_without_one():
    (wide,) = dead_letter_lines([LETTER], 300)
    assert wide.endswith(REASON)
    (cut,) = dead_letter_lines([LETTER], 180)
    assert len(cut) == 180 and cut.endswith("…") and REASON[:60] in cut
    head, reason = dead_letter_lines([LETTER], 120)  # too narrow for the reason beside the ids: a line of its own
    assert head.endswith(f"job={LETTER['job_id']}") and reason.startswith("    permanent error")
    assert len(reason) == 120 and reason.endswith("…")
    (piped,) = dead_letter_lines([LETTER], None)
    assert piped.endswith(REASON)


def test_a_multi_line_reason_stays_on_one_line():
    (line,) = dead_letter_lines([LETTER | {"reason": "Traceback:\n  boom\n  bang"}], None)
    assert line.endswith("Traceback: boom bang")


def test_a_letter_of_no_job_shows_where_it_sits_and_why():
    letter = LETTER | {"job_id": None, "stage": None, "attempts": 0, "reason": "unappliable",
                       "error": "KnowledgeDocumentAdded: CharacterNotInRepertoireError: 0x00",
                       "source_topic": "planperfect.pacing-events", "source_partition": 1, "source_offset": 4}
    (line,) = dead_letter_lines([letter], None)
    assert line.endswith("job=-  unappliable at planperfect.pacing-events[1]@4: "
                         "KnowledgeDocumentAdded: CharacterNotInRepertoireError: 0x00")


def _job(**overrides) -> dict:
    stage = {"position": 1, "stage": "research", "status": "completed", "attempts": 1, "duration_ms": 12,
             "last_error": None}
    job = {"job_id": LETTER["job_id"], "job_type": "article", "status": "dead_lettered", "current_stage": "outline",
           "title": "T", "last_error": REASON,
           "stages": [stage | {"status": "completed", "attempts": 2, "last_error": "timeout after 600 s"},
                      stage | {"position": 2, "stage": "outline", "status": "dead_lettered", "attempts": 3,
                               "duration_ms": None, "last_error": "injected: boom"}]}
    return job | overrides


def test_status_says_why_a_stage_failed_and_why_the_job_ended():
    text = "\n".join(status_lines(_job()))
    assert "last error (retried): timeout after 600 s" in text
    assert "error: injected: boom" in text
    assert f"why dead_lettered: {REASON}" in text


def test_status_of_a_completed_job_has_no_why_line():
    assert not any("why" in line for line in status_lines(_job(status="completed")))


def test_status_of_a_cancelled_job_says_who_cancelled_it_and_why_from_its_event():
    events = [{"type": "JobSubmitted", "sequence": 1},
              {"type": "JobCancelled", "sequence": 2, "stage": "outline", "reason": "cancelled by request"}]
    lines = status_lines(_job(status="cancelled", last_error=None), events)
    assert lines[-1] == "  why cancelled: cancelled by request (at outline)", lines


def test_status_says_who_redrove_a_job():
    events = [{"type": "JobSubmitted", "sequence": 1},
              {"type": "JobRedriven", "sequence": 5, "stage": "outline", "occurred_at": "2026-12-01T10:00:00+00:00",
               "by": "key:bd843ec87103 (opA)", "dead_letter_id": LETTER["dead_letter_id"]}]
    lines = status_lines(_job(status="completed", last_error=None), events)
    assert "  redriven to outline by key:bd843ec87103 (opA) at 2026-12-01T10:00:00+00:00" in lines, lines
    assert describe_event(events[1]) == "redriven to outline (by key:bd843ec87103 (opA))"


def test_submit_retries_a_503_and_a_lost_connection_with_the_same_key_then_gives_up():
    answers = iter([ApiUnreachable("cannot reach the API", sent=True), (503, {"error": {"code": "kafka_unavailable"}}),
                    (202, {"job_id": "j"})])
    said, slept = [], []

    def call():
        answer = next(answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert submit_with_retries(call, "cli-k", out=said.append, sleep=slept.append) == (202, {"job_id": "j"})
    assert slept == list(SUBMIT_BACKOFF[:2])
    assert all("retrying" in line and "same Idempotency-Key cli-k" in line for line in said) and len(said) == 2
    assert "503 kafka_unavailable" in said[1]
    busy = (503, {"error": {"code": "kafka_unavailable"}})
    slept.clear()
    assert submit_with_retries(lambda: busy, "k", out=said.append, sleep=slept.append) == busy  # the last answer
    assert slept == list(SUBMIT_BACKOFF)
    assert submit_with_retries(lambda: (422, {}), "k", out=said.append, sleep=slept.append) == (422, {})  # not retried

    def refused():
        raise ApiUnreachable("cannot reach the API: connection refused")  # nothing was sent: said at once

    slept.clear()
    with pytest.raises(ApiUnreachable):
        submit_with_retries(refused, "k", out=said.append, sleep=slept.append)
    assert slept == []


def test_events_as_lines():
    assert describe_event({"type": "StageFailed", "stage": "draft", "attempt": 2, "retryable": True,
                           "error_code": "timeout", "error": "no answer"}) == \
        "draft     FAILED (attempt 2, will retry): timeout: no answer"
    assert describe_event({"type": "JobDeadLettered", "stage": "qa", "attempts": 3, "reason": "r"}) == \
        "DEAD-LETTERED at qa after 3 attempts: r"
    assert describe_event({"type": "SomethingNew"}) is None


def test_server_sent_events_are_parsed_and_keep_alives_skipped():
    raw = [b": keep-alive\n", b"\n", b"id: 1\n", b"event: JobSubmitted\n", b'data: {"type": "JobSubmitted"}\n', b"\n",
           b"id: 2\n", b'data: {"type": "StageStarted",\n', b'data: "stage": "research"}\n', b"\n"]
    assert list(sse_events(iter(raw))) == [("1", {"type": "JobSubmitted"}),
                                           ("2", {"type": "StageStarted", "stage": "research"})]


def _queue(topic: str, group: str, queued: int) -> dict:
    return {"topic": topic, "group": group, "queue_length": queued, "oldest_msg_age_sec": 1.5 if queued else None,
            "newest_msg_age_sec": 0.5 if queued else None, "total_messages": 7}


def test_lag_with_nothing_queued_says_so_rather_than_a_bare_header():
    rows = [_queue("p.stage.research", "p.research", 0), _queue("p.stage.outline", "p.outline", 0)]
    assert lag_lines(rows, show_all=False) == [
        "nothing queued: all 2 queues of 2 consumer groups are empty (--all lists each)", "total queued: 0"]
    assert [line.split()[1] for line in lag_lines(rows, show_all=True)[1:-1]] == ["p.research", "p.outline"]


def test_lag_lists_the_queues_with_something_queued():
    lines = lag_lines([_queue("p.stage.research", "p.research", 3), _queue("p.stage.outline", "p.outline", 0)],
                      show_all=False)
    assert len(lines) == 3 and lines[1].split()[:3] == ["p.stage.research", "p.research", "3"]
    assert lines[-1] == "total queued: 3"
