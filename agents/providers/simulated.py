"""`SimulatedProvider`: a model call's waiting without its work, for load tests: log-normal latency, tiny valid output."""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from agents.pacing.answers import ContextReading, PieceDraft
from agents.providers.offline import fit_length
from agents.providers.offline_pacing import read_context
from agents.providers.offline_posts import write_piece
from agents.slug import slugify
from agents.stages.qa_metrics import count_words
from streams.pacing_payloads import ContentSuggestion, ContextChunk, PacingBrief
from streams.payloads import (
    Brief, Draft, KeywordInsight, Outline, OutlineSection, QAReport, QAReview, ResearchNotes, SchemaMarkup,
)

Z_99 = 2.3263478740408408  # the standard normal's 99th percentile
CHARS_PER_TOKEN = 4  # the usual rough figure for English text; exact counts need the vendor's tokenizer
PROMPT_TOKENS = 300  # the instructions every real call would send besides the brief
HEADINGS = ("Why It Matters", "Getting Started", "Common Pitfalls", "Doing It Well", "Measuring Progress",
            "What Comes Next")
# A filler sentence: short plain words keep Flesch high; its number keeps every sentence distinct.
FILLER = ("Point", "{n}", "keeps", "the", "work", "simple")
SENTENCES_PER_PARAGRAPH = 8
MARKUP_BODIES = {
    "FAQPage": lambda b: {"mainEntity": [{"@type": "Question", "name": f"What is {b.title.strip()}?",
                                          "acceptedAnswer": {"@type": "Answer", "text": "A short answer."}}]},
    "HowTo": lambda b: {"name": b.title.strip(), "step": [{"@type": "HowToStep", "text": "Start small."},
                                                           {"@type": "HowToStep", "text": "Review and adjust."}]},
}


@dataclass(frozen=True)
class Latency:
    """Log-normal call latency from its median and 99th percentile, in milliseconds; median 0 means no wait."""

    median_ms: float = 0.0
    p99_ms: float = 0.0

    @property
    def sigma(self) -> float:
        """Spread of the underlying normal; 0 (every call takes the median) when p99 is not above the median."""
        if self.median_ms <= 0 or self.p99_ms <= self.median_ms:
            return 0.0
        return math.log(self.p99_ms / self.median_ms) / Z_99

    def draw_ms(self, rng: random.Random) -> float:
        if self.median_ms <= 0:
            return 0.0
        return rng.lognormvariate(math.log(self.median_ms), self.sigma)


