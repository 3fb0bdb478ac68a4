"""Token usage and cost, from the real SDKs through the stage runner, the log and the usage projection to the API:
a full article per vendor summed per job and per day, and a token budget that dead-letters the stage passing it."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from aiohttp.test_utils import TestClient

from agents import transitions
from agents.handlers import run_stage
from agents.progress import MemoryGuard
from agents.providers.usage import UsageLedger, recording
from agents.runner import Emitter, StageRunner
from api.config import ApiConfig
from api.responses import Job, UsageReport
from planperfect.cli_jobs import status_lines
from streams.codec import decode_delay, decode_event, encode
from streams.commands import RequestStage
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import PIPELINES, Brief, JobType
from streams.topics import DELAYS, Topics
from tests.fakes.wiring import wired
from tests.joblog import produce
from tests.support import api_client, project

BRIEF = Brief(title="How to Plan Meals for a Busy Week", keywords=["meal planning", "batch cooking"], word_count=600)


def submitted(token_budget: int | None = None) -> JobSubmitted:
    job_id = uuid.uuid4()
    return JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=datetime.now(timezone.utc),
        correlation_id=job_id, job_type=JobType.ARTICLE, brief=BRIEF, initial_stage=PIPELINES[JobType.ARTICLE][0],
        priority=5, delay_seconds=0, max_attempts=2, retry_delay_seconds=0, visibility_seconds=120,
        token_budget=token_budget)


async def run_job(provider, topics: Topics, sub: JobSubmitted) -> list:
    """The job through the worker's stage runner, each routed request handed straight back to it (a delayed one
    without its wait); returns the job's events in log order."""
    written: list[tuple[str, bytes]] = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        written.append((topic, value))

    runner = StageRunner(emit=Emitter(topics, send), guard=MemoryGuard(), provider=provider, stage_fn=run_stage)
    pending = [transitions.first_request(sub, sub.occurred_at)]
    while pending:
        req = pending.pop()
        seen = len(written)
        await runner.on_request(encode(req), "stage", 0, 0)
        for topic, value in written[seen:]:
            if topic in {topics.delay(tier) for tier in DELAYS}:
                pending.append(decode_delay(value).request)
            elif topic != topics.job_events and topic != topics.dead_letters:
                pending.append(RequestStage.model_validate_json(value))
    return [sub, *(decode_event(v) for t, v in written if t == topics.job_events)]


async def read(client: TestClient, url: str) -> dict:
    resp = await client.get(url)
    assert resp.status == 200, await resp.text()
    return await resp.json()


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_an_articles_usage_is_summed_per_job_and_per_day(vendor: str, infra, prefix, database) -> None:
    topics = Topics(prefix)
    async with wired(vendor) as w:
        events = await run_job(w.provider, topics, sub := submitted())
        requests = len(w.fake.calls("/v1/messages" if vendor == "anthropic" else "/v1/chat/completions"))
    assert events[-1].type == "JobCompleted", [e.type for e in events]
    outcomes = [e for e in events if e.type in ("StageCompleted", "StageFailed")]
    calls = [c for e in outcomes for c in e.usage.calls]
    assert len(calls) == requests >= 3 and all(e.usage.provider == vendor for e in outcomes)
    prices = w.provider.prices
    for c in calls:  # each call costed at the price table's price of its model
        assert c.cost_usd == prices.cost(c.model, c.input_tokens, c.output_tokens, c.cached_tokens) > 0
    tokens_in, tokens_out = sum(c.input_tokens for c in calls), sum(c.output_tokens for c in calls)
    cost = round(sum(c.cost_usd for c in calls), 8)

    await produce(infra.bootstrap, topics.job_events, events)
    await project(infra.bootstrap, database, topics)
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics)
    async with api_client(infra, config, role="reader") as client:
        job = Job.model_validate(await read(client, f"/v1/jobs/{sub.job_id}"))
        day = sub.occurred_at.date().isoformat()
        report = UsageReport.model_validate(await read(client, f"/v1/usage?from={day}&to={day}&group_by=model"))
        bad = await client.get("/v1/usage?from=2026-13-01")
        assert bad.status == 400 and (await bad.json())["error"]["field"] == "from"
        future = await client.get("/v1/usage?from=9999-12-31")  # no `to`: today's, so `from` is at fault
        assert future.status == 400 and (await future.json())["error"]["field"] == "from"
    usage = job.usage
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (len(calls), tokens_in, tokens_out)
    assert usage.cached_tokens == sum(c.cached_tokens for c in calls)
    assert usage.cost_usd == pytest.approx(cost, abs=1e-8) and usage.token_budget is None
    assert {(m.provider, m.model) for m in usage.by_model} == {(vendor, c.model) for c in calls}
    assert sum(m.tokens for m in usage.by_model) == usage.tokens == tokens_in + tokens_out
    assert [d.day.isoformat() for d in report.days] == [day] * len(usage.by_model)
    assert report.total.tokens == usage.tokens and report.total.cost_usd == pytest.approx(cost, abs=1e-8)
    assert any(line.startswith(f"  usage: {len(calls)} calls, {usage.tokens} tokens")
               for line in status_lines(job.model_dump(mode="json")))
    print(f"\n{vendor}: {len(calls)} calls, {tokens_in} input ({usage.cached_tokens} cached) + {tokens_out} output "
          f"tokens, ${cost:.6f} (fake prices)")


async def test_a_job_past_its_token_budget_is_dead_lettered_with_the_reason(infra, prefix, database) -> None:
    topics = Topics(prefix)
    async with wired("anthropic") as w:
        with recording(research := UsageLedger()):  # what the research stage's one call will use
            await w.provider.research(BRIEF)
        budget = research.totals.tokens + 1  # research fits; the outline call passes it
        w.fake.seen_prefixes.clear()  # the same cache state as the measured call: the same token counts
        events = await run_job(w.provider, topics, sub := submitted(token_budget=budget))
    failed = [e for e in events if e.type == "StageFailed"]
    assert [e.type for e in events][-2:] == ["StageFailed", "JobDeadLettered"] and len(failed) == 1
    used = sum(c.input_tokens + c.output_tokens for e in events if hasattr(e, "usage") for c in e.usage.calls)
    reason = f"token budget {budget} exceeded: {used} used"
    assert failed[0].stage.value == "outline" and failed[0].error == reason and not failed[0].retryable
    assert failed[0].error_code == "token_budget_exceeded" and len(failed[0].usage.calls) == 1
    assert events[-1].reason == f"permanent error at attempt 1: {reason}"

    await produce(infra.bootstrap, topics.job_events, events)
    await project(infra.bootstrap, database, topics)
    async with api_client(infra, ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics),
                          role="reader") as client:
        job = await read(client, f"/v1/jobs/{sub.job_id}")
    assert job["status"] == "dead_lettered" and reason in job["last_error"]
    assert job["usage"]["tokens"] == used and job["usage"]["calls"] == 2 and job["usage"]["token_budget"] == budget
