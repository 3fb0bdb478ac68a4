"""The offset tracker: a commit never passes a message still in flight, whatever order work finishes in."""

from __future__ import annotations

import random

import pytest

from agents.offsets import OffsetTracker


def test_nothing_received_nothing_to_commit():
    t = OffsetTracker()
    assert t.committable() is None and t.to_commit() is None and t.next_offset is None


def test_commit_stops_at_the_first_message_in_flight():
    t = OffsetTracker()
    for o in range(10, 15):
        t.received(o)
    assert t.committable() == 10
    t.done(12)
    t.done(13)
    assert t.committable() == 10, "12 and 13 are done but 10 and 11 still run"
    t.done(10)
    assert t.committable() == 11
    t.done(11)
    assert t.committable() == 14
    t.done(14)
    assert t.committable() == 15 and t.in_flight == 0


def test_gaps_in_offsets_are_fine():
    # Compacted logs and transaction markers leave gaps: the tracker only knows what it received.
    t = OffsetTracker()
    for o in (3, 7, 8):
        t.received(o)
    t.done(7)
    assert t.committable() == 3
    t.done(3)
    assert t.committable() == 8
    t.done(8)
    assert t.committable() == 9


def test_to_commit_reports_only_progress():
    t = OffsetTracker()
    t.received(0)
    t.received(1)
    t.done(0)
    assert t.to_commit() == 1
    assert t.to_commit() is None, "nothing moved since"
    t.done(1)
    assert t.to_commit() == 2


def test_a_message_from_before_the_last_is_refused():
    t = OffsetTracker()
    t.received(5)
    with pytest.raises(ValueError):
        t.received(5)


@pytest.mark.parametrize("seed", range(20))
def test_random_completion_order_never_commits_past_in_flight(seed):
    rng = random.Random(seed)
    t = OffsetTracker()
    offsets = sorted(rng.sample(range(500), 120))
    in_flight: set[int] = set()
    pending = list(offsets)
    while pending or in_flight:
        if pending and (not in_flight or rng.random() < 0.5):
            o = pending.pop(0)
            t.received(o)
            in_flight.add(o)
        else:
            o = rng.choice(sorted(in_flight))
            in_flight.discard(o)
            t.done(o)
        c = t.committable()
        assert c is not None
        assert all(o >= c for o in in_flight), (c, sorted(in_flight)[:5])
        assert t.in_flight == len(in_flight)
    assert t.committable() == offsets[-1] + 1
