"""Events the projector cannot decode or apply, which errors mean that, and the dead letter each becomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic_core import PydanticSerializationError

from projections.base import Record
from streams.deadletters import ERROR_CHARS, DeadLettered, Reason, dead_letter_id_for, storable

# The event's data, not the database's state: PostgreSQL refused a value (class 22: a NUL in text, a lone
# surrogate, a number out of range; class 23: a constraint; 54000: a value too big for an index row), or it
# could not even be encoded for it. An outage (connection lost, server shutting down) is none of these: it
# propagates and the batch is retried.
UNAPPLIABLE: tuple[type[BaseException], ...] = (
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.ProgramLimitExceededError, UnicodeError,
    PydanticSerializationError,
)


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
        return DeadLettered.kept_whole(self.topic, self.partition, self.offset, self.error, self.raw, now,
                                       reason=self.reason)
