"""The demo's pacing part: a sample user with documents and meeting notes, one trigger, the pieces written from them."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp

from planperfect.pacing_samples import sample_documents, sample_meetings

TIME_ZONE = "Europe/Berlin"


class PacingDemoError(RuntimeError):
    """The API refused a request or the deadline passed; the message says which."""


async def pacing_demo(base_url: str, http: aiohttp.ClientSession, *, timeout: float = 120.0) -> None:
    """Create a sample user, add their context, trigger today's analysis and print the generated posts."""
    user = f"demo-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    today = datetime.now(ZoneInfo(TIME_ZONE)).date()
    docs, meetings = sample_documents(), sample_meetings(today)
    print(f"pacing: user {user} ({TIME_ZONE}), {len(docs)} documents and {len(meetings)} meetings")
    schedule = await _post(http, f"{base_url}/v1/pacing/schedules",
                           {"user_id": user, "time_zone": TIME_ZONE, "local_times": ["09:00", "18:00"]})
    for doc in docs:
        await _post(http, f"{base_url}/v1/users/{user}/knowledge", doc)
    for meeting in meetings:
        await _post(http, f"{base_url}/v1/users/{user}/meetings", meeting)
    await wait_for_context(base_url, http, user, len(docs), len(meetings), deadline)
    t0 = time.monotonic()
    accepted = await _post(http, f"{base_url}/v1/pacing/trigger",
                           {"user_id": user, "schedule_id": schedule["schedule"]["schedule_id"]})
    analysis = await wait_for_analysis(base_url, http, accepted["analysis_id"], deadline)
    generations = await wait_for_generations(base_url, http, user, analysis, deadline)
    print(f"pacing: analysis {analysis['analysis_id']} ({analysis['outcome']}) and {len(generations)} pieces "
          f"in {time.monotonic() - t0:.1f}s after the trigger")
    for topic in (analysis["topics"] or [])[:5]:
        print(f"  topic: {topic['phrase']} (score {topic['score']}, {topic['occurrences']} mentions)")
    for g in sorted(generations, key=lambda g: g["position"]):
        cited = len(g["metadata"]["cited_chunk_ids"])
        print(f"\n=== {g['content_type']} · {g['topic']} · {g['title']} ({cited} sources cited)\n")
        print(g["body"])


async def _post(http: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with http.post(url, json=body) as resp:
        answer = await resp.json()
        if resp.status >= 400:
            raise PacingDemoError(f"POST {url} answered {resp.status}: {answer}")
        return answer


async def _get(http: aiohttp.ClientSession, url: str) -> dict:
    async with http.get(url) as resp:
        answer = await resp.json()
        if resp.status >= 400:
            raise PacingDemoError(f"GET {url} answered {resp.status}: {answer}")
        return answer


async def _until(probe, deadline: float, what: str):
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise PacingDemoError(f"pacing demo: {what} did not happen in time")
        await asyncio.sleep(0.2)  # poll interval of a deadline-bound wait


async def wait_for_context(base_url: str, http: aiohttp.ClientSession, user: str, docs: int, meetings: int,
                           deadline: float, *, schedules: int = 1) -> None:
    """Until the projector has folded the user's schedules, documents and meetings into PostgreSQL."""

    async def projected():
        s = await _get(http, f"{base_url}/v1/pacing/schedules?user_id={user}")
        k = await _get(http, f"{base_url}/v1/users/{user}/knowledge?limit=1000")
        m = await _get(http, f"{base_url}/v1/users/{user}/meetings?limit=1000")
        return len(s["schedules"]) >= schedules and len(k["documents"]) >= docs and len(m["meetings"]) >= meetings

    await _until(projected, deadline, "projection of the user's context")


async def wait_for_analysis(base_url: str, http: aiohttp.ClientSession, analysis_id: str, deadline: float) -> dict:
    async def finished():
        async with http.get(f"{base_url}/v1/pacing/analyses/{analysis_id}") as resp:
            if resp.status != 200:
                return None
            a = await resp.json()
        if a["status"] in ("dead_lettered", "cancelled"):
            raise PacingDemoError(f"analysis {analysis_id} is {a['status']}: {a['error']}")
        return a if a["status"] == "completed" else None

    return await _until(finished, deadline, f"analysis {analysis_id}")


async def wait_for_generations(base_url: str, http: aiohttp.ClientSession, user: str, analysis: dict,
                               deadline: float) -> list[dict]:
    """Until every suggestion of the analysis has its piece written (none when there was nothing to suggest)."""
    wanted = len(analysis["content_suggestions"] or [])

    async def written():
        g = await _get(http, f"{base_url}/v1/pacing/generations?user_id={user}&analysis_id={analysis['analysis_id']}")
        failed = [x for x in g["generations"] if x["status"] in ("dead_lettered", "cancelled")]
        if failed:
            raise PacingDemoError(f"generation {failed[0]['generation_id']} is {failed[0]['status']}: {failed[0]['error']}")
        done = [x for x in g["generations"] if x["status"] == "completed"]
        return done if len(done) == wanted else None

    if wanted == 0:
        return []
    return await _until(written, deadline, "the generated pieces")
