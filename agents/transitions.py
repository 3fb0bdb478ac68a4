"""Pure decisions of a job's life: which events a step writes, at which sequence, and what is requested next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel

from agents.errors import PermanentError, StageError
from agents.retry import DeadLetter, decide
from streams.commands import DelayStage, RedriveJob, RequestStage
from streams.deadletters import DeadLettered
from streams.envelope import command_id_for, event_id_for
from streams.events import (
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobRedriven,
    JobSubmitted,
    RetryScheduled,
    StageCompleted,
    StageExtended,
    StageFailed,
    StageReturned,
    StageStarted,
)
from streams.payloads import QAReport, Stage, StageOutputs, next_stage
from streams.usage import StageUsage

# What a request turns into on the way to its stage: delivered now, or held until due.
Routed = RequestStage | DelayStage


@dataclass(frozen=True)
class Returned:
    """The job goes back to an earlier stage: the event that says so, then the request that redoes the stage."""

    event: StageReturned
    request: RequestStage


def _envelope(job_id: UUID, correlation_id: UUID, seq: int, now: datetime, causation: UUID | None) -> dict:
    return dict(
        event_id=event_id_for(job_id, seq), job_id=job_id, sequence=seq, occurred_at=now,
        correlation_id=correlation_id, causation_id=causation,
    )


def route(req: RequestStage, due_at: datetime, now: datetime) -> Routed:
    """Deliver now if due, else wrap in a delay that releases it at `due_at`."""
    if due_at <= now:
        return req
    return DelayStage(command_id=command_id_for(req.job_id, f"delay:{req.command_id}"), job_id=req.job_id,
                      due_at=due_at, request=req)


def first_request(sub: JobSubmitted, now: datetime) -> Routed:
    """The request that starts a submitted job at its initial stage, held back by `delay_seconds`."""
    req = RequestStage(
        command_id=command_id_for(sub.job_id, f"{sub.initial_stage.value}:1"),
        job_id=sub.job_id, job_type=sub.job_type, stage=sub.initial_stage, attempt=1,
        next_sequence=sub.sequence + 1, requested_at=now, correlation_id=sub.correlation_id,
        causation_id=sub.event_id, priority=sub.priority, max_attempts=sub.max_attempts,
        retry_delay_seconds=sub.retry_delay_seconds, visibility_seconds=sub.visibility_seconds,
        brief=sub.brief, outputs=StageOutputs(), token_budget=sub.token_budget,
    )
    return route(req, sub.occurred_at + timedelta(seconds=sub.delay_seconds), now)


def started(req: RequestStage, now: datetime, attempt: int | None = None) -> StageStarted:
    """`attempt` differs from the request's when a crashed attempt of the same request is re-run."""
    return StageStarted(
        **_envelope(req.job_id, req.correlation_id, req.next_sequence, now, req.command_id),
        stage=req.stage, attempt=attempt or req.attempt, time_limit_ms=req.visibility_seconds * 1000,
    )


def extended(begun: StageStarted, seq: int, extra: float, deadline: datetime, now: datetime) -> StageExtended:
    return StageExtended(
        **_envelope(begun.job_id, begun.correlation_id, seq, now, begun.event_id),
        stage=begun.stage, attempt=begun.attempt, extra_seconds=extra, deadline_at=deadline,
    )


def completed(
    req: RequestStage, begun: StageStarted, seq: int, output: BaseModel, duration_ms: int, now: datetime,
    usage: StageUsage | None = None,
) -> tuple[StageCompleted, RequestStage | JobCompleted | Returned]:
    """The completion written at `seq` with the attempt's model usage, then the next stage's request (which
    carries the job's tokens so far), the job's end, or, when QA found what a new draft can fix, the return to
    the draft (once a job)."""
    usage = usage or StageUsage()
    following = Stage.DRAFT if _returns_to_draft(req, output) else next_stage(req.job_type, req.stage)
    done = StageCompleted(
        **_envelope(req.job_id, req.correlation_id, seq, now, begun.event_id),
        stage=req.stage, attempt=begun.attempt, duration_ms=duration_ms, output=output, next_stage=following,
        usage=usage,
    )
    if following is None:
        return done, JobCompleted(**_envelope(req.job_id, req.correlation_id, seq + 1, now, done.event_id),
                                  final_stage=req.stage)
    nxt = req.model_copy(update=dict(
        command_id=command_id_for(req.job_id, f"{following.value}:1"), stage=following, attempt=1,
        next_sequence=seq + 1, requested_at=now, causation_id=done.event_id,
        outputs=req.outputs.with_output(req.stage, output), tokens_used=req.tokens_used + usage.tokens,
    ))
    if req.stage is Stage.QA and following is Stage.DRAFT:
        back = StageReturned(**_envelope(req.job_id, req.correlation_id, seq + 1, now, done.event_id),
                             stage=req.stage, to_stage=following, findings=output.draft_findings)
        again = nxt.model_copy(update=dict(command_id=command_id_for(req.job_id, f"{following.value}:returned"),
                                           next_sequence=seq + 2, causation_id=back.event_id))
        return done, Returned(back, again)
    return done, nxt


