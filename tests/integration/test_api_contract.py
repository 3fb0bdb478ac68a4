"""The HTTP contract: every route declared with the models its handler really uses, and real answers parse as them."""

from __future__ import annotations

import json
import re
from uuid import UUID

import pytest
from pydantic import BaseModel

from api import pacing_requests, requests
from api.app import create_app
from api.config import ApiConfig
from api.contract import CONTRACT, PUBLIC
from api.openapi import handlers_of, openapi_document, replies
from api.responses import Error, StreamFrame
from streams.topics import Topics
from tests.joblog import job_events, produce
from tests.support import api_client, project

REQUEST_MODELS = {
    m for mod in (requests, pacing_requests) for m in vars(mod).values()
    if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == mod.__name__ and not m.__name__.startswith("_")
}


def _config(infra, database: str, prefix: str) -> ApiConfig:
    return ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix))


def test_every_route_is_declared_with_the_body_model_its_handler_validates():
    app = create_app(ApiConfig(bootstrap="unused:9092", dsn="postgresql://unused/none", topics=Topics("t.")))
    handlers = handlers_of(app)
    assert set(handlers) == set(CONTRACT), "routes without a contract, or contracts without a route"
    for (method, path), handler in handlers.items():
        op = CONTRACT[(method, path)]
        # The request models the handler's own code names are exactly the one the document shows.
        named = {m for m in REQUEST_MODELS if m.__name__ in handler.__code__.co_names}
        assert named == ({op.body} if op.body else set()), (method, path, named, op.body)
        assert op.summary and op.summary != "Undocumented", (method, path)
        assert op.access is not None, f"{method} {path} declares no access (a Role, or PUBLIC) in api/contract.py"
        declared_path = {p.name for p in op.params if p.where == "path"}
        assert declared_path == set(re.findall(r"{(\w+)}", path)), (method, path)
        assert any(200 <= s < 300 and (r.model or r.schema) for s, r in op.responses.items()), (method, path)
        for status, reply in op.responses.items():
            if status >= 400 and (method, path, status) != ("GET", "/readyz", 503):
                assert reply.model is Error, (method, path, status)


def test_the_document_has_bodies_parameters_responses_and_summaries_for_every_operation():
    app = create_app(ApiConfig(bootstrap="unused:9092", dsn="postgresql://unused/none", topics=Topics("t.")))
    doc = openapi_document(app)
    schemas = doc["components"]["schemas"]
    ops = [(path, m, op) for path, item in doc["paths"].items() for m, op in item.items()]
    assert len(ops) == len(CONTRACT)
    assert len({op["operationId"] for _, _, op in ops}) == len(ops), "operationIds must be unique"
    for path, method, op in ops:
        assert op["summary"], (method, path)
        ok = [c for c, reply in op["responses"].items() if c.startswith("2")]
        assert ok and all("content" in op["responses"][c] for c in ok), (method, path)
        for code, reply in op["responses"].items():
            if code >= "400":
                assert reply["content"]["application/json"]["schema"]["$ref"].endswith(("/Error", "/NotReady"))
        for p in op.get("parameters", []):
            if p["name"].endswith("_id") and p["name"] not in ("user_id", "key_id"):
                assert p["schema"] == {"type": "string", "format": "uuid"}, (method, path, p)
        if method in ("post", "patch") and path not in ("/v1/jobs/{job_id}/cancel", "/v1/dlq/{dead_letter_id}/redrive",
                                                        "/v1/keys/{key_id}/revoke"):
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rpartition("/")[2] in schemas
    listed = {p["name"] for p in doc["paths"]["/v1/dlq"]["get"]["parameters"]}
    assert listed == {"status", "stage", "job_id", "limit"}
    stream = {p["name"]: p["in"] for p in doc["paths"]["/v1/jobs/{job_id}/stream"]["get"]["parameters"]}
    assert stream["Last-Event-ID"] == "header" and stream["include_output"] == "query"
    for path, method, op in ops:  # the security each route declares, as the document shows it
        declared = CONTRACT[(method.upper(), path)].access
        assert op["security"] == ([] if declared == PUBLIC else [{"bearer": []}, {"monitorSession": []}]), (method, path)
        if declared != PUBLIC:
            assert {"401", "403"} <= set(op["responses"]) and op["x-required-role"] == declared.value, (method, path)
    assert doc["components"]["securitySchemes"]["bearer"] == {**doc["components"]["securitySchemes"]["bearer"],
                                                             "type": "http", "scheme": "bearer"}
    intake = schemas["IntakeRequest"]["properties"]["job_type"]
    assert "pacing" not in intake.get("enum", schemas["JobType"]["enum"]), intake


