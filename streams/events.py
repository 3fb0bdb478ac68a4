"""Facts about jobs, in the past tense, as they are written to the job event log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Union
from uuid import UUID

from pydantic import EmailStr, Field, TypeAdapter

from streams.envelope import Envelope
from streams.payloads import AnyBrief, JobType, Stage, StageOutput
from streams.usage import StageUsage


class JobSubmitted(Envelope):
    type: Literal["JobSubmitted"] = "JobSubmitted"
    schema_version: Literal[1] = 1
    job_type: JobType
    requester_email: EmailStr | None = None  # optional, as in the seed (additive: older events all carry one)
    brief: AnyBrief
    initial_stage: Stage
    priority: int
    delay_seconds: int
    max_attempts: int
    retry_delay_seconds: int
    visibility_seconds: int
    idempotency_key: str | None = None
    # SHA-256 of the request the key first came with (additive: older events, and jobs sent without a key, have
    # none), so that the key sent again with another body is refused instead of answered with this job.
    request_fingerprint: str | None = None
    # Who it is for (additive: older events have neither): the submitting API key's tenant, if it is bound to one,
    # and that key's id. Reads are confined by them (api/principal.py, Principal.sees).
    tenant: str | None = None
    submitted_by: str | None = None
    # Additive, no new version: an older event has no budget, which is what None says.
    token_budget: int | None = Field(None, ge=1, description="Input + output tokens the job may use in all.")


class StageStarted(Envelope):
    """v2: the time limit is in milliseconds (v1 said `time_limit_seconds`; see streams/upcasters.py)."""

    type: Literal["StageStarted"] = "StageStarted"
    schema_version: Literal[2] = 2
    stage: Stage
    attempt: int = Field(ge=1)
    time_limit_ms: int = Field(ge=1000)


class StageCompleted(Envelope):
    """v2: `usage`, the attempt's model calls with their tokens and cost (v1 had none; see streams/upcasters.py)."""

    type: Literal["StageCompleted"] = "StageCompleted"
    schema_version: Literal[2] = 2
    stage: Stage
    attempt: int = Field(ge=1)
    duration_ms: int = Field(ge=0)
    output: StageOutput
    next_stage: Stage | None
    usage: StageUsage


class StageFailed(Envelope):
    """v2: `usage`, as on StageCompleted: a failed attempt's calls were made and paid for too."""

    type: Literal["StageFailed"] = "StageFailed"
    schema_version: Literal[2] = 2
    stage: Stage
    attempt: int = Field(ge=1)
    error_code: str
    error: str
    retryable: bool
    duration_ms: int = Field(ge=0)
    usage: StageUsage


class JobCompleted(Envelope):
    type: Literal["JobCompleted"] = "JobCompleted"
    schema_version: Literal[1] = 1
    final_stage: Stage


class StageExtended(Envelope):
    """A running attempt asked for more time; its deadline moved."""

    type: Literal["StageExtended"] = "StageExtended"
    schema_version: Literal[1] = 1
    stage: Stage
    attempt: int = Field(ge=1)
    extra_seconds: float = Field(gt=0)
    deadline_at: datetime


class RetryScheduled(Envelope):
    type: Literal["RetryScheduled"] = "RetryScheduled"
    schema_version: Literal[1] = 1
    stage: Stage
    attempt: int = Field(ge=1, description="The attempt that will run.")
    delay_seconds: float = Field(ge=0)
    due_at: datetime


class JobDeadLettered(Envelope):
    type: Literal["JobDeadLettered"] = "JobDeadLettered"
    schema_version: Literal[1] = 1
    stage: Stage
    attempts: int
    reason: str
    dead_letter_id: UUID


class JobRedriven(Envelope):
    type: Literal["JobRedriven"] = "JobRedriven"
    schema_version: Literal[1] = 1
    stage: Stage
    dead_letter_id: UUID
    by: str | None = None  # who redrove it: `key:<id> (<name>)` (additive: older events have none)


class JobCancelled(Envelope):
    type: Literal["JobCancelled"] = "JobCancelled"
    schema_version: Literal[1] = 1
    stage: Stage | None
    reason: str
    by: str | None = None  # who asked for it: `key:<id> (<name>)` (additive: older events have none)


class StageReturned(Envelope):
    """A later stage sent the job back to an earlier one to redo its work: QA's findings on the draft (once a job)."""

    type: Literal["StageReturned"] = "StageReturned"
    schema_version: Literal[1] = 1
    stage: Stage = Field(description="The stage whose findings sent the job back (qa).")
    to_stage: Stage = Field(description="The stage that runs again, given the findings (draft).")
    findings: list[str] = Field(min_length=1, description="What the stage found; the redone stage is asked to fix it.")


EVENT_CLASSES = (
    JobSubmitted, StageStarted, StageExtended, StageCompleted, StageFailed, RetryScheduled,
    JobCompleted, JobDeadLettered, JobRedriven, JobCancelled, StageReturned,
)

Event = Annotated[
    Union[
        JobSubmitted, StageStarted, StageExtended, StageCompleted, StageFailed, RetryScheduled,
        JobCompleted, JobDeadLettered, JobRedriven, JobCancelled, StageReturned,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: tuple[str, ...] = tuple(cls.model_fields["type"].default for cls in EVENT_CLASSES)
TERMINAL_EVENTS: tuple[str, ...] = ("JobCompleted", "JobDeadLettered", "JobCancelled")
