"""A job's events folded into timeline bars: waits, attempts, retries, extensions, dead letter and redrive."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from api.monitor.timeline import build

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def ev(seq: int, seconds: float, type_: str, **body) -> dict:
    return {"sequence": seq, "type": type_, "occurred_at": (T0 + timedelta(seconds=seconds)).isoformat(), **body}


def test_a_retried_extended_dead_lettered_then_redriven_stage():
    events = [
        ev(1, 0, "JobSubmitted", initial_stage="research", delay_seconds=0),
        ev(2, 1, "StageStarted", stage="research", attempt=1, time_limit_ms=10_000),
        ev(3, 2, "StageCompleted", stage="research", attempt=1, duration_ms=1000, next_stage="outline"),
        ev(4, 3, "StageStarted", stage="outline", attempt=1, time_limit_ms=10_000),
        ev(5, 4, "StageExtended", stage="outline", attempt=1, extra_seconds=5.0),
        ev(6, 5, "StageFailed", stage="outline", attempt=1, error="boom", duration_ms=2000),
        ev(7, 5, "RetryScheduled", stage="outline", attempt=2, delay_seconds=2.0,
           due_at=(T0 + timedelta(seconds=7)).isoformat()),
        ev(8, 8, "StageStarted", stage="outline", attempt=2, time_limit_ms=10_000),
        ev(9, 9, "StageFailed", stage="outline", attempt=2, error="boom", duration_ms=1000),
        ev(10, 9, "JobDeadLettered", stage="outline", attempts=2, reason="max_attempts"),
        ev(11, 10, "JobRedriven", stage="outline"),
    ]
    t = build(events, now=T0 + timedelta(seconds=20))
    assert [r.stage for r in t.rows] == ["research", "outline"]
    research, outline = t.rows
    assert [s.kind for s in research.segments] == ["queued", "completed"]
    assert [s.kind for s in outline.segments] == ["queued", "failed", "retry_wait", "queued", "failed", "queued"]
    assert [m.kind for m in outline.marks] == ["extended", "dead_lettered", "redriven"]
    assert not t.finished and t.end == T0 + timedelta(seconds=20)  # still going: drawn up to now
    waiting = outline.segments[-1]
    assert waiting.end is None and waiting.left == 50.0 and waiting.width == 50.0
    assert outline.segments[2].left == 25.0 and outline.segments[2].width == 10.0  # 5 s .. 7 s of 20 s


def test_a_completed_job_ends_at_its_last_event_and_nothing_is_open():
    events = [
        ev(1, 0, "JobSubmitted", initial_stage="research"),
        ev(2, 0.5, "StageStarted", stage="research", attempt=1, time_limit_ms=10_000),
        ev(3, 1, "StageCompleted", stage="research", attempt=1, duration_ms=500, next_stage=None),
        ev(4, 1, "JobCompleted", final_stage="research"),
    ]
    t = build(events, now=T0 + timedelta(hours=1))
    assert t.finished and t.end == T0 + timedelta(seconds=1)
    assert all(s.end is not None for r in t.rows for s in r.segments)
    assert build([], now=T0) is None


def test_cancel_closes_what_was_open():
    events = [
        ev(1, 0, "JobSubmitted", initial_stage="research"),
        ev(2, 1, "StageStarted", stage="research", attempt=1, time_limit_ms=10_000),
        ev(3, 2, "JobCancelled", stage="research", reason="asked"),
    ]
    t = build(events, now=T0 + timedelta(seconds=30))
    assert [s.kind for s in t.rows[0].segments] == ["queued", "cancelled"] and t.finished
