"""What a provider answers to the pacing stages, before the stages check it and give it ids."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from streams.pacing_payloads import ContentType, TopicInsight


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SuggestionDraft(_Answer):
    topic: str = Field(min_length=1, max_length=120)
    content_type: ContentType
    confidence: float = Field(ge=0, le=1)
    reasoning: str = Field(min_length=1)
    chunk_ids: list[UUID] = Field(min_length=1)


class ContextReading(_Answer):
    """The topics that matter in a user's recent context, and what to write about them."""

    topics: list[TopicInsight]
    suggestions: list[SuggestionDraft]


class PieceDraft(_Answer):
    """One piece for its platform; `cited_chunk_ids` are the sources it actually uses."""

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1)
    cited_chunk_ids: list[UUID] = Field(min_length=1)
