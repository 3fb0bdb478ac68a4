"""The client-side limiter, measured where it matters: at the vendor, under concurrent stages."""

from __future__ import annotations

import asyncio

from agents.providers.limiter import Limiter, Limits
from streams.payloads import Brief
from tests.fakes.secret_scan import no_key_in_any_log  # noqa: F401  (autouse: scans every log line)
from tests.fakes.wiring import wired

# Seconds: a request reaches the fake a little after the limiter lets it go, more so on a loaded machine.
ARRIVAL_JITTER = 0.25


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times))


async def test_requests_never_exceed_the_limit_in_any_window() -> None:
    limit, window, calls = 3, 1.5, 8
    limiter = Limiter(Limits(concurrency=4, requests=limit, window_seconds=window))
    async with wired("openai", limiter=limiter) as w:
        # The SDK's first request does one-off work (platform headers, lazy imports) after the limiter let it go;
        # one call first, so that what the fake measures is the limiter and not that.
        await w.provider.research(Brief(title="Warm-up call", keywords=["window box"], word_count=300))
        w.fake.requests.clear()
        briefs = [Brief(title=f"Window boxes, part {i}", keywords=["window box"], word_count=300) for i in range(calls)]
        await asyncio.gather(*(w.provider.research(b) for b in briefs))
        arrivals = [r.at for r in w.fake.calls("/v1/chat/completions")]
    assert len(arrivals) == calls
    assert most_in_any_window(arrivals, window - ARRIVAL_JITTER) == limit
    span = max(arrivals) - min(arrivals)
    assert span >= (calls - 1) // limit * window - ARRIVAL_JITTER
    print(f"\n{calls} calls against {limit} per {window}s: at most {limit} in any window, over {span:.2f}s")


async def test_concurrency_is_capped_across_stages() -> None:
    limiter = Limiter(Limits(concurrency=2))
    async with wired("anthropic", limiter=limiter) as w:
        in_flight, peak = 0, 0
        answer = w.fake.model

        async def counting(system: str, conversation: list[dict[str, str]]) -> str:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await asyncio.sleep(0.05)  # a model that takes a while, so that calls overlap
                return await answer(system, conversation)
            finally:
                in_flight -= 1

        w.fake.model = counting
        briefs = [Brief(title=f"Herb spirals, part {i}", keywords=["herb spiral"], word_count=300) for i in range(5)]
        await asyncio.gather(*(w.provider.research(b) for b in briefs))
    assert peak == 2
