"""The envelope every event carries, and deterministic ids so that a redelivery is the same fact."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

# Fixed namespace for ids derived from job ids; changing it would change every derived id.
PLANPERFECT_NS = UUID("5b0d5f5e-8c1e-4a38-9c55-3a4f6f7f0a11")


class Message(BaseModel):
    """Base of events and commands: frozen, strictly shaped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(Message):
    """Fields every event has; `sequence` grows by one with every event of a job, from 1."""

    event_id: UUID
    job_id: UUID
    sequence: int = Field(ge=1)
    occurred_at: datetime
    correlation_id: UUID
    causation_id: UUID | None = None


def event_id_for(job_id: UUID, sequence: int) -> UUID:
    """The id of a job's n-th event: a re-run that writes the same position writes the same event."""
    return uuid5(job_id, f"event:{sequence}")


def command_id_for(job_id: UUID, name: str) -> UUID:
    """Deterministic id of a command derived from a job (e.g. `research:1`)."""
    return uuid5(job_id, f"command:{name}")


def job_id_for_idempotency_key(key: str) -> UUID:
    """Same Idempotency-Key, same job id: a repeated submission is the same job."""
    return uuid5(PLANPERFECT_NS, f"idempotency:{key}")
