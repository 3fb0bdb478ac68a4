"""A full article through each vendor's real SDK and a fake of its API: every stage, its usage and cost, and no
key in anything logged or raised."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest

from agents.context import StageContext, StageInput
from agents.handlers import run_stage
from agents.providers.usage import UsageLedger
from streams.payloads import PIPELINES, Brief, JobType, Stage, StageOutputs
from tests.fakes.secret_scan import no_key_in_any_log  # noqa: F401  (autouse: scans every log line)
from tests.fakes.wiring import SECRET, VENDORS, Wired, wired

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
BRIEF = Brief(title="How to Plan Meals for a Busy Week", keywords=["meal planning", "batch cooking", "grocery list"],
              domain="greenkitchen.com", word_count=900, author="Ana Silva")


async def run_article(w: Wired, brief: Brief = BRIEF) -> tuple[StageOutputs, dict[Stage, UsageLedger]]:
    outputs, ledgers = StageOutputs(), {}
    for stage in PIPELINES[JobType.ARTICLE]:
        ctx = StageContext(provider=w.provider, clock=lambda: NOW)
        inp = StageInput(job_id=uuid.uuid4(), job_type=JobType.ARTICLE, stage=stage, attempt=1, brief=brief,
                         outputs=outputs)
        outputs = outputs.with_output(stage, await run_stage(inp, ctx))
        ledgers[stage] = ctx.usage
    return outputs, ledgers


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_full_article_through_each_vendor(vendor: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with wired(vendor) as w:
        outputs, ledgers = await run_article(w)
        assert w.fake.violations == []
        assert outputs.qa is not None and outputs.qa.passed, outputs.qa
        assert outputs.complete is not None and outputs.complete.qa_passed
        model_stages = [s for s, ledger in ledgers.items() if ledger.calls]
        assert model_stages == [Stage.RESEARCH, Stage.OUTLINE, Stage.DRAFT, Stage.QA]
        calls = [c for ledger in ledgers.values() for c in ledger.calls]
        assert len(calls) == len(w.fake.calls("/v1/messages" if vendor == "anthropic" else "/v1/chat/completions"))
        assert [c.prompt for c in calls] == ["research.v1", "outline.v1", "draft.v1", "qa.v1"]
        models = w.config.models
        assert [c.model for c in calls] == [models.research, models.outline, models.draft, models.qa]
        assert all(c.input_tokens > 0 and c.output_tokens > 0 for c in calls)
        total_in = sum(c.input_tokens for c in calls)
        total_out = sum(c.output_tokens for c in calls)
        cost = sum(c.cost_usd for c in calls)
        assert cost > 0 or vendor == "openai-compatible"
        print(f"\n{vendor}: {len(calls)} calls, {total_in} input + {total_out} output tokens, "
              f"${cost:.6f} (fake prices)")

        if vendor == "anthropic":  # OpenAI caches only prompts of 1024 tokens or more: these are shorter
            # A second article reuses the stages' system prompts, marked cacheable: read from the cache.
            _, again = await run_article(w, BRIEF.model_copy(update={"title": "Meal Prep Basics for Busy Families"}))
            second = [c for ledger in again.values() for c in ledger.calls]
            assert all(c.cached_tokens > 0 for c in second)
            assert sum(c.cost_usd for c in second) < cost
    assert SECRET not in caplog.text


async def test_a_schema_job_asks_the_cheap_model_for_json_ld() -> None:
    async with wired("anthropic") as w:
        brief = BRIEF.model_copy(update={"schema_type": "HowTo"})
        outputs = StageOutputs()
        for stage in PIPELINES[JobType.SCHEMA]:
            ctx = StageContext(provider=w.provider, clock=lambda: NOW)
            inp = StageInput(job_id=uuid.uuid4(), job_type=JobType.SCHEMA, stage=stage, attempt=1, brief=brief,
                             outputs=outputs)
            outputs = outputs.with_output(stage, await run_stage(inp, ctx))
        assert outputs.qa is not None and outputs.qa.passed
        assert [r.body["model"] for r in w.fake.calls("/v1/messages")] == [w.config.models.research,
                                                                          w.config.models.markup]
