"""The fair queue of the in-flight budget: weighted lanes, high never behind a low backlog, low never starved."""

from __future__ import annotations

from collections import Counter

from agents.lanes import STAGE_RANK, FairQueue
from streams.payloads import Stage
from streams.topics import Lane


def fill(q: FairQueue, lane: Lane, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        q.put(lane, f"{lane.value}-{i}", (lane, i))


def test_backlogs_in_every_lane_share_starts_four_two_one():
    q = FairQueue()
    for lane in Lane:
        fill(q, lane, 100)
    picked = Counter(q.take()[0] for _ in range(70))
    assert picked == {Lane.HIGH: 40, Lane.NORMAL: 20, Lane.LOW: 10}


def test_a_high_job_arriving_behind_a_low_backlog_starts_next():
    q = FairQueue()
    fill(q, Lane.LOW, 1000)
    for _ in range(10):
        q.take()
    q.put(Lane.HIGH, "urgent", (Lane.HIGH, 0))
    assert q.take() == (Lane.HIGH, 0)


def test_low_is_never_starved_by_a_steady_high_stream():
    q = FairQueue()
    fill(q, Lane.LOW, 5)
    fill(q, Lane.HIGH, 10_000)
    first_low = next(i for i in range(100) if q.take()[0] is Lane.LOW)
    assert first_low < 5


def test_within_a_lane_oldest_first():
    q = FairQueue()
    fill(q, Lane.NORMAL, 5)
    assert [q.take()[1] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert q.take() is None and len(q) == 0


def test_a_busy_job_waits_and_its_requests_keep_their_order():
    q = FairQueue()
    q.put(Lane.NORMAL, "job-a", "a1")
    q.put(Lane.NORMAL, "job-b", "b1")
    q.put(Lane.NORMAL, "job-a", "a2")
    assert q.take(busy={"job-a"}) == "b1"
    assert q.take(busy={"job-a", "job-b"}) is None
    assert q.take(busy=set()) == "a1"
    assert q.take(busy=set()) == "a2"


def test_drop_removes_the_work_of_revoked_partitions():
    q = FairQueue()
    fill(q, Lane.HIGH, 3)
    fill(q, Lane.LOW, 3)
    dropped = q.drop(lambda item: item[0] is Lane.HIGH)
    assert len(dropped) == 3 and len(q) == 3
    assert {q.take()[0] for _ in range(3)} == {Lane.HIGH}


def test_within_a_lane_later_stages_start_before_a_backlog_of_first_stages():
    q = FairQueue()
    for i in range(100):
        q.put(Lane.NORMAL, f"new-{i}", ("research", i), rank=STAGE_RANK[Stage.RESEARCH])
    q.put(Lane.NORMAL, "job-x", ("draft", 0), rank=STAGE_RANK[Stage.DRAFT])
    q.put(Lane.NORMAL, "job-y", ("outline", 0), rank=STAGE_RANK[Stage.OUTLINE])
    q.put(Lane.NORMAL, "job-z", ("complete", 0), rank=STAGE_RANK[Stage.COMPLETE])
    assert [q.take()[0] for _ in range(4)] == ["complete", "draft", "outline", "research"]
    assert q.waiting(Lane.NORMAL, STAGE_RANK[Stage.RESEARCH]) == 99


def test_a_busy_later_stage_lets_the_earlier_ones_start_and_lanes_keep_their_shares():
    q = FairQueue()
    q.put(Lane.LOW, "job-a", ("qa", 0), rank=STAGE_RANK[Stage.QA])
    q.put(Lane.LOW, "job-b", ("research", 0), rank=0)
    assert q.take(busy={"job-a"}) == ("research", 0)
    for lane in Lane:
        for i in range(100):
            q.put(lane, f"{lane.value}-{i}", (lane, i), rank=i % 3)
    picked = Counter(q.take()[0] for _ in range(70))
    assert picked == {Lane.HIGH: 40, Lane.NORMAL: 20, Lane.LOW: 9, "qa": 1}
