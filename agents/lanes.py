"""The worker's in-flight budget shared by the priority lanes: weighted, so high never waits behind a low backlog
and low never starves; within a lane, the jobs closest to completion first, so that work in flight completes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Container, Generic, Hashable, TypeVar

from streams.payloads import PIPELINES, Stage
from streams.topics import Lane

T = TypeVar("T")

# Of every 7 starts while all lanes have work waiting: 4 high, 2 normal, 1 low.
LANE_WEIGHTS: dict[Lane, int] = {Lane.HIGH: 4, Lane.NORMAL: 2, Lane.LOW: 1}

# How far into its pipeline a stage is (the furthest of the pipelines it is in): under a backlog of first stages,
# the requests of later stages start first, so the budget completes jobs instead of starting ever more of them.
STAGE_RANK: dict[Stage, int] = {
    stage: max(p.index(stage) for p in PIPELINES.values() if stage in p) for stage in Stage
    if any(stage in p for p in PIPELINES.values())}
RANKS = max(STAGE_RANK.values()) + 1


@dataclass
class FairQueue(Generic[T]):
    """Waiting work per lane and stage rank; `take` picks the lane by smooth weighted round robin over the lanes
    that have work (nginx's algorithm: each lane gains its weight per pick, the richest is served and pays the
    total), within the lane the highest rank that has work, and there the oldest item whose key is not busy (one
    job never runs two attempts at once)."""

    weights: dict[Lane, int] = field(default_factory=lambda: dict(LANE_WEIGHTS))
    queues: dict[Lane, list[deque[tuple[Hashable, T]]]] = field(default_factory=dict)
    credit: dict[Lane, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for lane in self.weights:
            self.queues.setdefault(lane, [deque() for _ in range(RANKS)])
            self.credit.setdefault(lane, 0)

    def put(self, lane: Lane, key: Hashable, item: T, rank: int = 0) -> None:
        self.queues[lane][rank].append((key, item))

    def __len__(self) -> int:
        return sum(len(q) for ranks in self.queues.values() for q in ranks)

    def waiting(self, lane: Lane, rank: int) -> int:
        return len(self.queues[lane][rank])

    def take(self, busy: Container = frozenset()) -> T | None:
        """The next item to start, or None when nothing waiting can start now."""
        ready: dict[Lane, tuple[deque, int]] = {}
        for lane, ranks in self.queues.items():
            for queue in reversed(ranks):
                if queue and (i := _first_free(queue, busy)) is not None:
                    ready[lane] = (queue, i)
                    break
        if not ready:
            return None
        total = sum(self.weights[lane] for lane in ready)
        for lane in ready:
            self.credit[lane] += self.weights[lane]
        lane = max(ready, key=lambda ln: (self.credit[ln], self.weights[ln]))
        self.credit[lane] -= total
        queue, index = ready[lane]
        key_item = queue[index]
        del queue[index]
        return key_item[1]

    def drop(self, keep) -> list[T]:
        """Remove the waiting items for which `keep(item)` is false (their partition went to another worker)."""
        dropped = []
        for ranks in self.queues.values():
            for rank, queue in enumerate(ranks):
                kept = deque()
                for key, item in queue:
                    (kept.append((key, item)) if keep(item) else dropped.append(item))
                ranks[rank] = kept
        return dropped


def _first_free(queue: deque, busy) -> int | None:
    # Usually the head; a job's second request waits while its first runs (rare: bounded look-ahead).
    for i, (key, _) in enumerate(queue):
        if key not in busy:
            return i
        if i >= 64:
            return None
    return None
