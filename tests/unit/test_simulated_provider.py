"""The simulated provider: latency drawn as configured, and answers every stage (and QA) accepts."""

from __future__ import annotations

import random
import statistics
import uuid
from datetime import date, datetime, timezone

import pytest

from agents.context import StageContext, StageInput
from agents.handlers import run_stage
from agents.providers.simulated import Latency, SimulatedProvider
from streams.pacing_payloads import ContentType, PacingBrief
from streams.payloads import PIPELINES, Brief, JobType, SchemaType, StageOutputs
from tests.pacing_support import MemoryContextStore, sample_chunks

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)
TODAY = date(2026, 3, 10)


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[int(q * (len(values) - 1))]


def test_latency_median_and_p99_are_as_set_over_many_draws():
    rng = random.Random(11)
    latency = Latency(median_ms=2000, p99_ms=6000)
    draws = [latency.draw_ms(rng) for _ in range(50_000)]
    assert 1900 < statistics.median(draws) < 2100
    assert 5600 < quantile(draws, 0.99) < 6400
    assert min(draws) > 0


def test_no_spread_means_every_call_takes_the_median_and_zero_means_no_wait():
    rng = random.Random(1)
    assert {Latency(median_ms=40).draw_ms(rng) for _ in range(100)} == {40.0}
    assert {Latency(median_ms=40, p99_ms=30).draw_ms(rng) for _ in range(100)} == {40.0}
    assert Latency().draw_ms(rng) == 0.0


async def test_calls_wait_the_drawn_latency_and_count_tokens():
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    provider = SimulatedProvider(Latency(median_ms=100, p99_ms=300), seed=3, sleep=record)
    brief = Brief(title="Queues for busy teams", keywords=["kafka"], word_count=300)
    notes = await provider.research(brief)
    await provider.outline(brief, notes)
    assert len(waits) == 2 and all(w > 0 for w in waits)
    assert provider.usage.calls == 2
    assert provider.usage.per_call == {"research": 1, "outline": 1}
    assert provider.usage.input_tokens > 0 and provider.usage.output_tokens > 0
    assert provider.usage.waited_ms == pytest.approx(sum(waits) * 1000)


async def test_zero_latency_never_sleeps():
    async def forbidden(_seconds: float) -> None:
        raise AssertionError("slept")

    provider = SimulatedProvider(Latency(), sleep=forbidden)
    await provider.research(Brief(title="Queues for busy teams"))
    assert provider.usage.calls == 1


async def run_job(job_type: JobType, brief, store=None) -> StageOutputs:
    provider = SimulatedProvider(Latency(), seed=1)
    outputs = StageOutputs()
    for stage in PIPELINES[job_type]:
        inp = StageInput(job_id=uuid.UUID(int=9), job_type=job_type, stage=stage, attempt=1, brief=brief,
                         outputs=outputs)
        output = await run_stage(inp, StageContext(provider=provider, clock=lambda: NOW, context_store=store))
        outputs = outputs.with_output(stage, output)
    return outputs


@pytest.mark.parametrize("words, keywords", [
    (150, []),
    (300, ["kafka"]),
    (1200, ["meal planning", "batch cooking", "grocery list"]),
    (4000, [f"topic {i}" for i in range(12)]),
])
async def test_every_article_stage_accepts_the_answers_and_qa_passes(words, keywords):
    brief = Brief(title="How to Plan Meals for a Busy Week", keywords=keywords, word_count=words)
    outputs = await run_job(JobType.ARTICLE, brief)
    assert outputs.qa.passed, outputs.qa.issues
    assert outputs.qa.word_count == words
    assert outputs.complete.qa_passed and outputs.export.html


@pytest.mark.parametrize("schema_type", SchemaType.__args__)
async def test_every_schema_type_passes_schema_qa(schema_type):
    brief = Brief(title="Queues for busy teams", keywords=["kafka"], schema_type=schema_type)
    outputs = await run_job(JobType.SCHEMA, brief)
    assert outputs.qa.passed, outputs.qa.issues


async def test_pacing_stages_accept_the_answers():
    brief = PacingBrief(user_id="maya", local_date=TODAY, slot="09:00", trigger="schedule", time_zone="Europe/Berlin",
                        content_types=list(ContentType))
    outputs = await run_job(JobType.PACING, brief, MemoryContextStore(sample_chunks(TODAY)))
    assert outputs.write.pieces and len(outputs.write.pieces) == len(outputs.analyze.suggestions)
