"""Response bodies of every route, as the handlers and the read-side queries really return them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, Json

from projections.job_status import JobStatus, SeedStatus
from streams.events import EVENT_CLASSES, EVENT_TYPES, Event, StageCompleted
from streams.pacing_payloads import AnalysisOutcome, ContentSuggestion, ContentType, ContextSummary, TopicInsight, Weekday
from streams.payloads import AnyBrief, JobType, QAReport, SchemaQAReport, Stage, StageOutput


class _Body(BaseModel):
    # extra="forbid": a field a handler adds without documenting it fails the contract tests.
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- errors and health


class ErrorDetail(_Body):
    code: str = Field(description="Stable, machine-readable: `validation_error`, `job_not_found`, ...")
    message: str = Field(description="What went wrong, for a person.")
    field: str | None = Field(None, description="The field, parameter or header at fault (dotted path).")
    details: Any = Field(None, description="For 422: every offending field with its reason.")


class Error(_Body):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class Alive(_Body):
    status: Literal["ok"]


class Ready(_Body):
    status: Literal["ready"]


class NotReady(_Body):
    status: Literal["unavailable"]
    problems: dict[str, str] = Field(description="Per dependency (`kafka`, `postgres`, `provider`): why it is not "
                                     "usable; the provider's names the setting that fixes it.")


# ---------------------------------------------------------------- jobs

STATUS_MEANINGS = "; ".join(f"`{s.value}`: {s.meaning}" for s in JobStatus)


class JobAccepted(_Body):
    """POST /v1/jobs: the job id to poll, its status and the stage it starts at (or is at)."""

    job_id: UUID
    status: JobStatus = Field(description="`queued` for a new job; its current status for a repeated Idempotency-Key.")
    stage: Stage | None


class JobStage(_Body):
    stage: Stage
    position: int
    status: str
    attempts: int
    max_attempts: int
    started_at: datetime | None
    visibility_timeout_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    duration_ms: int | None
    last_error: str | None


class JobSummary(_Body):
    job_id: UUID
    job_type: JobType
    status: JobStatus = Field(description=STATUS_MEANINGS)
    current_stage: Stage | None
    requester_email: str | None
    title: str
    priority: int
    attempts: int
    max_attempts: int
    retry_delay_seconds: int
    visibility_seconds: int
    delay_seconds: int
    idempotency_key: str | None
    correlation_id: UUID
    last_sequence: int
    last_error: str | None
    queued_at: datetime
    available_at: datetime
    dequeued_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    dead_lettered_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class UsageTotals(_Body):
    calls: int = Field(description="Model calls (the offline provider makes none).")
    input_tokens: int = Field(description="All input tokens, cached ones included.")
    output_tokens: int
    cached_tokens: int = Field(description="Of input_tokens, those read from the vendor's prompt cache.")
    tokens: int = Field(description="input_tokens + output_tokens: what a token budget counts.")
    cost_usd: float = Field(description="At the workers' price table (agents/providers/prices.toml).")


class ModelUsage(UsageTotals):
    provider: str
    model: str


class JobUsage(UsageTotals):
    """A job's model usage over all its stages and attempts (failed ones too)."""

    token_budget: int | None = Field(description="The job's token budget; null: no limit.")
    by_model: list[ModelUsage] = Field(description="The same totals per provider and model.")


class Job(JobSummary):
    tenant: str | None = Field(description="The tenant of the key that submitted it (null: none, or a job from before "
                                           "tenancy).")
    submitted_by: str | None = Field(description="The id of the API key that submitted it (null: the scheduler, or a "
                                                 "job from before tenancy); its jobs are that key's, not its name's.")
    brief: AnyBrief
    stages: list[JobStage]
    usage: JobUsage


class UsageDay(UsageTotals):
    day: date = Field(description="A UTC day.")
    provider: str | None = Field(description="With group_by=provider or model.")
    model: str | None = Field(description="With group_by=model.")
    user_id: str | None = Field(description="With group_by=user: the pacing user (null: articles and schema jobs).")


class UsageReport(_Body):
    """GET /v1/usage: model usage per UTC day; days without a call are left out."""

    from_: date = Field(alias="from")
    to: date
    group_by: Literal["provider", "model", "user"] | None
    user_id: str | None = Field(description="Only this pacing user's jobs, when asked.")
    days: list[UsageDay] = Field(description="Oldest first (then by group).")
    total: UsageTotals = Field(description="Over the whole range.")


