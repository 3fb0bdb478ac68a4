"""The offset rules that replace faust-streaming's: a commit never passes a message that was not processed."""

from __future__ import annotations

import faust.transport.consumer as faust_consumer
import pytest

from streams import faust_fixes
from streams.faust_fixes import counts_as_processed, next_commit


@pytest.mark.parametrize(
    "acked, committed, in_flight, expected",
    [
        ([5, 6, 7], 5, None, 8),            # the plain case
        ([5, 6, 9], 5, None, 7),            # stops at the first hole
        ([], 5, None, None),
        ([6, 7], 5, 5, None),               # 5 is still running: nothing may be committed (Faust committed 8)
        ([1, 2], None, 0, None),            # no commit yet and offset 0 still running (Faust committed 3)
        ([0, 1, 2, 3], None, 2, 2),         # 2 running while 3 finished first: commit up to 2 only
        ([9, 10], 5, None, None),           # a gap Faust does not know about: wait, as Faust does
        ([3, 4, 5], 3, 10, 6),              # in-flight beyond the run does not hold it back
    ],
)
def test_next_commit(acked, committed, in_flight, expected):
    assert next_commit(acked, committed, in_flight) == expected


def test_an_ack_counts_only_for_a_message_processed_in_the_current_generation_with_flow_active():
    assert counts_as_processed(3, 3, True)
    assert not counts_as_processed(2, 3, True)   # fetched before the rebalance: it is fetched again
    assert not counts_as_processed(3, 3, False)  # skipped by a suspended flow, not processed


def test_install_patches_fausts_consumer_once():
    faust_fixes.install()
    faust_fixes.install()
    assert faust_consumer.Consumer.ack is faust_fixes._ack
    assert faust_consumer.Consumer._filter_committable_offsets is faust_fixes._filter_committable_offsets
    assert faust_fixes._original_ack is not faust_fixes._ack


async def test_resuming_running_flow_keeps_what_the_channels_hold():
    from mode.utils.queues import FlowControlEvent, FlowControlQueue

    faust_fixes.install()
    flow = FlowControlEvent(initially_suspended=False)
    queue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    queue.put_nowait("fetched after the seek")
    flow.resume()  # recovery's last resume, flow already running
    assert queue.qsize() == 1
    flow.suspend()
    flow.resume()  # after a real suspension the held messages are stale and go
    assert queue.qsize() == 0
