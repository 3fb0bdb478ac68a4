"""Bad input at the intake: each case answers the right 4xx naming the field, and nothing reaches Kafka."""

from __future__ import annotations

import copy
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from api.app import create_app
from api.config import ApiConfig
from api.openapi import routes_of
from streams.topics import Topics

GOOD = {
    "job_type": "article",
    "requester_email": "editor@example.com",
    "payload": {"title": "A Good Title", "keywords": ["alpha"], "word_count": 800},
}


def _with(path: str, value) -> dict:
    body = copy.deepcopy(GOOD)
    node = body
    *parents, last = path.split(".")
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return body


_DELETE = object()

CASES = [
    ("unknown job_type", _with("job_type", "poem"), 422, "job_type"),
    ("unknown initial_stage", _with("initial_stage", "polish"), 422, "initial_stage"),
    ("stage of another pipeline", _with("initial_stage", "markup"), 422, "initial_stage"),
    ("missing title", _with("payload.title", _DELETE), 422, "payload.title"),
    ("empty title", _with("payload.title", ""), 422, "payload.title"),
    ("malformed email", _with("requester_email", "not-an-email"), 422, "requester_email"),
    ("missing email", _with("requester_email", _DELETE), 422, "requester_email"),
    ("zero word_count", _with("payload.word_count", 0), 422, "payload.word_count"),
    ("negative word_count", _with("payload.word_count", -5), 422, "payload.word_count"),
    ("absurd word_count", _with("payload.word_count", 10_000_000), 422, "payload.word_count"),
    ("word_count as string", _with("payload.word_count", "800"), 422, "payload.word_count"),
    ("keywords not a list", _with("payload.keywords", "alpha"), 422, "payload.keywords"),
    ("payload not an object", _with("payload", "title"), 422, "payload"),
    ("priority out of range", _with("priority", 99), 422, "priority"),
    ("negative delay", _with("delay_seconds", -1), 422, "delay_seconds"),
    ("max_attempts zero", _with("max_attempts", 0), 422, "max_attempts"),
    ("unknown top-level field", _with("colour", "red"), 422, "colour"),
]


@pytest.fixture
async def client(infra, database, prefix):
    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), max_body_bytes=4096))
    async with TestClient(TestServer(app)) as c:
        yield c


async def _log_size(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - fresh metadata for a new topic
            parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return sum(ends.values())
    finally:
        await consumer.stop()


@pytest.mark.parametrize("name,body,status,field", CASES, ids=[c[0] for c in CASES])
async def test_bad_body_names_the_field(client, infra, prefix, name, body, status, field):
    resp = await client.post("/v1/jobs", json=body)
    assert resp.status == status, await resp.text()
    err = (await resp.json())["error"]
    assert err["code"] == "validation_error"
    assert err["field"] == field, err
    assert err["message"]
    assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 0


async def test_transport_level_errors(client, infra, prefix):
    resp = await client.post("/content-intake", data="{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    resp = await client.post("/content-intake", data=json.dumps(GOOD), headers={"Content-Type": "text/plain"})
    assert resp.status == 415 and (await resp.json())["error"]["code"] == "unsupported_media_type"
    big = _with("payload.description", "x" * 400)
    big["payload"]["keywords"] = ["k" * 60] * 25 + ["x" * 5000]
    resp = await client.post("/content-intake", data=json.dumps(big), headers={"Content-Type": "application/json"})
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "body_too_large"
    resp = await client.post("/v1/jobs", json=[1, 2])
    assert resp.status == 422
    resp = await client.post("/v1/jobs", json=GOOD, headers={"Idempotency-Key": "k" * 201})
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "Idempotency-Key"
    assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 0


async def test_status_routes_reject_bad_ids(client):
    resp = await client.get("/v1/jobs/not-a-uuid")
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "job_id"
    resp = await client.get("/v1/jobs/00000000-0000-4000-8000-000000000000")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "job_not_found"
    resp = await client.get("/v1/jobs/00000000-0000-4000-8000-000000000000/payloads/nope")
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "stage"
    resp = await client.get("/v1/jobs?limit=0")
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "limit"
    resp = await client.get("/v1/jobs?cursor=garbage")
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "cursor"
    resp = await client.get("/v1/jobs?status=sleeping")
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "status"
    resp = await client.get("/no/such/route")
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_a_good_job_is_accepted_and_written_once(client, infra, prefix):
    resp = await client.post("/v1/jobs", json=GOOD)
    assert resp.status == 202
    body = await resp.json()
    assert body["status"] == "queued" and body["stage"] == "research"
    assert resp.headers["Location"] == f"/v1/jobs/{body['job_id']}"
    assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 1


async def test_health_and_openapi_match_the_routes(client):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    doc = await (await client.get("/openapi.json")).json()
    documented = {(m.upper(), path) for path, ops in doc["paths"].items() for m in ops}
    assert documented == routes_of(client.server.app)
    assert "IntakeRequest" in doc["components"]["schemas"]


async def test_readyz_names_what_is_missing(infra, database):
    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics("never-created.")))
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/readyz")
        assert resp.status == 503
        assert "kafka" in (await resp.json())["problems"]
