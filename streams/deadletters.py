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
    def for_undecodable(
        cls, source_topic: str, partition: int, offset: int, reason: str, raw: bytes, now: datetime
    ) -> "DeadLettered":
        return cls(
            dead_letter_id=dead_letter_id_for(source_topic, partition, offset), job_id=None, stage=None,
            reason="undecodable", error=reason, attempts=0, source_topic=source_topic,
            source_partition=partition, source_offset=offset,
            raw_base64=base64.b64encode(raw).decode(), dead_lettered_at=now,
        )
