"""Facts about a user's pacing context, in the past tense, as written to the pacing-events topic (keyed by user id).

These are not job events: they belong to a user, not to a job, so they carry `user_id` instead of
`job_id` and no per-job `sequence`; their order is the order of the user's partition.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Union
from uuid import UUID

from pydantic import Field, StringConstraints, TypeAdapter

from streams.codec import decode_as
from streams.envelope import Message
from streams.pacing_payloads import ContentTypes, LocalTimes, TimeZoneName, UserId, Weekdays, WindowDays

# The largest knowledge document or meeting notes accepted, in characters.
MAX_CONTEXT_CHARS = 100_000

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ContextText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CONTEXT_CHARS)]
Participant = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class PacingFact(Message):
    """Fields every pacing context event has."""

    event_id: UUID
    user_id: UserId
    occurred_at: datetime
    correlation_id: UUID
    causation_id: UUID | None = None
    # Whose user it is (additive: older events have none): the writing API key's tenant, or the user's tenant
    # when a key bound to no tenant wrote it. A user belongs to one tenant (api/pacing.py refuses the others).
    tenant: str | None = None
    # Who wrote it (additive: older events have none): the API key, `key:<id> (<name>)`, as JobCancelled.by records
    # an operator's cancel; so a tenant can tell a document or schedule another key added from its own.
    by: str | None = None


class KeyedFact(PacingFact):
    """A fact a POST with an Idempotency-Key may write: SHA-256 of the request it was written for (additive: older
    facts, and those written without a key, have none), so that the key sent again with another body is refused
    instead of answered as this fact."""

    request_fingerprint: str | None = None


class ScheduleCreated(KeyedFact):
    type: Literal["ScheduleCreated"] = "ScheduleCreated"
    schema_version: Literal[1] = 1
    schedule_id: UUID
    time_zone: TimeZoneName
    local_times: LocalTimes
    days_of_week: Weekdays
    content_types: ContentTypes
    window_days: WindowDays
    active: bool


class ScheduleUpdated(PacingFact):
    """Only the fields that changed are set; the others keep their value."""

    type: Literal["ScheduleUpdated"] = "ScheduleUpdated"
    schema_version: Literal[1] = 1
    schedule_id: UUID
    time_zone: TimeZoneName | None = None
    local_times: LocalTimes | None = None
    days_of_week: Weekdays | None = None
    content_types: ContentTypes | None = None
    window_days: WindowDays | None = None
    active: bool | None = None


class ScheduleDeleted(PacingFact):
    type: Literal["ScheduleDeleted"] = "ScheduleDeleted"
    schema_version: Literal[1] = 1
    schedule_id: UUID


class KnowledgeDocumentAdded(KeyedFact):
    type: Literal["KnowledgeDocumentAdded"] = "KnowledgeDocumentAdded"
    schema_version: Literal[1] = 1
    document_id: UUID
    title: Title
    format: Literal["markdown", "text"]
    body: ContextText


class MeetingNotesAdded(KeyedFact):
    type: Literal["MeetingNotesAdded"] = "MeetingNotesAdded"
    schema_version: Literal[1] = 1
    meeting_id: UUID
    title: Title
    held_on: date
    participants: list[Participant] = Field(min_length=1, max_length=100)
    kind: Literal["notes", "transcript"]
    notes: ContextText


PACING_EVENT_CLASSES = (ScheduleCreated, ScheduleUpdated, ScheduleDeleted, KnowledgeDocumentAdded, MeetingNotesAdded)

PacingEvent = Annotated[
    Union[ScheduleCreated, ScheduleUpdated, ScheduleDeleted, KnowledgeDocumentAdded, MeetingNotesAdded],
    Field(discriminator="type"),
]

PACING_EVENT_ADAPTER: TypeAdapter[PacingEvent] = TypeAdapter(PacingEvent)


def pacing_key(user_id: str) -> bytes:
    """Keyed by user: one user's context events stay in order on one partition."""
    return user_id.encode()


def decode_pacing_event(raw: bytes) -> PacingEvent:
    """Bytes from the pacing-events topic, through the upcasters, into a typed event; DecodeError otherwise."""
    return decode_as(PACING_EVENT_ADAPTER, raw, "pacing event")
