"""A realistic job event log built in-process, with the transitions and handlers the agents use (no Kafka)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from agents import transitions
from agents.context import StageContext, StageInput
from agents.errors import TransientError
from agents.handlers import run_stage
from agents.providers.base import ContentProvider
from agents.providers.offline import OfflineProvider
from streams.commands import RequestStage
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import Brief, JobType, PIPELINES

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


async def job_events(n: int, *, fail_every: int = 0, provider: ContentProvider | None = None) -> list:
    """Events of `n` finished jobs (every fourth a schema job); every `fail_every`-th job fails its draft once
    before succeeding. The offline provider writes the content unless another is given."""
    provider = provider or OfflineProvider()
    out = []
    for i in range(n):
        job_type = JobType.SCHEMA if i % 4 == 3 else JobType.ARTICLE
        job_id = uuid.UUID(int=i + 1)
        now = T0 + timedelta(minutes=i)
        brief = Brief(title=f"Field notes on topic number {i}", keywords=["topic", f"angle {i % 5}"], word_count=400)
        sub = JobSubmitted(
            event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=now, correlation_id=job_id,
            job_type=job_type, requester_email="a@example.com", brief=brief, initial_stage=PIPELINES[job_type][0],
            priority=5, delay_seconds=0, max_attempts=3, retry_delay_seconds=1, visibility_seconds=60,
        )
        out.append(sub)
        req: RequestStage | None = transitions.first_request(sub, now)
        failed_once = False
        while isinstance(req, RequestStage):
            now += timedelta(seconds=1)
            begun = transitions.started(req, now)
            out.append(begun)
            seq = begun.sequence + 1
            if fail_every and i % fail_every == 0 and req.stage.value == "draft" and not failed_once:
                failed_once = True
                events, retry = transitions.failed(req, begun, seq, TransientError("provider timed out"), 5, now)
                out.extend(events)
                req = retry.request if hasattr(retry, "request") else retry
                continue
            inp = StageInput(job_id=job_id, job_type=job_type, stage=req.stage, attempt=req.attempt,
                             brief=brief, outputs=req.outputs)
            ctx = StageContext(provider=provider, clock=lambda: now)
            output = await run_stage(inp, ctx)
            done, after = transitions.completed(req, begun, seq, output, 3, now, ctx.usage.stage_usage(provider.name))
            out.append(done)
            if isinstance(after, RequestStage):
                req = after
            else:
                out.append(after)
                req = None
    return out
