"""`bench intake`: requests/s to POST /v1/jobs on a real `planperfect api` process (each 202 is acks=all)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from planperfect.bench.deployment import deployment
from planperfect.bench.report import Progress, Result, percentile
from planperfect.settings import Settings
from planperfect.stack.ports import free_port


async def wait_ready(base: str, http: aiohttp.ClientSession, check_alive, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        check_alive()
        try:
            async with http.get(f"{base}/readyz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API at {base} was not ready after {timeout:.0f}s")
        await asyncio.sleep(0.1)


def body(n: int) -> dict:
    return {"job_type": "article", "requester_email": "bench@example.com",
            "payload": {"title": f"Intake benchmark article {n:07d}", "keywords": ["queues"], "word_count": 300}}


async def run_intake(base_settings: Settings, *, requests: int, concurrency: int = 64) -> Result:
    result = Result("intake: POST /v1/jobs on one API process")
    async with deployment(base_settings, "intake", api_port=free_port()) as dep:
        dep.start("api")
        base = f"http://127.0.0.1:{dep.settings.api_port}"
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            await wait_ready(base, http, dep.check_alive)
            for n in range(concurrency):  # connections opened and code paths warm before the clock starts
                async with http.post(f"{base}/v1/jobs", json=body(n)) as resp:
                    await resp.read()
            latencies: list[float] = []
            errors = 0
            queue = iter(range(requests))
            progress = Progress("intake", requests)

            async def client() -> None:
                nonlocal errors
                for n in queue:
                    t = time.perf_counter()
                    async with http.post(f"{base}/v1/jobs", json=body(n)) as resp:
                        await resp.read()
                        errors += resp.status != 202
                    latencies.append((time.perf_counter() - t) * 1000)
                    progress.update(len(latencies))

            began = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            elapsed = time.perf_counter() - began
            progress.close()
    result.add("requests_per_s", f"requests/s ({requests:,} requests, {concurrency} concurrent)",
               requests / elapsed, "req/s", f"{errors} not answered 202" if errors else "")
    result.add("p50_ms", "request latency p50", percentile(latencies, 0.5), "ms")
    result.add("p99_ms", "request latency p99", percentile(latencies, 0.99), "ms")
    result.notes.append("the client runs on the same machine and takes part of its CPU")
    return result
