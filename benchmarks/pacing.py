"""Time from a pacing trigger to the last generated piece, for a user with 20 documents and 10 meetings (offline provider).

Runs the real worker, projector and API as child processes on the configured cluster and database
(PLANPERFECT_KAFKA_BOOTSTRAP / PLANPERFECT_DATABASE_URL), or on the local stack when neither is set,
under a topic prefix of its own. Usage: python benchmarks/pacing.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp

from planperfect.api_key import auth_headers
from planperfect.cli import prepare
from planperfect.pacing_demo import _get, _post, wait_for_analysis, wait_for_context, wait_for_generations
from planperfect.pacing_samples import sample_documents, sample_meetings
from planperfect.processes import ROLES, child_env, spawn, stop_children
from planperfect.settings import Settings

DOCUMENTS, MEETINGS = 20, 10
TIME_ZONE = "America/New_York"


async def one_run(base: str, http: aiohttp.ClientSession, run: int) -> tuple[float, float, int]:
    """(seconds from trigger to last piece as the client saw it, same from the events' own times, pieces)."""
    user = f"bench-{run}-{uuid.uuid4().hex[:6]}"
    today = datetime.now(ZoneInfo(TIME_ZONE)).date()
    await _post(http, f"{base}/v1/pacing/schedules", {"user_id": user, "time_zone": TIME_ZONE, "window_days": 30})
    for doc in sample_documents(DOCUMENTS):
        await _post(http, f"{base}/v1/users/{user}/knowledge", doc)
    for meeting in sample_meetings(today, MEETINGS):
        await _post(http, f"{base}/v1/users/{user}/meetings", meeting)
    deadline = time.monotonic() + 180
    await wait_for_context(base, http, user, DOCUMENTS, MEETINGS, deadline)
    t0 = time.monotonic()
    accepted = await _post(http, f"{base}/v1/pacing/trigger", {"user_id": user})
    analysis = await wait_for_analysis(base, http, accepted["analysis_id"], deadline)
    pieces = await wait_for_generations(base, http, user, analysis, deadline)
    seen = time.monotonic() - t0
    fresh = await _get(http, f"{base}/v1/pacing/analyses/{accepted['analysis_id']}")
    last = max(datetime.fromisoformat(p["completed_at"]) for p in pieces)
    logged = (last - datetime.fromisoformat(fresh["requested_at"])).total_seconds()
    return seen, logged, len(pieces)


async def measure(settings: Settings, runs: int) -> None:
    base = f"http://{settings.api_host}:{settings.api_port}"
    async with aiohttp.ClientSession(headers=auth_headers(settings)) as http:  # the operator key prepare() made
        deadline = time.monotonic() + 90
        while True:
            try:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not become ready")
            await asyncio.sleep(0.2)
        results = [await one_run(base, http, i) for i in range(runs)]
    for i, (seen, logged, n) in enumerate(results, start=1):
        print(f"run {i}: trigger -> last generation {seen:.2f}s as polled ({logged:.2f}s by event times), {n} pieces")
    print(f"median trigger -> last generation: {statistics.median(r[0] for r in results):.2f}s "
          f"({DOCUMENTS} documents, {MEETINGS} meetings, offline provider)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--api-port", type=int, default=18181)
    args = parser.parse_args()
    settings = Settings(topic_prefix=f"bench{uuid.uuid4().hex[:8]}.", api_port=args.api_port)
    prepare(settings, quiet=True)
    log_dir = settings.data_dir / "logs" / "bench"
    children = [spawn(role, child_env(settings), log_dir) for role in ROLES]
    try:
        asyncio.run(measure(settings, args.runs))
    finally:
        stop_children(children)


if __name__ == "__main__":
    main()
