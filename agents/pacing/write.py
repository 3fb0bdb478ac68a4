"""The write stage: for each suggestion, retrieve the most relevant chunks and write the piece for its platform."""

from __future__ import annotations

from uuid import UUID

from agents.context import StageContext, StageInput
from agents.errors import TransientError
from agents.pacing.answers import PieceDraft
from agents.pacing.analyze import context_store, pacing_brief
from agents.pacing.conventions import convention_problems
from agents.pacing.ports import ContextStore
from agents.stages.prerequisites import invalid, require
from streams.pacing_payloads import (
    ContentSuggestion, ContentType, GeneratedPiece, Generations, RetrievedChunk, ScoredChunk,
)
from streams.payloads import Stage

SOURCES_PER_PIECE = 6


async def handle(inp: StageInput, ctx: StageContext) -> Generations:
    brief = pacing_brief(inp)
    analysis = require(inp, inp.outputs.analyze, Stage.ANALYZE)
    store = context_store(inp, ctx)
    pieces = []
    for suggestion in analysis.suggestions:
        hits = await retrieve(store, brief.user_id, suggestion)
        if not hits:
            raise invalid(inp, ctx.provider.name, f"no chunk of the context matches '{suggestion.topic}'")
        draft = await ctx.provider.write_piece(suggestion, [h.chunk for h in hits], brief.local_date)
        problems = piece_problems(suggestion.content_type, draft, {h.chunk.chunk_id for h in hits})
        if problems:
            raise invalid(inp, ctx.provider.name, f"{suggestion.content_type.value} on '{suggestion.topic}': "
                                                  + "; ".join(problems))
        cited = set(draft.cited_chunk_ids)
        pieces.append(GeneratedPiece(
            generation_id=suggestion.suggestion_id, content_type=suggestion.content_type, topic=suggestion.topic,
            title=draft.title, body=draft.body, word_count=len(draft.body.split()), char_count=len(draft.body),
            query=suggestion.topic,
            sources=[RetrievedChunk(chunk_id=h.chunk.chunk_id, source=h.chunk.source, source_id=h.chunk.source_id,
                                    source_title=h.chunk.source_title, heading=h.chunk.heading, rank=h.rank,
                                    cited=h.chunk.chunk_id in cited)
                     for h in hits],
        ))
    return Generations(pieces=pieces)


def piece_problems(content_type: ContentType, piece: PieceDraft, retrieved: set[UUID]) -> list[str]:
    """What keeps a piece from being stored: its platform's conventions, and any citation of a chunk that was not
    retrieved for it (a model's made-up or misremembered id)."""
    return [*convention_problems(content_type, piece.title, piece.body),
            *(f"cites chunk {c}, which was not retrieved for it" for c in piece.cited_chunk_ids if c not in retrieved)]


async def retrieve(store: ContextStore, user_id: str, suggestion: ContentSuggestion) -> list[ScoredChunk]:
    """Full-text search for the topic; the chunks it was found in when the search finds none of them."""
    try:
        hits = await store.search(user_id, suggestion.topic, SOURCES_PER_PIECE)
        if not hits:
            found = await store.chunks(user_id, suggestion.chunk_ids[:SOURCES_PER_PIECE])
            hits = [ScoredChunk(chunk=c, rank=0.0) for c in found]
    except Exception as exc:  # the database, classified where it is caught
        raise TransientError(f"the context store failed: {type(exc).__name__}: {exc}", code="context_store") from exc
    return hits