@pytest.fixture
async def client(infra, database, prefix):
    async with api_client(infra, _config(infra, database, prefix)) as c:
        yield c


async def _project(infra, database: str, prefix: str) -> None:
    await project(infra.bootstrap, database, Topics(prefix))


async def _conforms(resp, method: str, route: str):
    """The answer parses, from its JSON text, as the model the contract documents for its status."""
    reply = replies(CONTRACT[(method, route)], method).get(resp.status)
    text = await resp.text()
    assert reply is not None, f"{method} {route} answered an undocumented {resp.status}: {text}"
    assert reply.model is not None and resp.content_type == reply.media_type
    return reply.model.model_validate_json(text)


async def test_real_answers_parse_as_their_documented_models(client, infra, database, prefix):
    events = await job_events(4)  # three articles and a schema job, each completed
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    article, schema_job = str(events[0].job_id), str(events[-1].job_id)
    writes = [
        ("POST", "/v1/pacing/schedules", "/v1/pacing/schedules", {"user_id": "maya", "time_zone": "Europe/Berlin"}),
        ("POST", "/v1/users/{user_id}/knowledge", "/v1/users/maya/knowledge", {"title": "Guide", "body": "Heat pumps."}),
        ("POST", "/v1/users/{user_id}/meetings", "/v1/users/maya/meetings",
         {"title": "Sync", "held_on": "2026-03-09", "participants": ["Maya"], "notes": "We agreed."}),
        ("POST", "/v1/jobs", "/v1/jobs", {"job_type": "article", "payload": {"title": "A Good Title"}}),
    ]
    for method, route, url, body in writes:
        await _conforms(await client.request(method, url, json=body), method, route)
    await _project(infra, database, prefix)
    schedule_id = (await (await client.get("/v1/pacing/schedules?user_id=maya")).json())["schedules"][0]["schedule_id"]
    patched = await client.patch(f"/v1/pacing/schedules/{schedule_id}", json={"window_days": 7})
    await _conforms(patched, "PATCH", "/v1/pacing/schedules/{schedule_id}")
    await _project(infra, database, prefix)  # the trigger reads the schedule as patched
    trigger = await client.post("/v1/pacing/trigger", json={"user_id": "maya"})
    accepted = await _conforms(trigger, "POST", "/v1/pacing/trigger")
    await _project(infra, database, prefix)
    reads = {
        "/healthz": "/healthz", "/readyz": "/readyz",
        "/v1/jobs": "/v1/jobs?limit=2", "/v1/jobs/{job_id}": f"/v1/jobs/{article}",
        "/content-intake/{job_id}": f"/content-intake/{article}",
        "/v1/jobs/{job_id}/events": f"/v1/jobs/{article}/events",
        "/v1/jobs/{job_id}/payloads/{stage}": f"/v1/jobs/{article}/payloads/draft",
        "/v1/jobs/{job_id}/result": f"/v1/jobs/{article}/result",
        "/v1/dlq": "/v1/dlq", "/v1/queues": "/v1/queues", "/v1/usage": "/v1/usage?from=2026-01-01&group_by=model",
        "/v1/pacing/schedules": "/v1/pacing/schedules", "/v1/pacing/schedules/{schedule_id}": f"/v1/pacing/schedules/{schedule_id}",
        "/v1/users/{user_id}/knowledge": "/v1/users/maya/knowledge", "/v1/users/{user_id}/meetings": "/v1/users/maya/meetings",
        "/v1/pacing/status": "/v1/pacing/status", "/v1/pacing/analyses": "/v1/pacing/analyses?user_id=maya",
        "/v1/pacing/analyses/{analysis_id}": f"/v1/pacing/analyses/{accepted.analysis_id}",
        "/v1/pacing/generations": "/v1/pacing/generations",
    }
    for route, url in reads.items():
        resp = await client.get(url)
        assert resp.status == 200, (url, await resp.text())
        await _conforms(resp, "GET", route)
    page = await _conforms(await client.get("/v1/jobs?limit=2"), "GET", "/v1/jobs")
    assert len(page.jobs) == 2 and page.next_cursor
    schema_result = await _conforms(await client.get(f"/v1/jobs/{schema_job}/result"), "GET", "/v1/jobs/{job_id}/result")
    assert schema_result.json_ld and schema_result.markdown is None
    cancel = await client.post(f"/v1/jobs/{article}/cancel")
    assert cancel.status == 409
    await _conforms(cancel, "POST", "/v1/jobs/{job_id}/cancel")
    deleted = await client.delete(f"/v1/pacing/schedules/{schedule_id}")
    await _conforms(deleted, "DELETE", "/v1/pacing/schedules/{schedule_id}")
    missing = await client.get(f"/v1/dlq/{UUID(int=7)}")
    assert missing.status == 404
    await _conforms(missing, "GET", "/v1/dlq/{dead_letter_id}")


