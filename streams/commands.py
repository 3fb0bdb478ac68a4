"""Requests, in the imperative, carried on the stage topics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union
from uuid import UUID

from pydantic import Field, TypeAdapter

from streams.envelope import Message
from streams.payloads import AnyBrief, JobType, Stage, StageOutputs
from streams.topics import Lane, lane_for


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
    brief: AnyBrief
    outputs: StageOutputs
    # Additive, no new version: a request from before them has no budget and counts from 0.
    token_budget: int | None = Field(None, ge=1, description="The job's token budget (input + output).")
    tokens_used: int = Field(0, ge=0, description="Tokens the job's earlier attempts and stages used.")

    @property
    def lane(self) -> Lane:
        return lane_for(self.priority)


class DelayStage(Message):
    """Hold `request` until `due_at`, then deliver it to its stage lane (retries and delayed starts)."""

    type: Literal["DelayStage"] = "DelayStage"
    schema_version: Literal[1] = 1
    command_id: UUID
    job_id: UUID
    due_at: datetime
    request: RequestStage


class CancelJob(Message):
    """Stop a job: a queued or delayed job never runs another stage; a running stage is cancelled."""

    type: Literal["CancelJob"] = "CancelJob"
    schema_version: Literal[1] = 1
    command_id: UUID
    job_id: UUID
    requested_at: datetime
    reason: str = "cancelled by request"


class RedriveJob(Message):
    """Put a dead-lettered job back at its failed stage with fresh attempts."""

    type: Literal["RedriveJob"] = "RedriveJob"
    schema_version: Literal[1] = 1
    command_id: UUID
    job_id: UUID
    requested_at: datetime
    dead_letter_id: UUID
    request: RequestStage = Field(description="The dead-lettered request.")
    next_sequence: int = Field(ge=2, description="The job's next sequence after its dead letter.")
    fresh_attempts: int = Field(3, ge=1, le=20, description="Attempts the redriven stage gets.")


Control = Annotated[Union[CancelJob, RedriveJob], Field(discriminator="type")]

COMMAND_ADAPTER: TypeAdapter[RequestStage] = TypeAdapter(RequestStage)
DELAY_ADAPTER: TypeAdapter[DelayStage] = TypeAdapter(DelayStage)
CONTROL_ADAPTER: TypeAdapter[Control] = TypeAdapter(Control)
