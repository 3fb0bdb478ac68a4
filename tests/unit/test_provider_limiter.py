"""The provider limiter on an injected clock: requests and tokens per window, settled usage, concurrency."""

from __future__ import annotations

import asyncio

from agents.providers.limiter import Limiter, Limits


class Clock:
    """Time that moves only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(limits: Limits) -> tuple[Limiter, Clock]:
    clock = Clock()
    return Limiter(limits, clock=clock, sleep=clock.sleep), clock


async def starts(lim: Limiter, clock: Clock, tokens: list[int], settle: list[int] | None = None) -> list[float]:
    times = []
    for i, t in enumerate(tokens):
        async with lim.permit(t) as permit:
            times.append(clock.now)
            if settle is not None:
                permit.settle(settle[i])
    return times


async def test_requests_per_window() -> None:
    lim, clock = limiter(Limits(requests=3, window_seconds=60))
    assert await starts(lim, clock, [1] * 7) == [0, 0, 0, 60, 60, 60, 120]


async def test_tokens_per_window() -> None:
    lim, clock = limiter(Limits(tokens=1000, window_seconds=60))
    assert await starts(lim, clock, [400, 400, 400, 400]) == [0, 0, 60, 60]


async def test_settled_usage_replaces_the_estimate() -> None:
    lim, clock = limiter(Limits(tokens=1000, window_seconds=60))
    # estimated at 800 each, the calls used 100: the next ones need not wait
    assert await starts(lim, clock, [800, 800, 800], settle=[100, 100, 100]) == [0, 0, 0]
    lim, clock = limiter(Limits(tokens=1000, window_seconds=60))
    assert await starts(lim, clock, [800, 800, 800]) == [0, 60, 120]


async def test_a_request_larger_than_the_window_waits_for_an_empty_window_instead_of_forever() -> None:
    lim, clock = limiter(Limits(tokens=1000, window_seconds=60))
    assert await starts(lim, clock, [300, 5000]) == [0, 60]


async def test_requests_and_tokens_together_wait_for_the_later_of_both() -> None:
    lim, clock = limiter(Limits(requests=2, tokens=1000, window_seconds=10))
    clock.now = 0
    times = await starts(lim, clock, [100, 800, 100, 100])
    assert times == [0, 0, 10, 10]


async def test_concurrency_slots() -> None:
    lim = Limiter(Limits(concurrency=2))
    entered = asyncio.Event()
    release = asyncio.Event()
    inside = 0

    async def hold() -> None:
        nonlocal inside
        async with lim.permit(1):
            inside += 1
            if inside == 2:
                entered.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(3)]
    await asyncio.wait_for(entered.wait(), timeout=5)
    for _ in range(10):
        await asyncio.sleep(0)  # let the third holder run as far as it can: to the slot it cannot get
    assert inside == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(*holders), timeout=5)
    assert inside == 3


async def test_unlimited_never_waits() -> None:
    lim, clock = limiter(Limits())
    assert await starts(lim, clock, [10**9] * 3) == [0, 0, 0]
