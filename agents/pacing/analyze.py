"""The analyze stage: read the user's recent knowledge and meetings, and suggest what to write about."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from uuid import uuid5

from agents.context import StageContext, StageInput
from agents.errors import PermanentError, TransientError
from agents.pacing.answers import ContextReading
from agents.pacing.ports import ContextStore
from agents.stages.prerequisites import invalid
from streams.pacing_payloads import (
    AnalysisOutcome,
    ContentSuggestion,
    ContextAnalysis,
    ContextChunk,
    ContextSource,
    ContextSummary,
    PacingBrief,
    SourceSummary,
)


async def handle(inp: StageInput, ctx: StageContext) -> ContextAnalysis:
    brief = pacing_brief(inp)
    store = context_store(inp, ctx)
    since = brief.local_date - timedelta(days=brief.window_days - 1)
    try:
        chunks = await store.recent_chunks(brief.user_id, since, brief.local_date)
    except Exception as exc:  # the database, classified where it is caught: worth another attempt
        raise TransientError(f"the context store failed: {type(exc).__name__}: {exc}", code="context_store") from exc
    base = dict(user_id=brief.user_id, local_date=brief.local_date, window_start=since, window_end=brief.local_date,
                knowledge_context=summarise(chunks, ContextSource.KNOWLEDGE),
                meeting_context=summarise(chunks, ContextSource.MEETING))
    if not chunks:
        # Nothing to go on: say so, and suggest nothing rather than invent filler.
        return ContextAnalysis(outcome=AnalysisOutcome.NO_CONTEXT, topics=[], suggestions=[], **base)
    reading = await ctx.provider.analyze_context(brief, chunks)
    problems = reading_problems(reading, brief, chunks)
    if problems:
        raise invalid(inp, ctx.provider.name, "; ".join(problems))
    suggestions = [
        ContentSuggestion(suggestion_id=uuid5(inp.job_id, f"suggestion:{i}"), **s.model_dump())
        for i, s in enumerate(reading.suggestions)
    ]
    outcome = AnalysisOutcome.ANALYZED if suggestions else AnalysisOutcome.NO_TOPICS
    return ContextAnalysis(outcome=outcome, topics=reading.topics, suggestions=suggestions, **base)


def pacing_brief(inp: StageInput) -> PacingBrief:
    if not isinstance(inp.brief, PacingBrief):
        raise PermanentError(f"job {inp.job_id} is a pacing job without a pacing brief", code="invalid_brief")
    return inp.brief


def context_store(inp: StageInput, ctx: StageContext) -> ContextStore:
    if ctx.context_store is None:
        raise PermanentError(f"the {inp.stage.value} stage needs a context store and this worker has none",
                             code="no_context_store")
    return ctx.context_store


def summarise(chunks: list[ContextChunk], source: ContextSource) -> ContextSummary:
    mine = [c for c in chunks if c.source is source]
    counts = Counter(c.source_id for c in mine)
    firsts = {c.source_id: c for c in reversed(mine)}
    items = [SourceSummary(source_id=sid, title=firsts[sid].source_title, source_date=firsts[sid].source_date, chunks=n)
             for sid, n in sorted(counts.items(), key=lambda kv: (firsts[kv[0]].source_date, str(kv[0])))]
    return ContextSummary(source=source, items=items, chunk_count=len(mine))


def reading_problems(reading: ContextReading, brief: PacingBrief, chunks: list[ContextChunk]) -> list[str]:
    known = {c.chunk_id for c in chunks}
    problems = [f"topic '{t.phrase}' cites chunks that were not in the context: {', '.join(map(str, unknown))}"
                for t in reading.topics if (unknown := [c for c in t.chunk_ids if c not in known])]
    for s in reading.suggestions:
        if s.content_type not in brief.content_types:
            problems.append(f"'{s.topic}' is suggested as {s.content_type.value}, which the schedule does not want")
        unknown = [str(c) for c in s.chunk_ids if c not in known]
        if unknown:
            problems.append(f"'{s.topic}' cites chunks that were not in the context: {', '.join(unknown)}")
    if len(reading.suggestions) > len(brief.content_types):
        problems.append(f"{len(reading.suggestions)} suggestions for {len(brief.content_types)} content types")
    return problems
