"""Pacing through each vendor's real SDK and a fake of its API, on chunks PostgreSQL full-text search retrieved:
every citation stored names a chunk retrieved for its piece, and a made-up chunk id is refused, then repaired."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

import asyncpg
import pytest

from agents.errors import TransientError
from projections.pacing_queries import PacingStore
from streams.pacing_payloads import ContentType, PacingBrief
from streams.topics import Topics
from tests.fakes.anthropic_server import text_of
from tests.fakes.scripted_model import scripted_model
from tests.fakes.wiring import wired
from tests.integration.test_pacing_projections import produce_pacing, project
from tests.joblog import produce
from tests.pacing_support import context_events, pacing_job_log

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=timezone.utc)
BRIEF = PacingBrief(user_id="maya", local_date=TODAY, slot="09:00", trigger="manual", time_zone="Europe/Berlin",
                    content_types=[ContentType.LINKEDIN_POST, ContentType.BLOG_POST], window_days=30)
WRITER = "writing stage of a pacing"


@pytest.fixture
async def store(infra, database, prefix):
    """Maya's documents and meetings, projected into PostgreSQL: the retriever the write stage searches."""
    await produce_pacing(infra.bootstrap, Topics(prefix).pacing_events, context_events("maya", TODAY, NOW))
    await project(infra, database, prefix)
    found = PacingStore(database)
    yield found
    await found.close()


async def stored_pieces(infra, database: str, prefix: str, log: list) -> list[asyncpg.Record]:
    await produce(infra.bootstrap, Topics(prefix).job_events, log)
    await project(infra, database, prefix)
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetch("SELECT * FROM pacing_content_generation ORDER BY position")
    finally:
        await conn.close()


def assert_citations_name_retrieved_chunks(pieces: list[asyncpg.Record]) -> None:
    assert [p["status"] for p in pieces] == ["completed"] * len(BRIEF.content_types)
    for p in pieces:
        meta = json.loads(p["metadata"])
        retrieved = {s["chunk_id"] for s in meta["sources"]}
        assert meta["cited_chunk_ids"] and set(meta["cited_chunk_ids"]) <= retrieved, p["topic"]


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
async def test_a_pacing_run_through_each_vendor(vendor, infra, database, prefix, store):
    async with wired(vendor) as w:
        log = await pacing_job_log(BRIEF, store, NOW, provider=w.provider)
        path = "/v1/messages" if vendor == "anthropic" else "/v1/chat/completions"
        calls = w.fake.calls(path)
        assert w.fake.violations == []
        assert [c.body["model"] for c in calls] == [w.config.models.analyze] + [w.config.models.write] * 2
    assert log[-1].type == "JobCompleted"
    assert_citations_name_retrieved_chunks(await stored_pieces(infra, database, prefix, log))


async def test_a_made_up_chunk_id_is_refused_and_the_repaired_answer_kept(infra, database, prefix, store):
    made_up = uuid.uuid4()
    refused: list[str] = []

    async def model(system: str, conversation: list[dict[str, str]]) -> str:
        answer = await scripted_model(system, conversation)
        if WRITER in system and len(conversation) == 1 and not refused:  # the first piece's first answer
            piece = json.loads(answer)
            refused.append(answer)
            return json.dumps(piece | {"cited_chunk_ids": [*piece["cited_chunk_ids"], str(made_up)]})
        return answer

    async with wired("anthropic") as w:
        w.fake.model = model
        log = await pacing_job_log(BRIEF, store, NOW, provider=w.provider)
        conversations = [c.body["messages"] for c in w.fake.calls("/v1/messages")]
        repair = conversations[2]  # analyze, the refused piece, its repair
        assert len(repair) == 3 and str(made_up) in text_of(repair[1]["content"])
        assert f"cites chunk {made_up}, which was not retrieved for it" in text_of(repair[2]["content"])
        assert len(conversations) == 4  # then the second piece, right the first time

        # Refused twice: the attempt fails as retryable (the stage's retry asks again), after one repair.
        w.fake.replies.extend([refused[0].replace(json.loads(refused[0])["cited_chunk_ids"][0], str(made_up))] * 2)
        analysis = next(e.output for e in log if e.type == "StageCompleted" and e.stage == "analyze")
        sources = [h.chunk for h in await store.search("maya", analysis.suggestions[0].topic, 6)]
        with pytest.raises(TransientError) as failure:
            await w.provider.write_piece(analysis.suggestions[0], sources, TODAY)
        assert failure.value.code == "invalid_model_output" and str(made_up) in str(failure.value)
    assert log[-1].type == "JobCompleted"
    pieces = await stored_pieces(infra, database, prefix, log)
    assert_citations_name_retrieved_chunks(pieces)
    assert all(str(made_up) not in p["metadata"] for p in pieces)
