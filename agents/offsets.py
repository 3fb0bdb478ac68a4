"""Offset bookkeeping of one partition: what was received, what is done, and how far a commit may go."""

from __future__ import annotations

from collections import deque


class OffsetTracker:
    """Messages of one partition are received in offset order and finish in any order; the committable
    offset is the first received message not yet done (or one past the last received), so a commit never
    passes a message whose work is still in flight, whatever the concurrency."""

    def __init__(self) -> None:
        self._pending: deque[int] = deque()  # received, in offset order; the head may be done already
        self._done: set[int] = set()
        self._last: int | None = None
        self.committed: int | None = None  # the last offset handed to a commit

    def received(self, offset: int) -> None:
        if self._last is not None and offset <= self._last:
            raise ValueError(f"offset {offset} received after {self._last}: a partition's messages come in order")
        self._last = offset
        self._pending.append(offset)

    def done(self, offset: int) -> None:
        """The message's work is finished (processed, dropped as a duplicate, or dead-lettered)."""
        if self._pending and self._pending[0] == offset:
            self._pending.popleft()
            while self._pending and self._pending[0] in self._done:
                self._done.discard(self._pending.popleft())
        elif self._last is not None and offset <= self._last:
            self._done.add(offset)

    @property
    def next_offset(self) -> int | None:
        """The offset after the last one received (None before any)."""
        return None if self._last is None else self._last + 1

    @property
    def in_flight(self) -> int:
        return len(self._pending) - len(self._done)

    def committable(self) -> int | None:
        """The next offset to consume after a restart: nothing before it is still in flight; None before
        anything was received."""
        if self._pending:
            return self._pending[0]
        return None if self._last is None else self._last + 1

    def to_commit(self) -> int | None:
        """The committable offset when it moved since the last commit (which it records), else None."""
        offset = self.committable()
        if offset is None or offset == self.committed:
            return None
        self.committed = offset
        return offset
