"""Pure decisions of a stage attempt: which events it writes and what is requested next."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from agents.errors import StageError
from streams.commands import RequestStage
from streams.envelope import command_id_for, event_id_for
from streams.events import JobCompleted, JobFailed, JobSubmitted, StageCompleted, StageFailed, StageStarted
from streams.payloads import StageOutputs, next_stage


def first_request(sub: JobSubmitted, now: datetime) -> RequestStage:
    """The request that starts a submitted job at its initial stage."""
    return RequestStage(
        command_id=command_id_for(sub.job_id, f"{sub.initial_stage.value}:1"),
        job_id=sub.job_id,
        job_type=sub.job_type,
        stage=sub.initial_stage,
        attempt=1,
        next_sequence=sub.sequence + 1,
        requested_at=now,
        correlation_id=sub.correlation_id,
        causation_id=sub.event_id,
        priority=sub.priority,
        max_attempts=sub.max_attempts,
        retry_delay_seconds=sub.retry_delay_seconds,
        visibility_seconds=sub.visibility_seconds,
        brief=sub.brief,
        outputs=StageOutputs(),
    )


def _envelope(req: RequestStage, offset: int, now: datetime, causation) -> dict:
    seq = req.next_sequence + offset
    return dict(
        event_id=event_id_for(req.job_id, seq),
        job_id=req.job_id,
        sequence=seq,
        occurred_at=now,
        correlation_id=req.correlation_id,
        causation_id=causation,
    )


def started(req: RequestStage, now: datetime) -> StageStarted:
    return StageStarted(
        **_envelope(req, 0, now, req.command_id),
        stage=req.stage,
        attempt=req.attempt,
        time_limit_seconds=req.visibility_seconds,
    )


def completed(
    req: RequestStage, begun: StageStarted, output: BaseModel, duration_ms: int, now: datetime
) -> tuple[StageCompleted, RequestStage | JobCompleted]:
    """The completion of this attempt and what follows: the next stage's request or the job's end."""
    following = next_stage(req.job_type, req.stage)
    done = StageCompleted(
        **_envelope(req, 1, now, begun.event_id),
        stage=req.stage,
        attempt=req.attempt,
        duration_ms=duration_ms,
        output=output,
        next_stage=following,
    )
    if following is None:
        return done, JobCompleted(**_envelope(req, 2, now, done.event_id), final_stage=req.stage)
    nxt = req.model_copy(
        update=dict(
            command_id=command_id_for(req.job_id, f"{following.value}:1"),
            stage=following,
            attempt=1,
            next_sequence=req.next_sequence + 2,
            requested_at=now,
            causation_id=done.event_id,
            outputs=req.outputs.with_output(req.stage, output),
        )
    )
    return done, nxt


def failed(
    req: RequestStage, begun: StageStarted, error: StageError, duration_ms: int, now: datetime
) -> tuple[StageFailed, RequestStage | JobFailed]:
    """The failure of this attempt, then another attempt while attempts remain, else the job fails."""
    fail = StageFailed(
        **_envelope(req, 1, now, begun.event_id),
        stage=req.stage,
        attempt=req.attempt,
        error_code=error.code,
        error=str(error),
        retryable=error.retryable,
        duration_ms=duration_ms,
    )
    if error.retryable and req.attempt < req.max_attempts:
        attempt = req.attempt + 1
        retry = req.model_copy(
            update=dict(
                command_id=command_id_for(req.job_id, f"{req.stage.value}:{attempt}"),
                attempt=attempt,
                next_sequence=req.next_sequence + 2,
                requested_at=now,
                causation_id=fail.event_id,
            )
        )
        return fail, retry
    reason = "permanent error" if not error.retryable else f"failed after {req.attempt} attempts"
    return fail, JobFailed(**_envelope(req, 2, now, fail.event_id), stage=req.stage, reason=f"{reason}: {error}")
