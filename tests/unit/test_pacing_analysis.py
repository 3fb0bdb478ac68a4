"""Context analysis: deterministic keyphrases weighted by recency and frequency, suggestions citing real chunks."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import pytest

from agents.context import StageContext, StageInput
from agents.errors import PermanentError, TransientError
from agents.handlers import run_stage
from agents.pacing import analyze, write
from agents.providers.offline import OfflineProvider
from agents.providers.offline_keyphrases import extract_keyphrases, normalise
from streams.pacing_payloads import AnalysisOutcome, ContentType, ContextSource, PacingBrief
from streams.payloads import Brief, JobType, Stage, StageOutputs
from tests.pacing_support import MemoryContextStore, sample_chunks, source_chunks

TODAY = date(2026, 3, 10)
BRIEF = PacingBrief(user_id="maya", local_date=TODAY, slot="09:00", trigger="schedule", time_zone="Europe/Berlin",
                    content_types=list(ContentType))


def stage_input(stage: Stage, outputs: StageOutputs = StageOutputs(), brief=BRIEF) -> StageInput:
    return StageInput(job_id=uuid.UUID(int=42), job_type=JobType.PACING, stage=stage, attempt=1, brief=brief,
                      outputs=outputs)


def ctx(store) -> StageContext:
    return StageContext(provider=OfflineProvider(), context_store=store)


def doc(text: str, days_ago: int, n: int = 0):
    return source_chunks(ContextSource.KNOWLEDGE, uuid.UUID(int=1000 + n), f"doc {n}", text,
                         TODAY - timedelta(days=days_ago), markdown=False)


# ---------------------------------------------------------------- keyphrases


def test_keyphrases_are_deterministic_whatever_the_order_of_the_chunks():
    chunks = sample_chunks(TODAY)
    first = extract_keyphrases(chunks, TODAY)
    shuffled = list(chunks)
    random.Random(7).shuffle(shuffled)
    assert extract_keyphrases(shuffled, TODAY) == first
    assert [k.phrase for k in first[:4]] == ["heat pump", "customers", "energy bill", "demand response"]


def test_recent_mentions_outweigh_old_ones_and_more_mentions_outweigh_fewer():
    chunks = (doc("Solar batteries came up. Solar batteries again.", days_ago=20, n=1)
              + doc("Wind turbines came up. Wind turbines again.", days_ago=0, n=2)
              + doc("Tidal power is here. Tidal power is there. Tidal power everywhere.", days_ago=0, n=3))
    ranked = [k.key for k in extract_keyphrases(chunks, TODAY)]
    assert ranked.index("tidal power") < ranked.index("wind turbine") < ranked.index("solar battery")


def test_a_phrase_said_once_is_not_a_topic_and_speaker_labels_and_markup_are_not_either():
    chunks = source_chunks(ContextSource.MEETING, uuid.UUID(int=5), "standup", (
        "Alice: The **onboarding flow** needs work.\nBob: Agreed, the onboarding flow is slow.\n"
        "Alice: Also the quarterly roadmap."), TODAY)
    phrases = {k.key for k in extract_keyphrases(chunks, TODAY)}
    assert "onboarding flow" in phrases
    assert not phrases & {"alice", "bob", "quarterly roadmap", "roadmap"}


def test_plurals_and_possessives_are_one_phrase():
    assert normalise("Pumps") == normalise("pump's") == normalise("pump") == "pump"
    assert normalise("batteries") == "battery" and normalise("business") == "business"


# ---------------------------------------------------------------- the analyze stage


async def test_analysis_suggests_one_piece_per_wanted_type_citing_chunks_that_contain_its_topic():
    chunks = sample_chunks(TODAY)
    store = MemoryContextStore(chunks)
    out = await analyze.handle(stage_input(Stage.ANALYZE), ctx(store))
    assert out.outcome is AnalysisOutcome.ANALYZED
    assert sorted(s.content_type for s in out.suggestions) == sorted(ContentType)
    assert out.knowledge_context.chunk_count + out.meeting_context.chunk_count == len(chunks)
    by_id = {c.chunk_id: c for c in chunks}
    for s in out.suggestions:
        assert 0 < s.confidence <= 1 and s.reasoning and s.topic in s.reasoning
        words = {normalise(w) for w in s.topic.split()}
        for cid in s.chunk_ids:
            text = f"{by_id[cid].heading} {by_id[cid].text}".lower().replace("-", " ")
            assert all(normalise(w) in {normalise(t.strip(".,:;()")) for t in text.split()} for w in words), (s.topic, cid)
    assert len({s.suggestion_id for s in out.suggestions}) == len(out.suggestions)
    again = await analyze.handle(stage_input(Stage.ANALYZE), ctx(MemoryContextStore(list(reversed(chunks)))))
    assert again == out


async def test_the_window_leaves_out_older_context():
    chunks = doc("Heat pumps again. Heat pumps once more.", days_ago=30)
    brief = BRIEF.model_copy(update={"window_days": 14})
    out = await analyze.handle(stage_input(Stage.ANALYZE, brief=brief), ctx(MemoryContextStore(chunks)))
    assert out.outcome is AnalysisOutcome.NO_CONTEXT
    assert out.window_start == TODAY - timedelta(days=13) and out.window_end == TODAY


async def test_no_context_completes_with_an_explicit_result_and_nothing_is_written():
    store = MemoryContextStore([])
    outputs = StageOutputs()
    for stage in (Stage.ANALYZE, Stage.WRITE, Stage.COMPLETE):
        result = await run_stage(stage_input(stage, outputs), ctx(store))
        outputs = outputs.with_output(stage, result)
    assert outputs.analyze.outcome is AnalysisOutcome.NO_CONTEXT
    assert outputs.analyze.suggestions == [] and outputs.analyze.topics == []
    assert outputs.analyze.knowledge_context.items == [] and outputs.analyze.meeting_context.chunk_count == 0
    assert outputs.write.pieces == [] and store.searches == []
    assert outputs.complete.formats == [] and outputs.complete.word_count is None


async def test_context_without_recurring_topics_suggests_nothing():
    out = await analyze.handle(stage_input(Stage.ANALYZE), ctx(MemoryContextStore(doc("Lunch was nice.", 0))))
    assert out.outcome is AnalysisOutcome.NO_TOPICS and out.suggestions == []


async def test_a_failing_store_is_transient_and_a_missing_one_permanent():
    failing = MemoryContextStore([], fail=ConnectionResetError("connection reset by peer"))
    with pytest.raises(TransientError) as err:
        await analyze.handle(stage_input(Stage.ANALYZE), ctx(failing))
    assert err.value.code == "context_store" and "ConnectionResetError" in str(err.value)
    with pytest.raises(PermanentError) as err:
        await analyze.handle(stage_input(Stage.ANALYZE), StageContext(provider=OfflineProvider()))
    assert err.value.code == "no_context_store"


async def test_a_pacing_job_with_an_article_brief_fails_permanently():
    with pytest.raises(PermanentError, match="pacing brief"):
        await analyze.handle(stage_input(Stage.ANALYZE, brief=Brief(title="An article")), ctx(MemoryContextStore([])))


async def test_suggestions_citing_unknown_chunks_are_refused():
    class Inventive(OfflineProvider):
        async def analyze_context(self, brief, chunks):
            reading = await super().analyze_context(brief, chunks)
            bad = reading.suggestions[0].model_copy(update={"chunk_ids": [uuid.UUID(int=999)]})
            return reading.model_copy(update={"suggestions": [bad]})

    store = MemoryContextStore(sample_chunks(TODAY))
    with pytest.raises(PermanentError, match="cites chunks that were not in the context"):
        await analyze.handle(stage_input(Stage.ANALYZE), StageContext(provider=Inventive(), context_store=store))


async def test_write_searches_each_topic_and_keeps_retrieval_scores():
    store = MemoryContextStore(sample_chunks(TODAY))
    analysis = await analyze.handle(stage_input(Stage.ANALYZE), ctx(store))
    written = await write.handle(stage_input(Stage.WRITE, StageOutputs(analyze=analysis)), ctx(store))
    assert store.searches == [s.topic for s in analysis.suggestions]
    assert [p.generation_id for p in written.pieces] == [s.suggestion_id for s in analysis.suggestions]
    for piece in written.pieces:
        ranks = [s.rank for s in piece.sources]
        assert ranks == sorted(ranks, reverse=True) and piece.cited_chunk_ids
        assert set(piece.cited_chunk_ids) <= {s.chunk_id for s in piece.sources}
