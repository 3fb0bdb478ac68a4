"""The API's side of the model providers: /readyz reports the worker's provider check (503 naming the setting
that fixes it, answered from a cache), and the intake refuses a provider or model outside the allow-list."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from planperfect.processes import api_config
from planperfect.settings import Settings
from streams.topics import Topics
from tests.fakes.secret_scan import no_key_in_any_log  # noqa: F401  (autouse: scans every log line)
from tests.fakes.wiring import SECRET, fake_for
from tests.integration.test_intake_validation import _log_size
from tests.support import eventually, free_port

GOOD = {"job_type": "article", "payload": {"title": "A Good Title", "keywords": ["alpha"], "word_count": 800}}
ANTHROPIC_MODELS = ("claude-haiku-4-5", "claude-sonnet-4-5")


@asynccontextmanager
async def api(infra, database: str, prefix: str, env: dict[str, str], **settings: Any) -> AsyncIterator[TestClient]:
    """The app as `planperfect api` builds it (processes.api_config), with `env` as the vendors' variables."""
    config = api_config(Settings(kafka_bootstrap=infra.bootstrap, database_url=database, topic_prefix=prefix,
                                 **settings), env)
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


async def readiness(client: TestClient) -> tuple[int, dict]:
    """/readyz once Kafka and PostgreSQL are ready (a topic created just now takes a moment to show)."""

    async def answer() -> tuple[int, dict] | None:
        resp = await client.get("/readyz")
        body = await resp.json()
        return None if {"kafka", "postgres"} & set(body.get("problems", {})) else (resp.status, body)

    return await eventually(answer, timeout=20, what="Kafka and PostgreSQL ready")


async def test_readyz_names_the_provider_setting_to_fix_and_asks_the_vendor_at_most_once_per_cache(
        infra, database, prefix) -> None:
    fake = fake_for("anthropic", SECRET, ANTHROPIC_MODELS)
    base = await fake.start()
    closed = f"http://127.0.0.1:{free_port()}"
    try:
        cases = [  # (environment, settings, what the reason must name)
            ({}, {"provider": "anthropic"}, "ANTHROPIC_API_KEY"),  # no key at all: found without a request
            ({"ANTHROPIC_API_KEY": "sk-refused-0000", "ANTHROPIC_BASE_URL": base}, {"provider": "anthropic"},
             "ANTHROPIC_API_KEY"),  # a key the vendor refuses (401)
            ({"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": f"{closed}/v1"}, {"provider": "openai"},
             "OPENAI_BASE_URL"),  # nothing listens there
            ({"ANTHROPIC_API_KEY": SECRET, "ANTHROPIC_BASE_URL": base},
             {"provider": "anthropic", "model_draft": "claude-imaginary-9"}, "PLANPERFECT_MODEL_DRAFT"),
            ({"ANTHROPIC_API_KEY": SECRET, "ANTHROPIC_BASE_URL": base},  # an allowed pair without its key
             {"provider": "anthropic", "provider_allow": "openai:gpt-4o-mini"}, "OPENAI_API_KEY"),
        ]
        for env, settings, names in cases:
            async with api(infra, database, prefix, env, **settings) as client:
                status, body = await readiness(client)
                assert status == 503, (settings, body)
                assert set(body["problems"]) == {"provider"}, body  # PostgreSQL and Kafka are fine
                assert names in body["problems"]["provider"], body
                assert SECRET not in json.dumps(body)
                assert (await client.get("/healthz")).status == 200  # unready, not down: no crash loop

        fake.requests.clear()
        async with api(infra, database, prefix, {"ANTHROPIC_API_KEY": SECRET, "ANTHROPIC_BASE_URL": base},
                       provider="anthropic") as client:
            for _ in range(3):
                status, body = await readiness(client)
                assert status == 200, body
        assert [r.path for r in fake.requests] == ["/v1/models"]  # the later answers came from the cache
    finally:
        await fake.stop()


def _job(**pick: str) -> dict:
    return {**GOOD, "payload": {**GOOD["payload"], **pick}}


REFUSED = [  # (what the job picks, the field named, what the message says)
    ({"provider": "groq", "model": "gpt-4o-mini"}, "payload.provider", "'groq' is not a provider jobs may pick"),
    ({"provider": "openai", "model": "gpt-4.1"}, "payload.model", "'gpt-4.1' is not a model jobs may pick"),
    ({"provider": "openai"}, "payload.model", "names its model too"),
    ({"model": "gpt-4o-mini"}, "payload.provider", "names its provider too"),
]


async def test_the_intake_refuses_a_pick_outside_the_allow_list(infra, database, prefix) -> None:
    async with api(infra, database, prefix, {"OPENAI_API_KEY": SECRET},
                   provider_allow="openai:gpt-4o-mini, anthropic:claude-haiku-4-5") as client:
        await readiness(client)  # the producer connected: the accepted job below is not a race with it
        for pick, field, says in REFUSED:
            resp = await client.post("/v1/jobs", json=_job(**pick))
            assert resp.status == 422, await resp.text()
            error = (await resp.json())["error"]
            assert error["code"] == "validation_error" and error["field"] == field, error
            assert says in error["message"], error
            assert "allowed: openai:gpt-4o-mini, anthropic:claude-haiku-4-5" in error["message"], error
        assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 0

        resp = await client.post("/v1/jobs", json=_job(provider="openai", model="gpt-4o-mini"))
        assert resp.status == 202, await resp.text()
        assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 1


async def test_without_an_allow_list_no_job_picks_its_provider(infra, database, prefix) -> None:
    async with api(infra, database, prefix, {}) as client:
        await readiness(client)
        resp = await client.post("/v1/jobs", json=_job(provider="openai", model="gpt-4o-mini"))
        assert resp.status == 422
        assert "allows none (PLANPERFECT_PROVIDER_ALLOW is empty)" in (await resp.json())["error"]["message"]
        assert (await client.post("/v1/jobs", json=GOOD)).status == 202
