"""Requests, in the imperative, carried on the stage topics."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from streams.envelope import Message
from streams.payloads import Brief, JobType, Stage, StageOutputs


class RequestStage(Message):
    """Run `stage` of a job; the request is the job's token: it says which sequence to write next."""

    type: Literal["RequestStage"] = "RequestStage"
    schema_version: Literal[1] = 1
    command_id: UUID
    job_id: UUID
    job_type: JobType
    stage: Stage
    attempt: int = Field(ge=1)
    next_sequence: int = Field(ge=2, description="Sequence of the next event this job writes.")
    requested_at: datetime
    correlation_id: UUID
    causation_id: UUID
    priority: int
    max_attempts: int
    retry_delay_seconds: int
    visibility_seconds: int
    brief: Brief
    outputs: StageOutputs


COMMAND_ADAPTER: TypeAdapter[RequestStage] = TypeAdapter(RequestStage)
