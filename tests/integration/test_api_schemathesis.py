"""Schemathesis against the live app (real Kafka and PostgreSQL, the projector running): every operation, valid
and invalid input, no 5xx and every answer as documented (status, content type, schema).

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
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.config import ApiConfig
from api.openapi import openapi_document
from projections.runner import ProjectionRunner
from streams.topics import Topics

# Schemathesis' strategies use `random` in a way Hypothesis deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

EXAMPLES = int(os.environ.get("PLANPERFECT_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def _run(spec: dict, base_url: str) -> tuple[list[str], int]:
    """Every operation in both modes; the failures as readable lines, and how many requests were sent."""
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    sent = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            # An operation with no input at all has no invalid input to send.
            has_input = any(True for _ in operation.iter_parameters()) or bool(operation.body)
            for mode in MODES if has_input else MODES[:1]:

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                          report_multiple_bugs=False)
                def check(case) -> None:
                    nonlocal sent
                    sent += 1
                    # A stream of a job that exists would stay open until the job ends: the stream is
                    # checked on real jobs in test_api_contract.py; here its ids are unknown (404).
                    case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=30)

                try:
                    check()
                except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report all
                    failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}"[:3000])
    return failures, sent


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(infra, database, prefix):
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix))
    projector = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), batch_wait_ms=20)
    await projector.start()
    stop = asyncio.Event()
    projecting = asyncio.create_task(projector.run(stop))
    try:
        async with TestClient(TestServer(create_app(config))) as client:
            spec = openapi_document(client.server.app)
            base_url = str(client.make_url("")).rstrip("/")
            started = time.monotonic()
            # The app and the projector run on this loop; schemathesis blocks, so it runs in a thread.
            failures, sent = await asyncio.to_thread(_run, spec, base_url)
            print(f"schemathesis: {sent} requests over {len(spec['paths'])} paths in {time.monotonic() - started:.1f} s")
    finally:
        stop.set()
        await projecting
        await projector.stop()
    assert not failures, "\n\n".join(failures)
