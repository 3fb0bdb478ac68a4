"""Typed payloads of pacing jobs: the brief of one user's daily analysis, and what its stages produce."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContentType(StrEnum):
    LINKEDIN_POST = "linkedin_post"
    BLOG_POST = "blog_post"
    NEWSLETTER = "newsletter"
    SOCIAL_POST = "social_post"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def iso(self) -> int:
        """ISO weekday number, Monday = 1."""
        return list(Weekday).index(self) + 1


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York)") from None
    return name


def _unique(items: list) -> list:
    if len(set(items)) != len(items):
        raise ValueError("values must not repeat")
    return items


UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_zone)]
# A local time of day, HH:MM (seconds allowed: HH:MM:SS).
LocalTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")]
ContentTypes = Annotated[list[ContentType], Field(min_length=1, max_length=len(ContentType)), AfterValidator(_unique)]
LocalTimes = Annotated[list[LocalTime], Field(min_length=1, max_length=24), AfterValidator(_unique)]
Weekdays = Annotated[list[Weekday], Field(min_length=1, max_length=7), AfterValidator(_unique)]
WindowDays = Annotated[int, Field(ge=1, le=365, description="How many days of knowledge and meetings an analysis reads.")]

DEFAULT_TIMES: tuple[str, ...] = ("09:00", "18:00")
DEFAULT_CONTENT_TYPES: tuple[ContentType, ...] = tuple(ContentType)
DEFAULT_WINDOW_DAYS = 14


class PacingBrief(_Frozen):
    """What a pacing job analyses: one user's context on one local date (the job's id derives from both)."""

    user_id: UserId
    local_date: date = Field(description="The date in the user's time zone this analysis is for.")
    slot: str = Field(max_length=16, description="The local time that triggered it, or 'manual'.")
    trigger: Literal["schedule", "manual"]
    schedule_id: UUID | None = None
    time_zone: TimeZoneName
    content_types: ContentTypes
    window_days: WindowDays = DEFAULT_WINDOW_DAYS

    @property
    def title(self) -> str:
        """The job's title in the job read models (content_jobs.title)."""
        return f"Pacing for {self.user_id} on {self.local_date.isoformat()}"


# ---------------------------------------------------------------- the user's context, as stages read it


class ContextSource(StrEnum):
    KNOWLEDGE = "knowledge"
    MEETING = "meeting"


class ContextChunk(_Frozen):
    """A retrievable piece of a knowledge document or a meeting's notes."""

    chunk_id: UUID
    source: ContextSource
    source_id: UUID
    source_title: str
    heading: str | None = None
    text: str
    source_date: date = Field(description="The document's date, or the day the meeting was held.")


class ScoredChunk(_Frozen):
    chunk: ContextChunk
    rank: float = Field(ge=0, description="Full-text rank (ts_rank_cd, normalised to 0..1).")


# ---------------------------------------------------------------- stage outputs


class AnalysisOutcome(StrEnum):
    ANALYZED = "analyzed"
    NO_CONTEXT = "no_context"  # no knowledge and no meetings in the window: nothing is suggested
    NO_TOPICS = "no_topics"    # context exists but nothing in it recurs enough to write about


class SourceSummary(_Frozen):
    source_id: UUID
    title: str
    source_date: date
    chunks: int


class ContextSummary(_Frozen):
    """What the analysis read of one kind of context."""

    source: ContextSource
    items: list[SourceSummary]
    chunk_count: int


class TopicInsight(_Frozen):
    phrase: str
    score: float = Field(ge=0)
    occurrences: int = Field(ge=1)
    last_seen: date
    chunk_ids: list[UUID] = Field(min_length=1)


class ContentSuggestion(_Frozen):
    suggestion_id: UUID = Field(description="Also the id of the generation written for it.")
    topic: str
    content_type: ContentType
    confidence: float = Field(ge=0, le=1)
    reasoning: str
    chunk_ids: list[UUID] = Field(min_length=1, description="The context chunks the topic was found in.")


class ContextAnalysis(_Frozen):
    kind: Literal["context_analysis"] = "context_analysis"
    outcome: AnalysisOutcome
    user_id: str
    local_date: date
    window_start: date
    window_end: date
    knowledge_context: ContextSummary
    meeting_context: ContextSummary
    topics: list[TopicInsight]
    suggestions: list[ContentSuggestion]


class RetrievedChunk(_Frozen):
    """A chunk the writer retrieved for a piece, with its full-text rank; `cited` if the piece uses it."""

    chunk_id: UUID
    source: ContextSource
    source_id: UUID
    source_title: str
    heading: str | None = None
    rank: float
    cited: bool


class GeneratedPiece(_Frozen):
    generation_id: UUID
    content_type: ContentType
    topic: str
    title: str
    body: str
    word_count: int
    char_count: int
    query: str = Field(description="The full-text query the sources were retrieved with.")
    sources: list[RetrievedChunk]

    @property
    def cited_chunk_ids(self) -> list[UUID]:
        return [s.chunk_id for s in self.sources if s.cited]


class Generations(_Frozen):
    kind: Literal["generations"] = "generations"
    pieces: list[GeneratedPiece]


# ---------------------------------------------------------------- schedules, as the scheduler reads them


class PacingSchedule(_Frozen):
    """A user's schedule: at each local time, on each listed weekday, in its time zone, an analysis is due."""

    schedule_id: UUID
    user_id: UserId
    time_zone: TimeZoneName
    local_times: LocalTimes = Field(default_factory=lambda: list(DEFAULT_TIMES))
    days_of_week: Weekdays = Field(default_factory=lambda: list(Weekday))
    content_types: ContentTypes = Field(default_factory=lambda: list(DEFAULT_CONTENT_TYPES))
    window_days: WindowDays = DEFAULT_WINDOW_DAYS
    active: bool = True
    created_at: datetime
    tenant: str | None = None  # the user's tenant: the analyses the schedule starts carry it
