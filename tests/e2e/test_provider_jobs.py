"""Model providers under real worker, projector and API processes: a job that picks an allowed provider and model
is written by that vendor (the configured one sees none of its calls), and cancelling a job while its draft call
is held open at the vendor hangs that connection up and ends the job cancelled, not dead-lettered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from tests.e2e.conftest import running_system
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.scripted_model import scripted_model
from tests.fakes.wiring import SECRET
from tests.support import eventually

PICKED = {"title": "Rainwater Harvesting for Allotments", "keywords": ["rain barrel", "water butt"],
          "word_count": 500, "provider": "openai", "model": "gpt-4o-mini"}
HELD = {"title": "Keeping Chickens in a Small Yard", "keywords": ["chicken coop"], "word_count": 500}


def mentions(recorded_body: dict, title: str) -> bool:
    return title in json.dumps(recorded_body)


async def test_a_picked_provider_writes_its_job_and_a_cancel_hangs_up_the_held_call(infra, database, prefix,
                                                                                   tmp_path: Path) -> None:
    anthropic = FakeAnthropic(api_key=SECRET, model=scripted_model, models=("claude-haiku-4-5", "claude-sonnet-4-5"))
    openai = FakeOpenAI(api_key=SECRET, model=scripted_model, models=("gpt-4o-mini",))
    # Only the held job's draft call waits, until its client hangs up.
    anthropic.hold_if = lambda system, conversation: ("drafting stage" in system
                                                      and HELD["title"] in conversation[0]["content"])
    env = {"PLANPERFECT_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": SECRET,
           "ANTHROPIC_BASE_URL": await anthropic.start(), "OPENAI_API_KEY": SECRET,
           "OPENAI_BASE_URL": f"{await openai.start()}/v1", "PLANPERFECT_PROVIDER_ALLOW": "openai:gpt-4o-mini"}
    try:
        # Ready means the API's provider check asked both fakes for their models, as the worker did at start.
        async with running_system(infra, database, prefix, tmp_path, **env) as system, \
                aiohttp.ClientSession(base_url=system.base_url) as http:
            picked = await submit(http, PICKED)
            held = await submit(http, HELD)

            async def picked_done() -> bool:
                return await status_of(http, picked) == "completed"

            await eventually(picked_done, timeout=90, what="the job that picked openai to complete")
            calls = [r for r in openai.calls("/v1/chat/completions") if mentions(r.body, PICKED["title"])]
            assert len(calls) >= 3 and {r.body["model"] for r in calls} == {"gpt-4o-mini"}  # research, outline, draft
            assert not [r for r in anthropic.requests if r.body and mentions(r.body, PICKED["title"])]
            assert openai.violations == [] and anthropic.violations == []

            async def draft_held() -> bool:
                return any(mentions(r.body, HELD["title"]) and "drafting stage" in json.dumps(r.body["system"])
                           for r in anthropic.calls("/v1/messages"))

            await eventually(draft_held, timeout=90, what="the held job's draft call to reach the vendor")
            async with http.post(f"/v1/jobs/{held}/cancel") as resp:
                assert resp.status == 202, await resp.text()
            await asyncio.wait_for(anthropic.disconnected.wait(), timeout=15)  # the worker hung up the call

            async def held_ended() -> str | None:
                status = await status_of(http, held)
                return status if status in ("cancelled", "dead_lettered", "completed") else None

            assert await eventually(held_ended, timeout=30, what="the held job to end") == "cancelled"
            async with http.get("/v1/dlq", params={"job_id": held}) as resp:
                assert (await resp.json())["dead_letters"] == []
    finally:
        await anthropic.stop()
        await openai.stop()


async def submit(http: aiohttp.ClientSession, payload: dict) -> str:
    async with http.post("/v1/jobs", json={"job_type": "article", "payload": payload}) as resp:
        assert resp.status == 202, await resp.text()
        return (await resp.json())["job_id"]


async def status_of(http: aiohttp.ClientSession, job_id: str) -> str:
    async with http.get(f"/v1/jobs/{job_id}") as resp:
        return (await resp.json())["status"]