@dataclass
class Usage:
    """Token counts of the calls made so far, as a vendor's usage report would give them (estimated here)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    waited_ms: float = 0.0
    per_call: dict[str, int] = field(default_factory=dict)


def tokens(*texts: str) -> int:
    return max(1, sum(len(t) for t in texts) // CHARS_PER_TOKEN)


class SimulatedProvider:
    """Waits like a model call, answers like a terse model: every answer passes the stages' checks and QA.

    CPU per call stays in the microseconds (the pacing answers reuse the offline provider's, which is slower;
    load tests run article jobs). `usage` counts calls and tokens, since the provider interface has no place
    to return them.
    """

    name = "simulated"

    def __init__(self, latency: Latency, *, seed: int | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.latency = latency
        self.usage = Usage()
        self._rng = random.Random(seed)
        self._sleep = sleep

    async def _call(self, method: str, prompt: int, answer: int) -> None:
        wait_ms = self.latency.draw_ms(self._rng)
        u = self.usage
        u.calls += 1
        u.input_tokens += PROMPT_TOKENS + prompt
        u.output_tokens += answer
        u.waited_ms += wait_ms
        u.per_call[method] = u.per_call.get(method, 0) + 1
        if wait_ms > 0:
            await self._sleep(wait_ms / 1000)

    async def research(self, brief: Brief) -> ResearchNotes:
        notes = research_notes(brief)
        await self._call("research", tokens(brief.title, *brief.keywords), tokens(notes.summary, *notes.key_points))
        return notes

    async def outline(self, brief: Brief, research: ResearchNotes) -> Outline:
        outline = outline_for(brief)
        await self._call("outline", tokens(brief.title, research.summary, *research.key_points),
                         tokens(outline.meta_description, *(s.heading for s in outline.sections)))
        return outline

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline, *, previous: Draft | None = None,
                    findings: Sequence[str] = ()) -> Draft:
        draft = draft_for(brief, outline)
        await self._call("draft", tokens(research.summary, *(s.heading for s in outline.sections)),
                         tokens(draft.markdown))
        return draft

    async def review(self, brief: Brief, outline: Outline, draft: Draft, report: QAReport) -> QAReview | None:
        return None  # load tests time the writing stages; the measured report is the verdict

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        markup = SchemaMarkup(schema_type=brief.schema_type, json_ld=json_ld(brief, research))
        await self._call("markup", tokens(brief.title, research.summary), tokens(markup.json_ld))
        return markup

    async def analyze_context(self, brief: PacingBrief, chunks: list[ContextChunk]) -> ContextReading:
        reading = read_context(brief, chunks)
        await self._call("analyze_context", tokens(*(c.text for c in chunks)),
                         tokens(*(s.reasoning for s in reading.suggestions)))
        return reading

    async def write_piece(self, suggestion: ContentSuggestion, sources: list[ContextChunk], local_date: date) -> PieceDraft:
        piece = write_piece(suggestion, sources, local_date)
        await self._call("write_piece", tokens(suggestion.topic, *(c.text for c in sources)), tokens(piece.body))
        return piece


def research_notes(brief: Brief) -> ResearchNotes:
    topic = brief.title.strip()
    return ResearchNotes(
        summary=f"A practical look at {topic}.",
        audience=brief.audience.strip() if brief.audience and brief.audience.strip() else "Busy readers",
        angle="Plain steps first, theory later.",
        key_points=["Start small", "Measure what changes", "Keep what works"],
        keyword_insights=[KeywordInsight(keyword=k, intent="informational", related_terms=[f"{k} tips"])
                          for k in brief.keywords],
        questions=[f"Where do I start with {topic}?"],
    )


def outline_for(brief: Brief) -> Outline:
    title = brief.title.strip()
    n = max(2, min(len(HEADINGS), brief.word_count // 300))
    assigned: list[list[str]] = [[] for _ in range(n)]
    for i, keyword in enumerate(brief.keywords):
        assigned[i % n].append(keyword)
    meta = fit_length(f"A short, practical guide to {title} for busy readers, with steps you can use today.", 120, 160)
    return Outline(title=title, slug=slugify(title), meta_description=meta, sections=[
        OutlineSection(heading=HEADINGS[i], keywords=assigned[i], points=["Explain", "Show"],
                       target_words=max(1, brief.word_count // n))
        for i in range(n)
    ])


def draft_for(brief: Brief, outline: Outline) -> Draft:
    """Exactly `brief.word_count` words as QA counts them: a title, the outline's headings, one sentence per
    keyword, then numbered filler sentences spread over the sections."""
    heads = [f"# {outline.title}"] + [f"## {s.heading}" for s in outline.sections]
    mentions = [f"This part covers {k.strip()}." for k in brief.keywords]
    used = sum(count_words(h.lstrip("# ")) for h in heads) + sum(count_words(m) for m in mentions)
    sentences = mentions + filler(max(1, brief.word_count - used))
    per_section = -(-len(sentences) // len(outline.sections))
    lines = [heads[0], ""]
    for i, head in enumerate(heads[1:]):
        mine = sentences[i * per_section:(i + 1) * per_section] or ["Point 0."]
        lines += [head, ""] + [" ".join(mine[j:j + SENTENCES_PER_PARAGRAPH]) + "\n"
                               for j in range(0, len(mine), SENTENCES_PER_PARAGRAPH)]
    markdown = "\n".join(lines)
    return Draft(markdown=markdown, word_count=brief.word_count)


def filler(words: int) -> list[str]:
    """Sentences of FILLER's words, `words` in all; the last one is cut short to land on the count."""
    out: list[str] = []
    n = 0
    while words > 0:
        n += 1
        take = min(words, len(FILLER))
        out.append(" ".join(FILLER[:take]).format(n=n) + ".")
        words -= take
    return out


def json_ld(brief: Brief, research: ResearchNotes) -> str:
    description = brief.description.strip() if brief.description and brief.description.strip() else research.summary
    author = {"@type": "Person", "name": brief.author} if brief.author else {"@type": "Organization",
                                                                            "name": "Editorial Team"}
    body = MARKUP_BODIES.get(brief.schema_type, lambda b: {
        "name": b.title.strip(), "headline": b.title.strip()[:110], "description": description, "author": author,
    })(brief)
    return json.dumps({"@context": "https://schema.org", "@type": brief.schema_type, **body}, ensure_ascii=False)
