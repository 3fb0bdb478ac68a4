"""The `ContentProvider` protocol: what any text generator (offline, Anthropic, OpenAI) must offer the stages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from agents.pacing.answers import ContextReading, PieceDraft
from streams.pacing_payloads import ContentSuggestion, ContextChunk, PacingBrief
from streams.payloads import Brief, Draft, Outline, QAReport, QAReview, ResearchNotes, SchemaMarkup


class ContentProvider(Protocol):
    """Generates content from a brief; knows nothing of stages, retries or Kafka.

    Implementations raise `agents.errors.TransientError` for failures worth retrying (timeouts,
    rate limits) and `PermanentError` for ones that are not (a rejected request).
    """

    name: str

    async def research(self, brief: Brief) -> ResearchNotes:
        """Notes on the subject: summary, audience, angle, key points, keyword insights, reader questions."""
        ...

    async def outline(self, brief: Brief, research: ResearchNotes) -> Outline:
        """Title, slug, meta description and sections that together cover every keyword."""
        ...

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline, *, previous: Draft | None = None,
                    findings: Sequence[str] = ()) -> Draft:
        """The article in Markdown, following the outline, near `brief.word_count` words; when QA returned the job,
        a new one that fixes `findings` about the `previous` draft."""
        ...

    async def review(self, brief: Brief, outline: Outline, draft: Draft, report: QAReport) -> QAReview | None:
        """A verdict on the draft beside the measured `report`; None when the provider has no judgement beyond the
        measures (offline)."""
        ...

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        """schema.org JSON-LD for `brief.schema_type`, as JSON text."""
        ...

    async def analyze_context(self, brief: PacingBrief, chunks: list[ContextChunk]) -> ContextReading:
        """The topics that matter in a user's recent context and a suggestion per wanted content type, each
        citing the chunks it came from."""
        ...

    async def write_piece(self, suggestion: ContentSuggestion, sources: list[ContextChunk], local_date: date) -> PieceDraft:
        """The suggested piece in its platform's conventions, from `sources` (best first), citing those it uses."""
        ...
