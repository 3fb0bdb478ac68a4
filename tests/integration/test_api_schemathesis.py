"""Schemathesis against the live app (real Kafka and PostgreSQL, the projector running): every operation, valid
and invalid input, and valid input on ids that exist; no 5xx and every answer as documented (status, content
type, schema).

Bounded for CI: a few examples per operation and mode, derandomized (the same cases every run).
PLANPERFECT_SCHEMATHESIS_EXAMPLES raises the count for a deeper local run.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.config import ApiConfig
from api.openapi import openapi_document
from projections.runner import ProjectionRunner
from streams.topics import Topics
from tests.joblog import job_events, produce
from tests.support import api_client, bearer

# Schemathesis' strategies use `random` in a way Hypothesis deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

EXAMPLES = int(os.environ.get("PLANPERFECT_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def _passes(operation, real: dict[str, str]):
    """(label, strategy) of each pass over an operation: generated input valid and invalid, then valid input
    on the ids of data that exists (so that answers with content are checked too, not only 404s)."""
    names = [p.name for p in operation.path_parameters]
    has_input = bool(names) or any(True for _ in operation.iter_parameters()) or bool(operation.body)
    for mode in MODES if has_input else MODES[:1]:  # no input at all: nothing invalid to send
        yield mode.value, operation.as_strategy(generation_mode=mode)
    fixed = {n: real[n] for n in names if n in real}
    if fixed:
        yield "existing ids", operation.as_strategy(path_parameters=fixed)


def _run(spec: dict, base_url: str, real: dict[str, str], key: str) -> tuple[list[str], int]:
    """Every operation, with an admin key; the failures as readable lines, and how many requests were sent."""
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    sent = 0
    with requests.Session() as session:
        session.headers.update(bearer(key))
        for result in schema.get_all_operations():
            operation = result.ok()
            for label, strategy in _passes(operation, real):

                @given(case=strategy)
                @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                          report_multiple_bugs=False)
                def check(case) -> None:
                    nonlocal sent
                    sent += 1
                    # The stream's job has ended (or is unknown), so each stream answers and closes.
                    case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=30)

                try:
                    check()
                except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report all
                    failures.append(f"{operation.label} [{label}]: {type(exc).__name__}: {exc}"[:3000])
    return failures, sent


async def _existing(client, infra, prefix: str) -> dict[str, str]:
    """A finished article and a user with a schedule, context and today's analysis: their ids."""
    events = await job_events(1)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    posts = [("/v1/pacing/schedules", {"user_id": "maya", "time_zone": "Europe/Berlin"}),
             ("/v1/users/maya/knowledge", {"title": "Guide", "body": "Heat pumps like low flow temperatures."}),
             ("/v1/users/maya/meetings", {"title": "Sync", "held_on": "2026-03-09", "participants": ["Maya"],
                                          "notes": "We agreed on a heat pump guide."})]
    answers = []
    for url, body in posts:
        resp = await client.post(url, json=body)
        assert resp.status == 202, await resp.text()
        answers.append(await resp.json())
    trigger = await client.post("/v1/pacing/trigger", json={"user_id": "maya"})
    assert trigger.status == 202, await trigger.text()
    job_id = str(events[0].job_id)
    assert (await client.get(f"/v1/jobs/{job_id}")).status == 200  # projected (read-your-writes waits)
    spare = await client.post("/v1/keys", json={"name": "revoked by schemathesis", "role": "reader"})
    assert spare.status == 201, await spare.text()
    return {"job_id": job_id, "user_id": "maya", "schedule_id": answers[0]["schedule"]["schedule_id"],
            "analysis_id": (await trigger.json())["analysis_id"], "key_id": (await spare.json())["key_id"]}


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(infra, database, prefix):
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix))
    projector = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), batch_wait_ms=20)
    await projector.start()
    stop = asyncio.Event()
    projecting = asyncio.create_task(projector.run(stop))
    try:
        async with api_client(infra, config) as client:
            spec = openapi_document(client.server.app)
            real = await _existing(client, infra, prefix)
            base_url = str(client.make_url("")).rstrip("/")
            started = time.monotonic()
            # The app and the projector run on this loop; schemathesis blocks, so it runs in a thread.
            failures, sent = await asyncio.to_thread(_run, spec, base_url, real, client.key)
            print(f"schemathesis: {sent} requests over {len(spec['paths'])} paths in {time.monotonic() - started:.1f} s")
    finally:
        stop.set()
        await projecting
        await projector.stop()
    assert not failures, "\n\n".join(failures)
