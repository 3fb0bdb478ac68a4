"""Pacing test helpers: a sample user's context as chunks and as events, an in-memory ContextStore, a pacing job's log."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from uuid import UUID

from agents import transitions
from agents.context import StageContext, StageInput
from agents.errors import TransientError
from agents.handlers import run_stage
from agents.providers.offline import OfflineProvider
from agents.providers.offline_keyphrases import normalise
from planperfect.pacing_samples import DOCUMENTS, MEETINGS, sample_documents, sample_meetings
from projections.pacing_chunking import chunk_id_for, chunk_text
from streams.commands import DelayStage, RequestStage
from streams.deadletters import DeadLettered
from streams.pacing_events import KnowledgeDocumentAdded, MeetingNotesAdded
from streams.pacing_jobs import pacing_submitted
from streams.pacing_payloads import ContextChunk, ContextSource, PacingBrief, ScoredChunk
from streams.payloads import Stage
from streams.usage import CallUsage, StageUsage

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'+-]*")


def words_of(text: str) -> set[str]:
    return {normalise(w) for w in _WORD.findall(text)}


def source_chunks(source: ContextSource, source_id: UUID, title: str, body: str, day: date,
                  markdown: bool = True) -> list[ContextChunk]:
    return [
        ContextChunk(chunk_id=chunk_id_for(source_id, c.position), source=source, source_id=source_id,
                     source_title=title, heading=c.heading, text=c.text, source_date=day)
        for c in chunk_text(body, markdown=markdown, default_heading=title)
    ]


def sample_chunks(today: date) -> list[ContextChunk]:
    """The sample user's documents (dated over the last fortnight) and meetings, chunked as the projection does."""
    out: list[ContextChunk] = []
    for i, d in enumerate(DOCUMENTS):
        sid = uuid.uuid5(uuid.NAMESPACE_URL, f"doc:{i}")
        out += source_chunks(ContextSource.KNOWLEDGE, sid, d["title"], d["body"], today - timedelta(days=2 * i),
                             d["format"] == "markdown")
    for i, m in enumerate(MEETINGS):
        sid = uuid.uuid5(uuid.NAMESPACE_URL, f"meeting:{i}")
        out += source_chunks(ContextSource.MEETING, sid, m["title"], m["notes"], today - timedelta(days=m["days_ago"]))
    return out


class MemoryContextStore:
    """A ContextStore over a list: date-window reads, and an all-words match for search."""

    def __init__(self, chunks: list[ContextChunk], *, fail: Exception | None = None) -> None:
        self.data = list(chunks)
        self.fail = fail
        self.searches: list[str] = []

    async def recent_chunks(self, user_id: str, since: date, until: date) -> list[ContextChunk]:
        if self.fail:
            raise self.fail
        return sorted((c for c in self.data if since <= c.source_date <= until),
                      key=lambda c: (c.source_date, str(c.chunk_id)))

    async def search(self, user_id: str, query: str, limit: int) -> list[ScoredChunk]:
        if self.fail:
            raise self.fail
        self.searches.append(query)
        wanted = words_of(query)
        hits = []
        for c in self.data:
            text = [normalise(w) for w in _WORD.findall(f"{c.heading or ''} {c.text}")]
            if wanted <= set(text):
                hits.append(ScoredChunk(chunk=c, rank=round(sum(text.count(w) for w in wanted) / (len(text) + 1), 4)))
        return sorted(hits, key=lambda h: (-h.rank, str(h.chunk.chunk_id)))[:limit]

    async def chunks(self, user_id: str, chunk_ids: list[UUID]) -> list[ContextChunk]:
        wanted = set(chunk_ids)
        return [c for c in self.data if c.chunk_id in wanted]


def context_events(user_id: str, today: date, now: datetime, docs: int = 6, meetings: int = 4) -> list:
    """The sample documents and meetings of `user_id` as pacing events, with ids derived from the user."""
    out: list = []
    for i, d in enumerate(sample_documents(docs)):
        did = uuid.uuid5(uuid.NAMESPACE_URL, f"{user_id}:doc:{i}")
        out.append(KnowledgeDocumentAdded(event_id=uuid.uuid5(did, "created"), user_id=user_id, occurred_at=now,
                                          correlation_id=did, document_id=did, **d))
    for i, m in enumerate(sample_meetings(today, meetings)):
        mid = uuid.uuid5(uuid.NAMESPACE_URL, f"{user_id}:meeting:{i}")
        out.append(MeetingNotesAdded(event_id=uuid.uuid5(mid, "created"), user_id=user_id, occurred_at=now,
                                     correlation_id=mid, meeting_id=mid, **m))
    return out


async def pacing_job_log(brief: PacingBrief, store, now: datetime, *, write_failures: int = 0,
                         max_attempts: int = 3, provider=None) -> list:
    """A pacing job's events through the real transitions and handlers (the offline provider unless one is given);
    the write stage fails `write_failures` times."""
    sub = pacing_submitted(brief, now=now, max_attempts=max_attempts, retry_delay_seconds=1, visibility_seconds=60)
    out: list = [sub]
    req: RequestStage | None = transitions.first_request(sub, now)
    failures = 0
    while isinstance(req, RequestStage):
        begun = transitions.started(req, now)
        out.append(begun)
        seq = begun.sequence + 1
        if req.stage is Stage.WRITE and failures < write_failures:
            failures += 1
            events, after = transitions.failed(req, begun, seq, TransientError("the context store failed"), 4, now)
            out.extend(events)
            req = None if isinstance(after, DeadLettered) else after.request if isinstance(after, DelayStage) else after
            continue
        inp = StageInput(job_id=sub.job_id, job_type=sub.job_type, stage=req.stage, attempt=req.attempt,
                         brief=brief, outputs=req.outputs)
        output = await run_stage(inp, StageContext(provider=provider or OfflineProvider(), context_store=store))
        done, after = transitions.completed(req, begun, seq, output, 3, now)
        out.append(done)
        if isinstance(after, RequestStage):
            req = after
        else:
            out.append(after)
            req = None
    return out


def costed(event):
    """The event with two model calls recorded, as a pacing job on a model provider writes its completions."""
    if event.type != "StageCompleted":
        return event
    calls = [CallUsage(provider="anthropic", model="claude-haiku-4-5", prompt=f"{event.stage.value}.v1",
                       input_tokens=900 + n, output_tokens=300, cached_tokens=n * 100, cost_usd=0.0024 + n / 1e6)
             for n in range(2)]
    return event.model_copy(update={"usage": StageUsage(provider="anthropic", calls=calls)})
