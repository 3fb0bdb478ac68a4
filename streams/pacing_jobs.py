"""How one user's daily analysis becomes a job on the log: the same JobSubmitted from the scheduler and the API."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid5

from streams.envelope import PLANPERFECT_NS, event_id_for
from streams.events import JobSubmitted
from streams.pacing_payloads import PacingBrief
from streams.payloads import PIPELINES, JobType

PACING_REQUESTER = "pacing@planperfect.example"


def pacing_job_id(user_id: str, local_date: date) -> UUID:
    """One analysis per user per local date: every trigger of that day names the same job."""
    return uuid5(PLANPERFECT_NS, f"pacing:{user_id}:{local_date.isoformat()}")


def pacing_submitted(
    brief: PacingBrief, *, now: datetime, max_attempts: int, retry_delay_seconds: int, visibility_seconds: int,
    priority: int = 5, tenant: str | None = None, submitted_by: str | None = None,
) -> JobSubmitted:
    """The JobSubmitted of the user's analysis for `brief.local_date`; the dispatcher starts it once. `tenant`:
    the user's (from the schedule, or the API's caller); `submitted_by`: the key that asked, when the API triggers it."""
    job_id = pacing_job_id(brief.user_id, brief.local_date)
    return JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=now, correlation_id=job_id,
        job_type=JobType.PACING, requester_email=PACING_REQUESTER, brief=brief,
        initial_stage=PIPELINES[JobType.PACING][0], priority=priority, delay_seconds=0, max_attempts=max_attempts,
        retry_delay_seconds=retry_delay_seconds, visibility_seconds=visibility_seconds, tenant=tenant,
        submitted_by=submitted_by,
    )