class SeedFailure(_Body):
    reason: JobStatus = Field(description="`dead_lettered` or `cancelled`.")
    stage: Stage | None
    error: str | None
    at: datetime | None
    dead_letter_id: UUID | None = Field(description="Redrive it with POST /v1/dlq/{dead_letter_id}/redrive.")


class SeedJobStatus(_Body):
    """GET /content-intake/{job_id}: the seed's four statuses, the richer one beside it."""

    job_id: UUID
    status: SeedStatus = Field(description="queued, processing (running or retrying), completed, or failed "
                                           "(dead-lettered or cancelled: see `failure`).")
    job_status: JobStatus = Field(description=STATUS_MEANINGS)
    stage: Stage | None
    requester_email: str | None
    title: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    failure: SeedFailure | None


class JobPage(_Body):
    jobs: list[JobSummary] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class JobEvents(_Body):
    job_id: UUID
    events: list[Event] = Field(description="In sequence order, each with its `type`.")


class StagePayload(_Body):
    stage: Stage
    attempt: int
    kind: str
    body: StageOutput
    sequence: int
    created_at: datetime


class JobResult(_Body):
    job_id: UUID
    job_type: JobType
    title: str
    slug: str | None = Field(None, description="Articles only.")
    markdown: str | None = Field(None, description="Articles only.")
    html: str | None = Field(None, description="Articles only.")
    json_ld: dict[str, Any] | None = None
    qa: QAReport | SchemaQAReport | None


class OutputRef(_Body):
    kind: str = Field(description="The output's kind (as in its `kind` field).")
    href: str = Field(description="GET it for the whole output: /v1/jobs/{job_id}/payloads/{stage}.")


class StreamedStageCompleted(StageCompleted):
    """StageCompleted as the stream sends it: the output by reference unless `include_output=true`."""

    output: StageOutput | None = Field(None, description="Only with include_output=true.")
    output_ref: OutputRef | None = Field(None, description="Where the output is (unless include_output=true).")


StreamedEvent = Annotated[
    Union[tuple(StreamedStageCompleted if cls is StageCompleted else cls for cls in EVENT_CLASSES)],
    Field(discriminator="type"),
]


class StreamFrame(_Body):
    """One Server-Sent Event of GET /v1/jobs/{job_id}/stream (as a client's EventSource parses it)."""

    id: str = Field(description="The event's sequence: send it back as Last-Event-ID to resume after it.")
    event: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    data: Json[StreamedEvent] = Field(description="The event as JSON.")


class CancelAccepted(_Body):
    job_id: UUID
    status: Literal["cancelling"]


# ---------------------------------------------------------------- dead letters and queues


class DeadLetter(_Body):
    dead_letter_id: UUID
    job_id: UUID | None
    stage: str | None
    reason: str
    error: str | None
    attempts: int
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    dead_lettered_at: datetime
    next_sequence: int | None
    status: Literal["dead", "redriven"]
    redriven_at: datetime | None


class DeadLetterDetail(DeadLetter):
    original: dict[str, Any] | None = Field(description="The message that failed, decoded; null when only its bytes "
                                           "were kept (see raw_base64).")
    raw_base64: str | None = Field(description="The bytes as they were on the log.")


class DeadLetters(_Body):
    dead_letters: list[DeadLetter] = Field(description="Newest first.")


class RedriveAccepted(_Body):
    dead_letter_id: UUID
    job_id: UUID
    status: Literal["redriving"]
    stage: Stage


class PartitionDepth(_Body):
    partition: int
    committed: int | None
    end: int
    lag: int


class QueueDepth(_Body):
    kind: Literal["stage", "delay", "control", "dispatcher", "projector", "dead_letters"]
    stage: Stage | None = None
    lane: str | None = None
    tier_seconds: int | None = None
    topic: str
    group: str
    queue_length: int
    oldest_msg_age_sec: float | None
    newest_msg_age_sec: float | None
    total_messages: int
    partitions: list[PartitionDepth]


class Queues(_Body):
    queues: list[QueueDepth]


# ---------------------------------------------------------------- pacing


class Schedule(_Body):
    schedule_id: UUID
    user_id: str
    time_zone: str
    local_times: list[str]
    days_of_week: list[Weekday]
    content_types: list[ContentType]
    window_days: int
    active: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None = Field(description="The API key that created it, `key:<id> (<name>)` (null for a schedule "
                                               "written before who wrote it was recorded).")
    updated_by: str | None = Field(description="The API key of its last change (its creator until it is changed).")


