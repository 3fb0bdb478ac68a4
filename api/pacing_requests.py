"""Request bodies of the pacing routes, validated strictly before anything reaches Kafka."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from api.storable import StorableRequest

from streams.pacing_events import ContextText, Participant, Title
from streams.pacing_payloads import (
    DEFAULT_CONTENT_TYPES,
    DEFAULT_TIMES,
    DEFAULT_WINDOW_DAYS,
    ContentTypes,
    LocalTimes,
    TimeZoneName,
    UserId,
    Weekday,
    Weekdays,
    WindowDays,
)


class _Request(StorableRequest):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleCreate(_Request):
    """POST /v1/pacing/schedules."""

    user_id: UserId
    time_zone: TimeZoneName = Field(description="IANA time zone the local times are in, e.g. Europe/Berlin.")
    local_times: LocalTimes = Field(default_factory=lambda: list(DEFAULT_TIMES), description="HH:MM, local.")
    days_of_week: Weekdays = Field(default_factory=lambda: list(Weekday))
    content_types: ContentTypes = Field(default_factory=lambda: list(DEFAULT_CONTENT_TYPES))
    window_days: WindowDays = DEFAULT_WINDOW_DAYS
    active: bool = True


class SchedulePatch(_Request):
    """PATCH /v1/pacing/schedules/{id}: the fields to change (null is not a value: leave a field out instead)."""

    time_zone: TimeZoneName = None  # type: ignore[assignment]
    local_times: LocalTimes = None  # type: ignore[assignment]
    days_of_week: Weekdays = None  # type: ignore[assignment]
    content_types: ContentTypes = None  # type: ignore[assignment]
    window_days: WindowDays = None  # type: ignore[assignment]
    active: bool = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something(self) -> "SchedulePatch":
        if not self.model_fields_set:
            raise ValueError(f"body: set at least one of {', '.join(type(self).model_fields)}")
        return self


class KnowledgeCreate(_Request):
    """POST /v1/users/{user_id}/knowledge: a document in plain text or Markdown."""

    title: Title
    body: ContextText
    format: Literal["markdown", "text"] = "markdown"


EARLIEST_MEETING = date(1970, 1, 1)
MEETING_LEAD = timedelta(days=366)  # a meeting may be logged ahead, but not years ahead


def _plausible_day(day: date) -> date:
    """A meeting's day within 1970-01-01 .. a year from today: year 1 or 9999 is a typo, not a meeting, and
    would sort every analysis window around it."""
    latest = date.today() + MEETING_LEAD
    if not EARLIEST_MEETING <= day <= latest:
        raise ValueError(f"must be between {EARLIEST_MEETING.isoformat()} and {latest.isoformat()} (a year from today)")
    return day


MeetingDay = Annotated[date, AfterValidator(_plausible_day)]


class MeetingCreate(_Request):
    """POST /v1/users/{user_id}/meetings: notes or a transcript of one meeting."""

    title: Title
    held_on: MeetingDay = Field(description="The day the meeting was held, YYYY-MM-DD, from 1970-01-01 to a year "
                                            "from today.")
    participants: list[Participant] = Field(min_length=1, max_length=100)
    kind: Literal["notes", "transcript"] = "notes"
    notes: ContextText


class TriggerRequest(_Request):
    """POST /v1/pacing/trigger: analyse the user's context for today (in the schedule's time zone) now."""

    user_id: UserId
    schedule_id: UUID | None = Field(None, description="Which schedule's settings to use; the user's first if left out.")
