"""Corrections to faust-streaming's offset bookkeeping, so a committed offset never passes a message no agent processed.

Found by the SIGKILL chaos test (tests/e2e/test_chaos.py), which stalled or lost jobs without them:

1. During a rebalance Faust's streams *skip* the messages they still hold (flow suspended, or fetched under the
   previous generation) and ack them as if processed. Once the partition is assigned again those acks advance
   the committed offset past messages that never ran, so the job waits forever. Here an ack only counts when
   the message was fetched in the current generation and flow is active; anything else is delivered again
   after the rebalance's seek to the committed offset (at least once; the per-job guard drops the repeat).
2. With agent concurrency above one, acks arrive out of order. Faust commits the run of consecutive acked
   offsets even when an earlier message is still being processed (its check is off by one, and skipped
   entirely while the partition has no committed offset yet), so a crash then loses that message. Here the
   commit never goes past the lowest offset still in flight.
3. `flow_control.resume()` empties every channel queue, and recovery calls it again *after* its final seek to
   the committed offsets, while flow is already running: messages fetched after the seek are thrown away and
   the fetch position has moved past them, so they are not seen again until the worker restarts (the job
   waits with the request sitting on its topic). Here resuming clears the queues only when flow was really
   suspended (what the clearing is for: messages held from before a rebalance).

Applied once per process by `install()`; the logic itself is in the pure functions below (unit-tested).
"""

from __future__ import annotations

from typing import Iterable

from faust.transport import consumer as faust_consumer
from mode.utils.queues import FlowControlEvent


def counts_as_processed(message_generation: int | None, current_generation: int | None, flow_active: bool) -> bool:
    """Whether an ack marks a message done: fetched in this generation, and not skipped by a suspended flow."""
    return flow_active and message_generation == current_generation


def next_commit(acked_sorted: list[int], committed: int | None, in_flight_low: int | None) -> int | None:
    """The offset to commit: the end of the consecutive run of acked offsets, never past a message still in
    flight, and nothing when the next offset after the committed one is not acked yet."""
    if not acked_sorted:
        return None
    if committed is not None and acked_sorted[0] > committed + 1:
        return None  # Faust's own gap rule (gaps from compaction are filled in before this is called)
    end = acked_sorted[0]
    for offset in acked_sorted[1:]:
        if offset != end + 1:
            break
        end = offset
    if in_flight_low is not None:
        end = min(end, in_flight_low - 1)
    if end < acked_sorted[0]:
        return None
    return end + 1


def _lowest_in_flight(consumer) -> dict:
    """Lowest offset per partition among messages an agent has taken but not acked, in this generation."""
    generation = consumer.app.consumer_generation_id
    low: dict = {}
    for message in list(consumer._unacked_messages):
        if message.acked or message.generation_id != generation:
            continue
        current = low.get(message.tp)
        if current is None or message.offset < current:
            low[message.tp] = message.offset
    return low


def _ack(self, message) -> bool:
    app = self.app
    if counts_as_processed(message.generation_id, app.consumer_generation_id, app.flow_control.is_active()):
        return _original_ack(self, message)
    if not message.acked:  # done with, but not processed: leave its offset uncommitted
        message.acked = True
        self._unacked_messages.discard(message)
        faust_consumer.notify(self._waiting_for_ack)
    return False


def _new_offset(self, tp, in_flight_low: int | None = None) -> int | None:
    acked = self._acked[tp]
    if not acked:
        return None
    gaps = self._gap[tp]
    if gaps:  # offsets that do not exist (compaction, markers) count as acked, as in Faust
        max_offset = max(acked)
        candidates = sorted(gaps.overlap(0, max_offset), key=lambda x: x.begin)
        if candidates:
            filled = [o for entry in candidates for o in range(entry.begin, entry.end)]
            acked.extend(filled)
            gaps.chop(0, max(filled[-1], max_offset + 1))
    acked.sort()
    offset = next_commit(acked, self._committed_offset[tp], in_flight_low)
    if offset is None:
        return None
    done = [o for o in acked if o < offset]
    acked[: len(done)] = []
    self._acked_index[tp].difference_update(done)
    return offset


def _filter_committable_offsets(self, tps: Iterable) -> dict:
    low = _lowest_in_flight(self)
    offsets = {}
    for tp in tps:
        offset = _new_offset(self, tp, low.get(tp))
        if offset is not None and self._should_commit(tp, offset):
            offsets[tp] = offset
    return offsets


def _resume(self) -> None:
    was_suspended = self._suspend.is_set()
    self._suspend.clear()
    self._resume.set()
    if was_suspended:
        self.clear()


_original_ack = faust_consumer.Consumer.ack


def install() -> None:
    """Patch Faust's base Consumer and mode's flow control (idempotent)."""
    FlowControlEvent.resume = _resume
    cls = faust_consumer.Consumer
    if getattr(cls, "_planperfect_fixed", False):
        return
    cls.ack = _ack
    cls._new_offset = _new_offset
    cls._filter_committable_offsets = _filter_committable_offsets
    cls._planperfect_fixed = True