async def test_every_write_documents_the_cross_site_refusal_it_answers(client):
    doc = openapi_document(client.app)
    writes = [(m, route) for m, route in CONTRACT if m in ("POST", "PATCH", "DELETE")]
    assert writes
    for method, route in writes:
        url = re.sub(r"\{[^}]+\}", str(UUID(int=1)), route)  # the guard answers before any parameter is read
        resp = await client.request(method, url, headers={"Origin": "http://elsewhere.example"})
        assert resp.status == 403, (method, url, await resp.text())
        await _conforms(resp, method, route)
        assert "403" in doc["paths"][route][method.lower()]["responses"], (method, route)


async def test_a_wrong_method_answers_405_with_allow(client):
    resp = await client.delete("/v1/jobs")
    assert resp.status == 405
    assert {m.strip() for m in resp.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert Error.model_validate_json(await resp.text()).error.code == "method_not_allowed"


async def _stream(client, job_id: str, query: str = "") -> list[tuple[str, dict]]:
    """The stream's events as (type, data), each frame parsed as the documented StreamFrame."""
    resp = await client.get(f"/v1/jobs/{job_id}/stream{query}")
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    frames = []
    for block in (await resp.text()).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if fields:
            StreamFrame.model_validate(fields)
            frames.append((fields["event"], json.loads(fields["data"])))
    return frames


async def test_the_stream_sends_stage_outputs_by_reference_unless_asked(client, infra, database, prefix):
    events = await job_events(1)
    await produce(infra.bootstrap, Topics(prefix).job_events, events)
    await _project(infra, database, prefix)
    job_id = str(events[0].job_id)
    lean = await _stream(client, job_id)
    assert [t for t, _ in lean] == [e.type for e in events]
    completed = [data for t, data in lean if t == "StageCompleted"]
    assert completed and all("output" not in d for d in completed)
    for d in completed:
        assert d["output_ref"]["href"] == f"/v1/jobs/{job_id}/payloads/{d['stage']}"
        assert (await client.get(d["output_ref"]["href"])).status == 200
    full = await _stream(client, job_id, "?include_output=true")
    outputs = {d["stage"]: d["output"] for t, d in full if t == "StageCompleted"}
    assert outputs["draft"]["kind"] == "draft" and len(str(outputs["draft"])) > 1000
    assert len(str(lean)) < len(str(full)) / 2
    bad = await client.get(f"/v1/jobs/{job_id}/stream?include_output=maybe")
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "include_output"
