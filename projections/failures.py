"""Events the projector cannot decode or apply, which errors mean that, and the dead letter each becomes."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic_core import PydanticSerializationError

from projections.base import Record
from streams.deadletters import DeadLettered, dead_letter_id_for

# The event's data, not the database's state: PostgreSQL refused a value (class 22: a NUL in text, a lone
# surrogate, a number out of range; class 23: a constraint; 54000: a value too big for an index row), or it
# could not even be encoded for it. An outage (connection lost, server shutting down) is none of these: it
# propagates and the batch is retried.
UNAPPLIABLE: tuple[type[BaseException], ...] = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.ProgramLimitExceededError, UnicodeError,
    PydanticSerializationError,
)
ERROR_CHARS = 500
# A letter carries the event's bytes base64 (a third larger): cut them so that the letter itself always fits
# in a Kafka message, or the projector would stop on publishing it.
RAW_BYTES = 256 * 1024


class Reason:
    UNDECODABLE = "undecodable"
    UNAPPLIABLE = "unappliable"


def storable(text: str) -> str:
    """`text` as PostgreSQL text can hold it: NUL and lone surrogates spelled out as escapes."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class Failure:
    """One event the projector skipped, at its position in the log, and why."""

    topic: str
    partition: int
    offset: int
    reason: str
    error: str
    raw: bytes

    @property
    def dead_letter_id(self) -> UUID:
        return dead_letter_id_for(self.topic, self.partition, self.offset)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @classmethod
    def undecodable(cls, topic: str, partition: int, offset: int, error: str, raw: bytes) -> Failure:
        return cls(topic, partition, offset, Reason.UNDECODABLE, storable(error)[:ERROR_CHARS], raw)

    @classmethod
    def unappliable(cls, record: Record, exc: BaseException) -> Failure:
        # The job is named in the error, not as the letter's job_id: a letter with a job id is a failed stage
        # request that `dlq redrive --all` would try to redrive, and this one holds an event, not a request.
        job_id = getattr(record.message, "job_id", None)
        what = f"{type(record.message).__name__}{f' of job {job_id}' if job_id else ''}"
        error = storable(f"{what}: {type(exc).__name__}: {exc}")[:ERROR_CHARS]
        return cls(record.topic, record.partition, record.offset, Reason.UNAPPLIABLE, error, record.raw)

    def letter(self, now: datetime) -> DeadLettered:
        """The dead letter: the original bytes travel base64 (stored as bytea), never as text."""
        raw, error = self.raw[:RAW_BYTES], self.error
        if len(self.raw) > RAW_BYTES:
            error = f"{error} (the letter keeps the first {RAW_BYTES:,} of its {len(self.raw):,} bytes)"
        if self.reason == Reason.UNDECODABLE:
            return DeadLettered.for_undecodable(self.topic, self.partition, self.offset, error, raw, now)
        return DeadLettered(
            dead_letter_id=self.dead_letter_id, job_id=None, stage=None, reason=self.reason, error=error,
            attempts=0, source_topic=self.topic, source_partition=self.partition, source_offset=self.offset,
            raw_base64=base64.b64encode(raw).decode(), dead_lettered_at=now,
        )