class AcceptedSchedule(Schedule):
    """The schedule as it will read once projected (a new one has no `updated_at` or `updated_by` yet)."""

    updated_at: datetime | None = None
    updated_by: str | None = None


class ScheduleAccepted(_Body):
    status: Literal["accepted"]
    schedule: AcceptedSchedule


class Schedules(_Body):
    schedules: list[Schedule] = Field(description="Oldest first.")


class ScheduleDeletion(_Body):
    status: Literal["accepted"]
    schedule_id: UUID
    deleted: Literal[True]


class DocumentAccepted(_Body):
    status: Literal["accepted"]
    document_id: UUID
    user_id: str
    chars: int


class Document(_Body):
    document_id: UUID
    user_id: str
    title: str
    format: Literal["markdown", "text"]
    char_count: int
    chunk_count: int
    created_at: datetime
    added_by: str | None = Field(description="The API key that added it, `key:<id> (<name>)` (null for a document "
                                             "added before who wrote it was recorded).")


class Documents(_Body):
    documents: list[Document] = Field(description="Newest first.")


class MeetingAccepted(_Body):
    status: Literal["accepted"]
    meeting_id: UUID
    user_id: str
    chars: int


class Meeting(_Body):
    meeting_id: UUID
    user_id: str
    title: str
    held_on: date
    participants: list[str]
    kind: Literal["notes", "transcript"]
    char_count: int
    chunk_count: int
    created_at: datetime
    added_by: str | None = Field(description="The API key that added it, `key:<id> (<name>)` (null for a meeting "
                                             "added before who wrote it was recorded).")


class Meetings(_Body):
    meetings: list[Meeting] = Field(description="Latest first.")


class AnalysisAccepted(_Body):
    analysis_id: UUID
    job_id: UUID = Field(description="The pacing job doing the analysis (the same id).")
    user_id: str
    local_date: date
    status: str


class Analysis(_Body):
    analysis_id: UUID
    user_id: str
    local_date: date
    slot: str
    trigger: str
    schedule_id: UUID | None
    time_zone: str
    content_types: list[ContentType]
    window_days: int
    status: str
    outcome: AnalysisOutcome | None
    knowledge_context: ContextSummary | None
    meeting_context: ContextSummary | None
    topics: list[TopicInsight] | None
    content_suggestions: list[ContentSuggestion] | None
    attempts: int
    error: str | None
    requested_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    updated_at: datetime
    submitted_by: str | None = Field(description="The id of the API key that triggered it (`POST /v1/pacing/trigger`); "
                                                 "null for the scheduler's analyses.")


class Analyses(_Body):
    analyses: list[Analysis] = Field(description="Latest date first.")


class Generation(_Body):
    generation_id: UUID
    analysis_id: UUID
    user_id: str
    position: int
    content_type: ContentType
    topic: str
    title: str | None
    body: str | None
    metadata: dict[str, Any]
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    updated_at: datetime


class GenerationList(_Body):
    generations: list[Generation] = Field(description="Newest first.")


class PacingTopicDepth(_Body):
    topic: str
    group: str
    stage: Stage | None
    lane: str | None
    pending: int
    oldest_msg_age_sec: float | None
    lag: dict[str, int] = Field(description="Per partition.")


class PacingStatus(_Body):
    topics: list[PacingTopicDepth] = Field(
        description="Empty for a key bound to a tenant: the topics hold every tenant's work.")
    analyses: dict[str, int] = Field(description="Count per status.")
    analysis_outcomes: dict[str, int] = Field(description="Count per outcome.")
    generations: dict[str, int] = Field(description="Count per status.")


# ---------------------------------------------------------------- access: API keys and the monitor's session

KeyRoleName = Literal["submitter", "reader", "operator", "admin"]


class ApiKey(_Body):
    key_id: str = Field(description="The key's public id (the `<id>` in `pp_<id>_<secret>`).")
    name: str
    role: KeyRoleName
    tenant: str | None
    created_at: datetime
    created_by: str = Field(description="Who created it: `key:<id> (<name>)`, `cli:<user>` or `bootstrap`.")
    revoked_at: datetime | None
    revoked_by: str | None


class ApiKeys(_Body):
    keys: list[ApiKey]


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself: shown this once, only its hash is stored.")


class Session(_Body):
    key_id: str
    name: str
    role: KeyRoleName
    tenant: str | None


class SignedOut(_Body):
    signed_out: Literal[True]
