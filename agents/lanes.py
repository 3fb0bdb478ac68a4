"""The worker's in-flight budget shared by the priority lanes: weighted, so high never waits behind a low
backlog and low never starves."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Generic, Hashable, TypeVar

from streams.topics import Lane

T = TypeVar("T")

# Of every 7 starts while all lanes have work waiting: 4 high, 2 normal, 1 low.
LANE_WEIGHTS: dict[Lane, int] = {Lane.HIGH: 4, Lane.NORMAL: 2, Lane.LOW: 1}


@dataclass
class FairQueue(Generic[T]):
    """Waiting work per lane; `take` picks the lane by smooth weighted round robin over the lanes that have
    work (nginx's algorithm: each lane gains its weight per pick, the richest is served and pays the total),
    and within a lane the oldest item whose key is not busy (one job never runs two attempts at once)."""

    weights: dict[Lane, int] = field(default_factory=lambda: dict(LANE_WEIGHTS))
    queues: dict[Lane, deque[tuple[Hashable, T]]] = field(default_factory=dict)
    credit: dict[Lane, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for lane in self.weights:
            self.queues.setdefault(lane, deque())
            self.credit.setdefault(lane, 0)

    def put(self, lane: Lane, key: Hashable, item: T) -> None:
        self.queues[lane].append((key, item))

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def take(self, busy: set | frozenset = frozenset()) -> T | None:
        """The next item to start, or None when nothing waiting can start now."""
        ready = {lane: i for lane, q in self.queues.items() if (i := _first_free(q, busy)) is not None}
        if not ready:
            return None
        total = sum(self.weights[lane] for lane in ready)
        for lane in ready:
            self.credit[lane] += self.weights[lane]
        lane = max(ready, key=lambda ln: (self.credit[ln], self.weights[ln]))
        self.credit[lane] -= total
        queue = self.queues[lane]
        index = ready[lane]
        key_item = queue[index]
        del queue[index]
        return key_item[1]

    def drop(self, keep) -> list[T]:
        """Remove the waiting items for which `keep(item)` is false (their partition went to another worker)."""
        dropped = []
        for lane, queue in self.queues.items():
            kept = deque()
            for key, item in queue:
                (kept.append((key, item)) if keep(item) else dropped.append(item))
            self.queues[lane] = kept
        return dropped


def _first_free(queue: deque, busy) -> int | None:
    # Usually the head; a job's second request waits while its first runs (rare: bounded look-ahead).
    for i, (key, _) in enumerate(queue):
        if key not in busy:
            return i
        if i >= 64:
            return None
    return None
