"""The intake's token buckets, on a clock the test moves."""

from __future__ import annotations

from api.ratelimit import TokenBuckets, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_each_key_has_its_own_bucket():
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [None, None, None]
    wait = buckets.take("a")
    assert wait is not None and abs(wait - 0.5) < 1e-9  # one token comes back in 1/rate s
    assert buckets.take("b") is None  # another key is not held back by the first
    clock.now += 0.5
    assert buckets.take("a") is None
    assert buckets.take("a") is not None
    clock.now += 60  # a long pause refills up to the burst, not beyond
    assert [buckets.take("a") for _ in range(4)][-1] is not None


def test_a_refused_request_costs_no_token_and_zero_rate_is_no_limit():
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") is None
    for _ in range(5):
        assert buckets.take("a") is not None
    clock.now += 1.0
    assert buckets.take("a") is None
    off = TokenBuckets(rate=0, burst=0, clock=clock)
    assert all(off.take("a") is None for _ in range(1000))
    assert (retry_after(0.01), retry_after(1.0), retry_after(1.2)) == ("1", "1", "2")


def test_retry_after_is_the_wait_for_one_token_rounded_up_to_whole_seconds():
    clock = Clock()
    buckets = TokenBuckets(rate=0.25, burst=1, clock=clock)  # a token every 4 s
    assert buckets.take("a") is None
    assert retry_after(buckets.take("a")) == "4"
    clock.now += 3.5
    assert retry_after(buckets.take("a")) == "1"  # 0.5 s left: never "0", which would invite a retry now
    clock.now += 0.5
    assert buckets.take("a") is None


def test_idle_buckets_are_dropped_and_a_dropped_key_starts_full():
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=4, clock=clock)  # an empty bucket is full again after 2 s
    for key in "abc":
        assert buckets.take(key) is None
    clock.now += 1.0
    assert buckets.take("a") is None
    assert len(buckets) == 3  # b and c idle for 1 s only: kept
    clock.now += 1.0
    assert buckets.take("d") is None
    assert len(buckets) == 2  # b and c idle for 2 s are full by now: dropped; a and d kept
    takes = [buckets.take("b") for _ in range(5)]
    assert takes[:4] == [None] * 4 and takes[4] is not None
    for i in range(10_000):  # many keys, each submitting once: memory follows the recent ones, not all
        buckets.take(f"k{i}")
        clock.now += 0.01
    assert len(buckets) <= 201
