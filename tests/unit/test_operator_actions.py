"""Who asked for a cancel or a redrive travels from the command to the event on the job's timeline."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from agents import transitions
from agents.progress import JobState, Progress
from streams.codec import decode_event, encode

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
JOB = uuid.UUID("22222222-2222-4222-8222-222222222222")
BY = "key:0123456789ab (ops)"


def test_the_guard_keeps_who_asked_for_a_cancel_across_writes_and_restarts():
    p = Progress(5, JobState.RUNNING, JOB).with_cancel(BY)
    assert p.cancel_requested and p.cancel_by == BY
    assert p.with_cancel().cancel_by == BY  # a later write that carries the cancel keeps who asked
    assert Progress.from_json(p.to_json()) == p
    assert Progress.from_json({k: v for k, v in p.to_json().items() if k != "cancel_by"}).cancel_by is None  # older rows


def test_a_cancelled_event_names_who_asked_and_older_events_still_decode():
    event = transitions.cancelled(JOB, JOB, 3, None, "cancelled by request", None, NOW, BY)
    assert decode_event(encode(event)).by == BY
    older = encode(transitions.cancelled(JOB, JOB, 3, None, "cancelled by request", None, NOW)).replace(
        b',"by":null', b"")
    assert b'"by"' not in older and decode_event(older).by is None
