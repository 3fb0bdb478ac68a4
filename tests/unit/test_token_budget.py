"""Usage on the stage outcomes: v1 events upcast to no calls, the job's tokens carried from stage to stage and
attempt to attempt, the budget checked on measured usage, and the intake refusing a budget that is not one."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from agents import transitions
from agents.context import StageContext, StageInput
from agents.errors import PermanentError, TransientError
from agents.handlers import run_stage
from agents.providers.offline import OfflineProvider
from agents.providers.usage import UsageLedger, record_call, recording
from api.errors import validation_error
from api.requests import IntakeRequest
from streams.codec import decode_event, encode
from streams.envelope import event_id_for
from streams.events import JobSubmitted, StageCompleted, StageFailed
from streams.payloads import Brief, JobType, ResearchNotes, Stage, StageOutputs
from streams.usage import CallUsage, StageUsage

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
JOB = uuid.UUID(int=42)
NOTES = ResearchNotes(summary="s", audience="a", angle="x", key_points=["k"], keyword_insights=[], questions=["q"])


def call(inp: int, out: int, cached: int = 0) -> CallUsage:
    return CallUsage(provider="anthropic", model="claude-haiku-4-5", prompt="research.v1", input_tokens=inp,
                     output_tokens=out, cached_tokens=cached, cost_usd=round(inp * 1e-6 + out * 5e-6, 8))


def submitted(budget: int | None = None) -> JobSubmitted:
    return JobSubmitted(event_id=event_id_for(JOB, 1), job_id=JOB, sequence=1, occurred_at=NOW, correlation_id=JOB,
                        job_type=JobType.ARTICLE, brief=Brief(title="Usage"), initial_stage=Stage.RESEARCH,
                        priority=5, delay_seconds=0, max_attempts=3, retry_delay_seconds=1, visibility_seconds=60,
                        token_budget=budget)


def test_v1_outcomes_decode_as_v2_with_no_calls():
    req = transitions.first_request(submitted(), NOW)
    begun = transitions.started(req, NOW)
    done, _ = transitions.completed(req, begun, 3, NOTES, 5, NOW)
    (fail, _), _ = transitions.failed(req, begun, 3, TransientError("timeout"), 5, NOW)
    for event in (done, fail):
        v1 = {k: v for k, v in json.loads(encode(event)).items() if k != "usage"} | {"schema_version": 1}
        decoded = decode_event(json.dumps(v1).encode())
        assert decoded.schema_version == 2 and decoded.usage == StageUsage(provider=None, calls=[])
        assert decoded.usage.tokens == 0 and decoded.usage.cost_usd == 0
    assert decode_event(encode(done)) == done  # v2 round-trips as it is


def test_the_jobs_tokens_are_carried_through_retries_and_stages():
    req = transitions.first_request(submitted(budget=5000), NOW)
    assert (req.token_budget, req.tokens_used) == (5000, 0)
    begun = transitions.started(req, NOW)
    spent = StageUsage(provider="anthropic", calls=[call(1000, 200), call(300, 100, cached=50)])
    (fail, _), delayed = transitions.failed(req, begun, 3, TransientError("truncated"), 5, NOW, spent)
    retry = delayed.request  # held for its backoff
    assert isinstance(fail, StageFailed) and fail.usage == spent
    assert retry.tokens_used == 1600 and retry.token_budget == 5000  # a retry counts the failed attempt's calls
    again = transitions.started(retry, NOW)
    done, nxt = transitions.completed(retry, again, 6, NOTES, 5, NOW, StageUsage(calls=[call(700, 300)]))
    assert isinstance(done, StageCompleted) and done.usage.tokens == 1000
    assert nxt.tokens_used == 2600 and nxt.stage is Stage.OUTLINE


def test_the_budget_is_checked_after_each_measured_call():
    ledger = UsageLedger()
    ledger.limit(5000, 4000)
    with recording(ledger):
        record_call(call(500, 400))  # 4900: within
        with pytest.raises(PermanentError) as raised:
            record_call(call(250, 60))  # 5210
    assert str(raised.value) == "token budget 5000 exceeded: 5210 used"
    assert raised.value.code == "token_budget_exceeded" and len(ledger.calls) == 2  # the call that passed it counts
    assert ledger.stage_usage("offline").provider == "anthropic"  # the provider the calls went to


async def test_a_stage_of_a_job_already_past_its_budget_makes_no_call():
    inp = StageInput(job_id=JOB, job_type=JobType.ARTICLE, stage=Stage.RESEARCH, attempt=1, brief=Brief(title="Usage"),
                     outputs=StageOutputs(), token_budget=100, tokens_used=120)
    with pytest.raises(PermanentError, match="token budget 100 exceeded: 120 used"):
        await run_stage(inp, StageContext(provider=OfflineProvider()))
    ctx = StageContext(provider=OfflineProvider())
    await run_stage(inp.model_copy(update={"tokens_used": 100}), ctx)  # at the budget, not past it: runs
    assert ctx.usage.stage_usage("offline") == StageUsage(provider="offline", calls=[])  # offline: no calls, $0


@pytest.mark.parametrize("budget", [0, -5, "5000", 12.5, True, 2**31])
def test_the_intake_refuses_a_budget_that_is_not_a_positive_int(budget):
    body = {"job_type": "article", "payload": {"title": "A good title"}, "token_budget": budget}
    with pytest.raises(ValidationError) as raised:
        IntakeRequest.model_validate_json(json.dumps(body))
    error = validation_error(raised.value)
    assert error.status_code == 422 and json.loads(error.text)["error"]["field"] == "token_budget"
    ok = IntakeRequest.model_validate_json(json.dumps(body | {"token_budget": 5000}))
    assert ok.token_budget == 5000
