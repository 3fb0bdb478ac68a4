"""A client submitting jobs through the HTTP API at a steady rate, and what the API answered it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

REQUEST_TIMEOUT_S = 15.0
# A job that several kills land on runs several extra attempts: give it room before a dead letter.
MAX_ATTEMPTS = 10


def soak_job(n: int) -> dict:
    return {"job_type": "article", "requester_email": "soak@example.com", "max_attempts": MAX_ATTEMPTS,
            "payload": {"title": f"Soak article {n:06d} on surviving crashes", "keywords": ["resilience"],
                        "word_count": 300}}


@dataclass
class Intake:
    """Every answer to a submission: the accepted job ids (202) in order, and the refusals by kind."""

    accepted: dict[str, float] = field(default_factory=dict)  # job id -> when accepted (monotonic)
    refused_503: list[float] = field(default_factory=list)  # when each 503 came
    unreachable: int = 0  # no answer: the API was killed or restarting
    other: Counter = field(default_factory=Counter)  # any other status: a finding

    async def submit_until(self, base_url: str, rate: float, stop: asyncio.Event) -> None:
        """One request every 1/rate s (one at a time: a slow answer slows the pace) until `stop` is set."""
        interval, n = 1.0 / rate, 0
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            next_at = time.monotonic()
            while not stop.is_set():
                n += 1
                await self.submit_one(http, base_url, n)
                next_at = max(next_at + interval, time.monotonic())
                try:  # the pace of the submissions, not a synchronisation
                    await asyncio.wait_for(stop.wait(), next_at - time.monotonic())
                except TimeoutError:
                    pass

    async def submit_one(self, http: aiohttp.ClientSession, base_url: str, n: int) -> str | None:
        try:
            async with http.post(f"{base_url}/v1/jobs", json=soak_job(n)) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError):
            self.unreachable += 1
            return None
        if status == 202:
            self.accepted[body["job_id"]] = time.monotonic()
            return body["job_id"]
        if status == 503:
            self.refused_503.append(time.monotonic())
        else:
            self.other[status] += 1
        return None

    def refused_during(self, windows: list[tuple[float, float]], slack: float) -> int:
        """503s that came while a dependency was down (or within `slack` s after it came back)."""
        return sum(1 for t in self.refused_503 if any(lo <= t <= hi + slack for lo, hi in windows))
