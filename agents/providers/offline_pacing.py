"""The offline provider's pacing analysis: keyphrases become topics, the strongest become suggestions."""

from __future__ import annotations

from agents.pacing.answers import ContextReading, SuggestionDraft
from agents.providers.offline_keyphrases import Keyphrase, extract_keyphrases
from streams.pacing_payloads import ContentType, ContextChunk, ContextSource, PacingBrief, TopicInsight

MAX_TOPICS = 8
MAX_CITED_CHUNKS = 12

# Formats that need the most material first: they get the topics with the most passages behind them.
DEPTH = {ContentType.BLOG_POST: 4, ContentType.NEWSLETTER: 3, ContentType.LINKEDIN_POST: 2, ContentType.SOCIAL_POST: 1}
WHY = {
    ContentType.BLOG_POST: "it has the most material behind it, enough for a long-form post with sections",
    ContentType.NEWSLETTER: "it draws on several sources, which suits a newsletter's sections",
    ContentType.LINKEDIN_POST: "it is a focused theme with a clear takeaway, which suits a LinkedIn post",
    ContentType.SOCIAL_POST: "a single sharp point about it is enough for a short social post",
}


def read_context(brief: PacingBrief, chunks: list[ContextChunk]) -> ContextReading:
    phrases = extract_keyphrases(chunks, brief.local_date, limit=MAX_TOPICS)
    topics = [
        TopicInsight(phrase=k.phrase, score=k.score, occurrences=k.occurrences, last_seen=k.last_seen,
                     chunk_ids=list(k.chunk_ids[:MAX_CITED_CHUNKS]))
        for k in phrases
    ]
    wanted = sorted(brief.content_types, key=lambda t: (-DEPTH[t], t.value))
    picked = sorted(phrases[: len(wanted)], key=lambda k: (-len(k.chunk_ids), -k.score, k.key))
    kinds = {c.source_id: c.source for c in chunks}
    suggestions = [
        SuggestionDraft(topic=k.phrase, content_type=kind, confidence=_confidence(k, phrases[0]),
                        reasoning=_reasoning(k, phrases.index(k) + 1, len(phrases), kind, kinds, brief.window_days),
                        chunk_ids=list(k.chunk_ids[:MAX_CITED_CHUNKS]))
        for k, kind in zip(picked, wanted)
    ]
    return ContextReading(topics=topics, suggestions=suggestions)


def _confidence(k: Keyphrase, best: Keyphrase) -> float:
    return round(min(0.95, 0.3 + 0.5 * k.score / best.score + 0.05 * min(3, len(k.source_ids))), 2)


def _reasoning(k: Keyphrase, rank: int, of: int, kind: ContentType, kinds: dict, window: int) -> str:
    docs = sum(1 for s in k.source_ids if kinds[s] is ContextSource.KNOWLEDGE)
    meetings = len(k.source_ids) - docs
    where = " and ".join(p for p in (_count(docs, "knowledge document"), _count(meetings, "meeting")) if p)
    span = (f"on {k.last_seen.isoformat()}" if k.first_seen == k.last_seen
            else f"between {k.first_seen.isoformat()} and {k.last_seen.isoformat()}")
    return (f"'{k.phrase}' comes up {k.occurrences} times in {_count(len(k.chunk_ids), 'passage')} of "
            f"{where}, {span} (a {window}-day window); weighted for recency and frequency it ranks {rank} of {of} "
            f"topics. Suggested as a {kind.value.replace('_', ' ')} because {WHY[kind]}.")


def _count(n: int, noun: str) -> str:
    return "" if n == 0 else f"{n} {noun}{'' if n == 1 else 's'}"
