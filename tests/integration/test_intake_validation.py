"""Bad input at the intake: each case answers the right 4xx naming the field, and nothing reaches Kafka."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
from uuid import uuid4

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from api.app import create_app
from api.config import ApiConfig
from api.openapi import routes_of
from streams.topics import Topics
from tests.support import api_client, eventually, make_key, project
from streams.access import kafka_options

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
    # Long enough, but the outline stage would dead-letter it: refused before it reaches the log.
    ("blank title", _with("payload.title", " \t  "), 422, "payload.title"),
    ("blank keyword", _with("payload.keywords", ["alpha", "   "]), 422, "payload.keywords.1"),
    ("malformed email", _with("requester_email", "not-an-email"), 422, "requester_email"),
    ("email of the wrong type", _with("requester_email", 5), 422, "requester_email"),
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
    # Text PostgreSQL cannot hold: refused here, never written to the log where it would stop the projector.
    ("NUL in the title", _with("payload.title", "nul\u0000byte"), 422, "payload.title"),
    ("lone surrogate in the title", _with("payload.title", "half \ud800 a pair"), 422, "payload.title"),
    ("NUL in a keyword", _with("payload.keywords", ["fine", "not\u0000fine"]), 422, "payload.keywords.1"),
    ("lone low surrogate in a keyword", _with("payload.keywords", ["\udc80"]), 422, "payload.keywords.0"),
    ("NUL in the audience", _with("payload.audience", "\u0000"), 422, "payload.audience"),
    ("NUL in the email", _with("requester_email", "a\u0000@example.com"), 422, "requester_email"),
    ("NUL in a field name", _with("payload.ti\u0000tle", "x"), 422, "payload.'ti\\x00tle'"),
    # A later stage would need outputs of the earlier ones, which no request carries: it could never run.
    ("initial_stage past the first", _with("initial_stage", "outline"), 422, "initial_stage"),
    ("initial_stage complete", _with("initial_stage", "complete"), 422, "initial_stage"),
]


@pytest.fixture
async def client(infra, database, prefix):
    async with api_client(infra, ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix),
                                           max_body_bytes=4096), role="submitter") as c:
        yield c


async def _log_size(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap))
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


async def test_refusals_say_what_is_wrong(client):
    resp = await client.post("/v1/jobs", json=_with("payload.title", "nul\u0000byte"))
    err = (await resp.json())["error"]
    assert "NUL" in err["message"] and err["details"] == [{"field": "payload.title", "reason": err["message"][15:]}]
    resp = await client.post("/v1/jobs", json=_with("initial_stage", "draft"))
    err = (await resp.json())["error"]
    assert err["field"] == "initial_stage" and "research, outline" in err["message"], err


async def test_a_job_without_requester_email_is_accepted(client, infra, prefix):
    resp = await client.post("/content-intake", json=_with("requester_email", _DELETE))
    assert resp.status == 202, await resp.text()
    body = await resp.json()
    assert resp.headers["Location"] == f"/content-intake/{body['job_id']}"
    resp = await client.post("/v1/jobs", json=_with("requester_email", None))
    assert resp.status == 202, await resp.text()
    assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 2


async def test_an_idempotency_key_that_is_not_utf8_is_refused(client, infra, prefix):
    """aiohttp hands such header bytes over as lone surrogates: the key is written to the log, so 400."""
    body = json.dumps(GOOD).encode()
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"POST /v1/jobs HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nIdempotency-Key: k\xff\xfe\r\n"
                 b"Authorization: Bearer " + client.key.encode() + b"\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    head, _, payload = (await reader.read()).partition(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(payload)["error"]["field"] == "Idempotency-Key"
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
    for depth in (990, 2000):  # past Python's recursion limit once was a 500
        resp = await client.post("/v1/jobs", data="[" * depth + "]" * depth, headers={"Content-Type": "application/json"})
        assert resp.status in (400, 422) and (await resp.json())["error"]["code"] in ("invalid_json", "validation_error")
    resp = await client.post("/v1/jobs", json=GOOD, headers={"Idempotency-Key": "k" * 201})
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "Idempotency-Key"
    assert await _log_size(infra.bootstrap, Topics(prefix).job_events) == 0


async def test_a_client_that_hangs_up_mid_body_is_not_a_database_outage(infra, database, prefix, caplog):
    caplog.set_level(logging.INFO, logger="planperfect.api")
    # Served as `planperfect api` serves it (aiohttp's TestServer cancels a handler whose client hangs up; the
    # real server lets it run on and hands it the lost connection as a socket error).
    key = await make_key(infra, database, prefix, "submitter")
    runner = web.AppRunner(create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix))))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + key.encode() + b"\r\n"
                     b"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
        # The server's 100 Continue says the request reached its route; then part of the body, and hang up.
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 100")
        writer.write(b'{"job_type": ')
        await writer.drain()
        writer.close()
        await writer.wait_closed()

        async def handled() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "planperfect.api"]

        lines = await eventually(handled, timeout=10, what="the API to log the hang-up")
        assert lines == ["POST /v1/jobs: the client closed the connection mid-body"], lines
    finally:
        await runner.cleanup()


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
    for at in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2026-01-01T00:00:00"):
        # Dates that overflow when shifted to UTC (and a naive one) were 500s from the driver.
        cursor = base64.urlsafe_b64encode(f"{at}|{uuid4()}".encode()).decode()
        resp = await client.get(f"/v1/jobs?cursor={cursor}")
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "cursor", (at, await resp.text())
    for limit in ("abc", "501", "99999999999999999999", "-1"):
        resp = await client.get(f"/v1/jobs?limit={limit}")
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "limit", limit
    for last in ("3000000000", "-1", "seven"):
        resp = await client.get("/v1/jobs/00000000-0000-4000-8000-000000000000/stream", headers={"Last-Event-ID": last})
        assert resp.status == 400 and (await resp.json())["error"]["field"] == "Last-Event-ID", last
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


async def test_an_idempotency_key_sent_again_is_its_first_job_and_with_another_body_is_refused(
        client, infra, database, prefix):
    topics = Topics(prefix)
    key = {"Idempotency-Key": "order-9"}
    resp = await client.post("/v1/jobs", json=GOOD, headers=key)
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job_id"]
    await project(infra.bootstrap, database, topics)
    # The same request, spelled differently (a default written out, keys in another order): the first job.
    again = {"priority": 5, **GOOD}
    resp = await client.post("/v1/jobs", json=again, headers=key)
    assert resp.status == 200 and (await resp.json())["job_id"] == job_id, await resp.text()
    # Another request under the same key: refused, not answered with a job that is not what it asked for.
    resp = await client.post("/v1/jobs", json=_with("payload.title", "Another title"), headers=key)
    assert resp.status == 422, await resp.text()
    err = (await resp.json())["error"]
    assert (err["code"], err["field"]) == ("idempotency_key_reused", "Idempotency-Key")
    assert "another body" in err["message"], err
    assert await _log_size(infra.bootstrap, topics.job_events) == 1
    # The key as the client sent it, not as it is stored (within the API key that sent it).
    assert (await (await client.get(f"/v1/jobs/{job_id}")).json())["idempotency_key"] == "order-9"
    assert [j["idempotency_key"] for j in (await (await client.get("/v1/jobs")).json())["jobs"]] == ["order-9"]


async def test_health_and_openapi_match_the_routes(client):
    assert (await client.get("/healthz")).status == 200

    async def ready() -> bool:
        # Topics just created can be missing from a broker's metadata for a moment: wait for readiness.
        return (await client.get("/readyz")).status == 200

    await eventually(ready, timeout=30, what="/readyz answering 200")
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
