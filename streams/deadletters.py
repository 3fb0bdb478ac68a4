"""What the dead-letter topic carries: the reason, the error, the attempts and the original message."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from pydantic import Field

from streams.commands import RequestStage
from streams.envelope import PLANPERFECT_NS, Message
from streams.payloads import Stage


ERROR_CHARS = 500
# A letter carries the message's bytes base64 (a third larger): cut them so that the letter itself always fits in a
# Kafka message, or its writer would stop on publishing it.
RAW_BYTES = 256 * 1024


class Reason:
    """Why a message, not a job's stage, was dead-lettered (a job's stage letter gives its failure instead)."""

    UNDECODABLE = "undecodable"    # its bytes are no message of its topic
    UNAPPLIABLE = "unappliable"    # an event the read model cannot store
    UNPROCESSABLE = "unprocessable"  # a worker failed on it outside a stage's own logic (a bug, data a store refused)


def storable(text: str) -> str:
    """`text` as PostgreSQL text (and JSON) can hold it: NUL and lone surrogates spelled out as escapes."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter_id_for(topic: str, partition: int, offset: int) -> UUID:
    """A message's position names its dead letter, so a re-run after a crash writes the same one."""
    return uuid5(PLANPERFECT_NS, f"dead-letter:{topic}:{partition}:{offset}")


class DeadLettered(Message):
    type: Literal["DeadLettered"] = "DeadLettered"
    schema_version: Literal[1] = 1
    dead_letter_id: UUID
    job_id: UUID | None
    stage: Stage | None
    reason: str
    error: str | None
    attempts: int
    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    original: RequestStage | None = None
    next_sequence: int | None = Field(None, description="Where a redrive continues the job's sequence.")
    raw_base64: str | None = None
    dead_lettered_at: datetime

    @classmethod
    def kept_whole(
        cls, source_topic: str, partition: int, offset: int, error: str, raw: bytes, now: datetime,
        reason: str = Reason.UNDECODABLE,
    ) -> "DeadLettered":
        """The letter of a message at its place in the log, its bytes kept (base64, as many as a letter holds)."""
        error = storable(error)[:ERROR_CHARS]
        if len(raw) > RAW_BYTES:
            error = f"{error} (the letter keeps the first {RAW_BYTES:,} of its {len(raw):,} bytes)"
        return cls(
            dead_letter_id=dead_letter_id_for(source_topic, partition, offset), job_id=None, stage=None,
            reason=reason, error=error, attempts=0, source_topic=source_topic,
            source_partition=partition, source_offset=offset,
            raw_base64=base64.b64encode(raw[:RAW_BYTES]).decode(), dead_lettered_at=now,
        )
