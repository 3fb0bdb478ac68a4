"""The `ContentProvider` protocol: what any text generator (offline, Anthropic, OpenAI) must offer the stages."""

from __future__ import annotations

from typing import Protocol

from streams.payloads import Brief, Draft, Outline, ResearchNotes, SchemaMarkup


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

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline) -> Draft:
        """The article in Markdown, following the outline, near `brief.word_count` words."""
        ...

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        """schema.org JSON-LD for `brief.schema_type`, as JSON text."""
        ...