def _returns_to_draft(req: RequestStage, output: BaseModel) -> bool:
    """QA found what a new draft can fix, and has not sent this job back before: a request to QA carries an earlier
    QA report only when the draft was redone after one."""
    return (req.stage is Stage.QA and isinstance(output, QAReport) and bool(output.draft_findings)
            and req.outputs.qa is None)


def rejected(req: RequestStage, output: BaseModel) -> StageError | None:
    """The failure of a QA attempt that still finds fault with a draft redone once for it (None: the output stands).
    Permanent: another QA attempt measures the same draft; the job is dead-lettered with the findings."""
    if req.stage is Stage.QA and isinstance(output, QAReport) and output.draft_findings and req.outputs.qa is not None:
        return PermanentError("QA still finds fault with the draft after it was redone once: "
                              + "; ".join(output.draft_findings), code="qa_rejected")
    return None


def failed(
    req: RequestStage, begun: StageStarted, seq: int, error: StageError, duration_ms: int, now: datetime,
    usage: StageUsage | None = None,
) -> tuple[list, Routed | DeadLettered]:
    """StageFailed at `seq` with the attempt's model usage; then a retry after backoff while attempts remain,
    else the dead letters. Either way the job's tokens so far include this attempt's."""
    usage = usage or StageUsage()
    fail = StageFailed(
        **_envelope(req.job_id, req.correlation_id, seq, now, begun.event_id),
        stage=req.stage, attempt=begun.attempt, error_code=error.code, error=str(error),
        retryable=error.retryable, duration_ms=duration_ms, usage=usage,
    )
    req = req.model_copy(update={"tokens_used": req.tokens_used + usage.tokens})
    decision = decide(error, begun.attempt, req.max_attempts, req.retry_delay_seconds, req.job_id)
    if isinstance(decision, DeadLetter):
        dead, letter = dead_lettered(req, seq + 1, begun.attempt, decision.reason, str(error), fail.event_id, now)
        return [fail, dead], letter
    due = now + timedelta(seconds=decision.delay_seconds)
    scheduled = RetryScheduled(
        **_envelope(req.job_id, req.correlation_id, seq + 1, now, fail.event_id),
        stage=req.stage, attempt=decision.attempt, delay_seconds=decision.delay_seconds, due_at=due,
    )
    retry = req.model_copy(update=dict(
        command_id=command_id_for(req.job_id, f"{req.stage.value}:{decision.attempt}:{seq}"),
        attempt=decision.attempt, next_sequence=seq + 2, requested_at=now, causation_id=scheduled.event_id,
    ))
    return [fail, scheduled], route(retry, due, now)


def dead_lettered(
    req: RequestStage, seq: int, attempts: int, reason: str, error: str, causation: UUID, now: datetime,
    letter_id: UUID | None = None,
) -> tuple[JobDeadLettered, DeadLettered]:
    """`letter_id`: when the letter keeps a message named by its place in the log (`DeadLettered.kept_whole`)."""
    letter_id = letter_id or command_id_for(req.job_id, f"dead-letter:{seq}")
    event = JobDeadLettered(
        **_envelope(req.job_id, req.correlation_id, seq, now, causation),
        stage=req.stage, attempts=attempts, reason=reason, dead_letter_id=letter_id,
    )
    letter = DeadLettered(
        dead_letter_id=letter_id, job_id=req.job_id, stage=req.stage, reason=reason, error=error,
        attempts=attempts, source_topic=f"stage.{req.stage.value}",
        original=req.model_copy(update={"attempt": attempts}), next_sequence=seq + 1,
        dead_lettered_at=now,
    )
    return event, letter


def redriven(cmd: RedriveJob, now: datetime) -> tuple[JobRedriven, RequestStage]:
    """Back to the failed stage with fresh attempts, continuing the job's sequence after its dead letter."""
    req = cmd.request
    event = JobRedriven(
        **_envelope(req.job_id, req.correlation_id, cmd.next_sequence, now, cmd.command_id),
        stage=req.stage, dead_letter_id=cmd.dead_letter_id, by=cmd.requested_by,
    )
    # Fresh attempts: a new budget of max_attempts, numbered on from the attempts already made.
    again = req.model_copy(update=dict(
        command_id=command_id_for(req.job_id, f"redrive:{cmd.dead_letter_id}"), attempt=req.attempt + 1,
        max_attempts=req.attempt + cmd.fresh_attempts, next_sequence=cmd.next_sequence + 1, requested_at=now,
        causation_id=event.event_id,
    ))
    return event, again


def cancelled(job_id: UUID, correlation_id: UUID, seq: int, stage: Stage | None, reason: str,
              causation: UUID | None, now: datetime, by: str | None = None) -> JobCancelled:
    return JobCancelled(**_envelope(job_id, correlation_id, seq, now, causation), stage=stage, reason=reason, by=by)
