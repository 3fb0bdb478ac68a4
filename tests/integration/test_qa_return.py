"""QA with a model's verdict, through the real stage runner, the real SDK and a fake vendor: a failing verdict sends
the job back to the draft once (an event the read model and a rebuild keep), a second one fails the job."""

from __future__ import annotations

import json
import uuid
from collections import deque
from datetime import datetime, timezone

import asyncpg

from agents import transitions
from agents.handlers import run_stage
from agents.progress import MemoryGuard
from agents.runner import Emitter, StageRunner
from planperfect.migrate import load_migrations
from projections.rebuild import verify
from streams.codec import decode_command, decode_event, encode
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.payloads import JobType, Stage
from streams.topics import Topics
from tests.fakes.anthropic_server import text_of
from tests.fakes.scripted_model import scripted_model
from tests.fakes.wiring import wired
from tests.integration.test_provider_articles import BRIEF
from tests.integration.test_rebuild import project
from tests.joblog import produce

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
TOPICS = Topics("qa.")
FINDING = "The section on batch cooking gives no storage times: add them from the research."
FAIL = json.dumps({"passed": False, "findings": [FINDING]})
DDL = [(f"{m.version:04d}_{m.name}", m.sql) for m in load_migrations()]


class Wire:
    """What the runner writes, by kind: the job's events, and the requests it routes (run next, in order)."""

    def __init__(self) -> None:
        self.events: list = []
        self.requests: deque[bytes] = deque()

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        if topic == TOPICS.job_events:
            self.events.append(decode_event(value))
        elif topic != TOPICS.dead_letters:
            self.requests.append(value)


async def run_job(verdicts: list[str]) -> tuple[list, list[list[dict]]]:
    """An article job run to its end by a StageRunner on the anthropic provider; QA answers `verdicts` first.
    Returns the job's events and the conversations the fake received."""
    queued = deque(verdicts)

    async def model(system: str, conversation: list[dict[str, str]]) -> str:
        if "quality-assurance stage" in system and queued:
            return queued.popleft()
        return await scripted_model(system, conversation)

    job_id = uuid.uuid5(uuid.NAMESPACE_URL, f"qa-return:{len(verdicts)}")
    sub = JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=NOW, correlation_id=job_id,
        job_type=JobType.ARTICLE, requester_email="a@example.com", brief=BRIEF, initial_stage=Stage.RESEARCH,
        priority=5, delay_seconds=0, max_attempts=2, retry_delay_seconds=0, visibility_seconds=60,
    )
    wire = Wire()
    wire.events.append(sub)
    wire.requests.append(encode(transitions.first_request(sub, NOW)))
    async with wired("anthropic") as w:
        w.fake.model = model
        runner = StageRunner(emit=Emitter(TOPICS, wire.send), guard=MemoryGuard(), provider=w.provider,
                             stage_fn=run_stage)
        while wire.requests:
            raw = wire.requests.popleft()
            await runner.on_request(raw, TOPICS.stage(decode_command(raw).stage), 0, 0)
        assert w.fake.violations == []
        conversations = [[{"role": m["role"], "text": text_of(m["content"])} for m in c.body["messages"]]
                         for c in w.fake.calls("/v1/messages")]
    return wire.events, conversations


def steps(events: list) -> list[str]:
    return [f"{e.type}:{getattr(e, 'stage', '')}" for e in events]


async def test_a_failing_verdict_returns_the_job_to_the_draft_once_and_it_completes(infra, prefix, database):
    events, conversations = await run_job([FAIL])
    kinds = steps(events)
    back = kinds.index("StageReturned:qa")
    assert kinds[back - 1:back + 5] == ["StageCompleted:qa", "StageReturned:qa", "StageStarted:draft",
                                        "StageCompleted:draft", "StageStarted:qa", "StageCompleted:qa"]
    assert kinds.count("StageReturned:qa") == 1 and kinds[-1] == "JobCompleted:"
    returned = events[back]
    assert returned.to_stage is Stage.DRAFT and returned.findings == [f"Reviewer: {FINDING}"]
    first_qa, second_qa = (e.output for e in events if e.type == "StageCompleted" and e.stage is Stage.QA)
    assert not first_qa.passed and first_qa.review.findings == [FINDING] and second_qa.passed
    assert first_qa.word_count == second_qa.word_count  # the measures are the code's, whatever the verdict
    redraft = next(c for c in conversations if len(c) == 3 and "returned this article" in c[2]["text"])
    assert FINDING in redraft[2]["text"]  # the redraft was asked to fix what QA found, after its earlier draft

    # The read model shows the return, and a rebuild from the log folds it the same way.
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    await project(infra, database, prefix)
    conn = await asyncpg.connect(database)
    try:
        job = await conn.fetchrow("SELECT status, current_stage FROM content_jobs")
        body = await conn.fetchval("SELECT body FROM content_events WHERE type = 'StageReturned'")
    finally:
        await conn.close()
    assert tuple(job) == ("completed", "complete") and json.loads(body)["findings"] == returned.findings
    check = await verify(infra.bootstrap, database, Topics(prefix), DDL, settle=2, echo=lambda _: None)
    assert check.same


async def test_a_second_failing_verdict_fails_the_job_as_any_failure_does():
    events, _ = await run_job([FAIL, FAIL])
    kinds = steps(events)
    assert kinds.count("StageReturned:qa") == 1 and kinds.count("StageStarted:draft") == 2
    assert kinds[-2:] == ["StageFailed:qa", "JobDeadLettered:qa"]
    failed = events[-2]
    assert failed.error_code == "qa_rejected" and not failed.retryable and FINDING in failed.error
