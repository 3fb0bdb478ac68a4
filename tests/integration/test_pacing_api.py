"""Bad input on every pacing endpoint answers 4xx naming the field, and writes nothing to Kafka."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from api.config import ApiConfig
from streams.topics import Topics
from tests.conftest import create_database, create_prefix, drop_database
from tests.support import api_client, eventually, project
from streams.access import kafka_options

UNKNOWN = "00000000-0000-4000-8000-000000000000"
SCHEDULE = {"user_id": "maya", "time_zone": "Europe/Berlin"}
DOC = {"title": "Field guide", "body": "Heat pumps like low flow temperatures."}
MEETING = {"title": "Sync", "held_on": "2026-03-09", "participants": ["Maya", "Tom"], "notes": "We agreed."}


def with_(base: dict, /, **changes) -> dict:
    out = dict(base)
    for k, v in changes.items():
        if v is DELETE:
            out.pop(k)
        else:
            out[k] = v
    return out


DELETE = object()

# (name, method, path, body, status, field)
CASES = [
    ("schedule without user", "POST", "/v1/pacing/schedules", with_(SCHEDULE, user_id=DELETE), 422, "user_id"),
    ("schedule with a bad user id", "POST", "/v1/pacing/schedules", with_(SCHEDULE, user_id="a b"), 422, "user_id"),
    ("unknown time zone", "POST", "/v1/pacing/schedules", with_(SCHEDULE, time_zone="Mars/Olympus"), 422, "time_zone"),
    ("time zone missing", "POST", "/v1/pacing/schedules", with_(SCHEDULE, time_zone=DELETE), 422, "time_zone"),
    ("hour 25", "POST", "/v1/pacing/schedules", with_(SCHEDULE, local_times=["25:00"]), 422, "local_times.0"),
    ("time not a string", "POST", "/v1/pacing/schedules", with_(SCHEDULE, local_times=[900]), 422, "local_times.0"),
    ("no times", "POST", "/v1/pacing/schedules", with_(SCHEDULE, local_times=[]), 422, "local_times"),
    ("a time twice", "POST", "/v1/pacing/schedules", with_(SCHEDULE, local_times=["09:00", "09:00"]), 422, "local_times"),
    ("unknown weekday", "POST", "/v1/pacing/schedules", with_(SCHEDULE, days_of_week=["funday"]), 422, "days_of_week.0"),
    ("unknown content type", "POST", "/v1/pacing/schedules", with_(SCHEDULE, content_types=["tweet"]), 422, "content_types.0"),
    ("no content types", "POST", "/v1/pacing/schedules", with_(SCHEDULE, content_types=[]), 422, "content_types"),
    ("window of zero days", "POST", "/v1/pacing/schedules", with_(SCHEDULE, window_days=0), 422, "window_days"),
    ("window as a string", "POST", "/v1/pacing/schedules", with_(SCHEDULE, window_days="14"), 422, "window_days"),
    ("active as a string", "POST", "/v1/pacing/schedules", with_(SCHEDULE, active="yes"), 422, "active"),
    ("unknown schedule field", "POST", "/v1/pacing/schedules", with_(SCHEDULE, colour="red"), 422, "colour"),
    ("empty patch", "PATCH", f"/v1/pacing/schedules/{UNKNOWN}", {}, 422, "body"),
    ("null in a patch", "PATCH", f"/v1/pacing/schedules/{UNKNOWN}", {"time_zone": None}, 422, "time_zone"),
    ("patching the user", "PATCH", f"/v1/pacing/schedules/{UNKNOWN}", {"user_id": "x"}, 422, "user_id"),
    ("patch bad id", "PATCH", "/v1/pacing/schedules/nope", {"active": False}, 400, "schedule_id"),
    ("patch unknown schedule", "PATCH", f"/v1/pacing/schedules/{UNKNOWN}", {"active": False}, 404, "schedule_id"),
    ("delete bad id", "DELETE", "/v1/pacing/schedules/nope", None, 400, "schedule_id"),
    ("delete unknown schedule", "DELETE", f"/v1/pacing/schedules/{UNKNOWN}", None, 404, "schedule_id"),
    ("get bad id", "GET", "/v1/pacing/schedules/nope", None, 400, "schedule_id"),
    ("get unknown schedule", "GET", f"/v1/pacing/schedules/{UNKNOWN}", None, 404, "schedule_id"),
    ("list schedules bad user", "GET", "/v1/pacing/schedules?user_id=%20x", None, 400, "user_id"),
    ("list schedules bad limit", "GET", "/v1/pacing/schedules?limit=0", None, 400, "limit"),
    ("knowledge for a bad user id", "POST", "/v1/users/bad%20user/knowledge", DOC, 400, "user_id"),
    ("knowledge without title", "POST", "/v1/users/maya/knowledge", with_(DOC, title=DELETE), 422, "title"),
    ("knowledge with a blank title", "POST", "/v1/users/maya/knowledge", with_(DOC, title="   "), 422, "title"),
    ("knowledge without body", "POST", "/v1/users/maya/knowledge", with_(DOC, body=""), 422, "body"),
    ("knowledge too large", "POST", "/v1/users/maya/knowledge", with_(DOC, body="x" * 100_001), 422, "body"),
    ("knowledge as pdf", "POST", "/v1/users/maya/knowledge", with_(DOC, format="pdf"), 422, "format"),
    ("list knowledge bad user", "GET", "/v1/users/-x/knowledge", None, 400, "user_id"),
    ("meeting for a bad user id", "POST", "/v1/users/%2Fx/meetings", MEETING, 400, "user_id"),
    ("meeting on no date", "POST", "/v1/users/maya/meetings", with_(MEETING, held_on="yesterday"), 422, "held_on"),
    ("meeting on the 30th of February", "POST", "/v1/users/maya/meetings", with_(MEETING, held_on="2026-02-30"), 422, "held_on"),
    ("meeting in year 1", "POST", "/v1/users/maya/meetings", with_(MEETING, held_on="0001-01-01"), 422, "held_on"),
    ("meeting in year 9999", "POST", "/v1/users/maya/meetings", with_(MEETING, held_on="9999-12-31"), 422, "held_on"),
    ("meeting without participants", "POST", "/v1/users/maya/meetings", with_(MEETING, participants=[]), 422, "participants"),
    ("blank participant", "POST", "/v1/users/maya/meetings", with_(MEETING, participants=[" "]), 422, "participants.0"),
    ("meeting of unknown kind", "POST", "/v1/users/maya/meetings", with_(MEETING, kind="chat"), 422, "kind"),
    ("meeting without notes", "POST", "/v1/users/maya/meetings", with_(MEETING, notes=DELETE), 422, "notes"),
    ("notes too large", "POST", "/v1/users/maya/meetings", with_(MEETING, notes="x" * 100_001), 422, "notes"),
    ("list meetings bad limit", "GET", "/v1/users/maya/meetings?limit=x", None, 400, "limit"),
    ("trigger without user", "POST", "/v1/pacing/trigger", {}, 422, "user_id"),
    ("trigger with a bad schedule id", "POST", "/v1/pacing/trigger", {"user_id": "maya", "schedule_id": "abc"}, 422, "schedule_id"),
    ("trigger an unknown user", "POST", "/v1/pacing/trigger", {"user_id": "nobody"}, 404, "user_id"),
    ("trigger an unknown schedule", "POST", "/v1/pacing/trigger", {"user_id": "maya", "schedule_id": UNKNOWN}, 404, "schedule_id"),
    ("trigger with extras", "POST", "/v1/pacing/trigger", {"user_id": "maya", "date": "2026-01-01"}, 422, "date"),
    ("analyses bad user", "GET", "/v1/pacing/analyses?user_id=a%20b", None, 400, "user_id"),
    ("analyses bad limit", "GET", "/v1/pacing/analyses?limit=501", None, 400, "limit"),
    ("analysis bad id", "GET", "/v1/pacing/analyses/nope", None, 400, "analysis_id"),
    ("analysis unknown", "GET", f"/v1/pacing/analyses/{UNKNOWN}", None, 404, "analysis_id"),
    ("generations bad analysis", "GET", "/v1/pacing/generations?analysis_id=nope", None, 400, "analysis_id"),
    ("generations bad status", "GET", "/v1/pacing/generations?status=napping", None, 400, "status"),
    ("generations bad user", "GET", "/v1/pacing/generations?user_id=a%20b", None, 400, "user_id"),
    ("user id with a trailing newline", "GET", "/v1/pacing/schedules?user_id=maya%0A", None, 400, "user_id"),
    ("generations limit past int32", "GET", "/v1/pacing/generations?limit=3000000000", None, 400, "limit"),
    # Text PostgreSQL cannot hold, refused before the log (it once stopped the projector for good).
    ("NUL in a knowledge body", "POST", "/v1/users/maya/knowledge", with_(DOC, body="a\u0000b"), 422, "body"),
    ("lone surrogate in a knowledge title", "POST", "/v1/users/maya/knowledge", with_(DOC, title="\ud83d"), 422, "title"),
    ("NUL in meeting notes", "POST", "/v1/users/maya/meetings", with_(MEETING, notes="\u0000"), 422, "notes"),
    ("NUL in a participant", "POST", "/v1/users/maya/meetings", with_(MEETING, participants=["Tom", "M\u0000"]), 422,
     "participants.1"),
    ("lone surrogate in a meeting title", "POST", "/v1/users/maya/meetings", with_(MEETING, title="x\udfff"), 422, "title"),
    ("NUL in a time zone", "POST", "/v1/pacing/schedules", with_(SCHEDULE, time_zone="Europe/Berlin\u0000"), 422, "time_zone"),
    ("NUL in a local time", "POST", "/v1/pacing/schedules", with_(SCHEDULE, local_times=["09:00\u0000"]), 422, "local_times.0"),
    ("NUL in a patch", "PATCH", f"/v1/pacing/schedules/{UNKNOWN}", {"time_zone": "\u0000"}, 422, "time_zone"),
    ("NUL in a trigger's user", "POST", "/v1/pacing/trigger", {"user_id": "maya\u0000"}, 422, "user_id"),
]


@pytest.fixture
async def client(infra, database, prefix):
    async with api_client(infra, ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix))) as c:
        yield c


@pytest.fixture(scope="module")
async def shared(infra):
    """One database, prefix and app for the bad-input table: none of its cases may write anything."""
    database, prefix = await create_database(infra), await create_prefix(infra)
    try:
        async with api_client(infra, ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix))) as c:
            yield c, prefix
    finally:
        await drop_database(infra, database)


async def log_size(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap))
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - fresh metadata for a new topic
        parts = consumer.partitions_for_topic(topic) or set()
        return sum((await consumer.end_offsets([TopicPartition(topic, p) for p in parts])).values())
    finally:
        await consumer.stop()


@pytest.mark.parametrize("name,method,path,body,status,field", CASES, ids=[c[0] for c in CASES])
async def test_bad_input_names_the_field(shared, infra, name, method, path, body, status, field):
    client, prefix = shared
    resp = await client.request(method, path, json=body) if body is not None else await client.request(method, path)
    assert resp.status == status, await resp.text()
    err = (await resp.json())["error"]
    assert err["field"] == field, err
    assert err["message"] and err["code"]
    topics = Topics(prefix)
    assert await log_size(infra.bootstrap, topics.pacing_events) == 0
    assert await log_size(infra.bootstrap, topics.job_events) == 0


async def test_transport_errors_and_the_intake_refusing_pacing_jobs(client):
    resp = await client.post("/v1/pacing/schedules", data="{nope", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_json"
    resp = await client.post("/v1/users/maya/knowledge", data=json.dumps(DOC), headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    resp = await client.post("/v1/users/maya/knowledge", json=DOC, headers={"Idempotency-Key": "k" * 201})
    assert resp.status == 400 and (await resp.json())["error"]["field"] == "Idempotency-Key"
    resp = await client.post("/v1/jobs", json={"job_type": "pacing", "requester_email": "a@example.com",
                                               "payload": {"title": "Pacing by the back door"}})
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "job_type"


async def test_good_requests_are_written_once_to_the_pacing_topic(client, infra, prefix):
    resp = await client.post("/v1/pacing/schedules", json=SCHEDULE | {"local_times": ["07:30", "19:00:15"]})
    assert resp.status == 202, await resp.text()
    schedule = (await resp.json())["schedule"]
    assert schedule["days_of_week"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert schedule["content_types"] == ["linkedin_post", "blog_post", "newsletter", "social_post"]
    assert resp.headers["Location"] == f"/v1/pacing/schedules/{schedule['schedule_id']}"
    assert schedule["created_by"] == f"key:{client.key.split('_')[1]} (test admin)"  # the fact's writer, as listed
    key = {"Idempotency-Key": "doc-1"}
    first = await (await client.post("/v1/users/maya/knowledge", json=DOC, headers=key)).json()
    again = await (await client.post("/v1/users/maya/knowledge", json=DOC, headers=key)).json()
    assert first["document_id"] == again["document_id"]  # the same fact twice: the projection keeps one
    resp = await client.post("/v1/users/maya/meetings", json=MEETING | {"kind": "transcript"})
    assert resp.status == 202 and uuid.UUID((await resp.json())["meeting_id"])
    assert await log_size(infra.bootstrap, Topics(prefix).pacing_events) == 4

    async def status_read():  # 503 while a fresh broker's group coordinator is still loading
        resp = await client.get("/v1/pacing/status")
        return await resp.json() if resp.status == 200 else None

    status = await eventually(status_read, timeout=30, what="pacing status readable")
    assert {t["stage"] for t in status["topics"]} == {"analyze", "write", None}
    assert all(t["pending"] == 0 for t in status["topics"] if t["stage"])
    assert status["analyses"] == {} and status["generations"] == {}


async def test_a_key_sent_again_is_answered_as_its_first_write_and_with_another_body_is_refused(
        client, infra, database, prefix):
    topics = Topics(prefix)
    writes = [("/v1/pacing/schedules", SCHEDULE, {"window_days": 3}), ("/v1/users/maya/knowledge", DOC, {"body": "x"}),
              ("/v1/users/maya/meetings", MEETING, {"kind": "transcript"})]
    first = {}
    for path, body, _ in writes:
        resp = await client.post(path, json=body, headers={"Idempotency-Key": f"once:{path}"})
        assert resp.status == 202, await resp.text()
        first[path] = await resp.json()
    await project(infra.bootstrap, database, topics)
    for path, body, change in writes:
        key = {"Idempotency-Key": f"once:{path}"}
        resp = await client.post(path, json=dict(reversed(body.items())), headers=key)  # the same request
        assert (resp.status, await resp.json()) == (202, first[path]), path
        resp = await client.post(path, json=body | change, headers=key)
        assert resp.status == 422, (path, await resp.text())
        err = (await resp.json())["error"]
        assert (err["code"], err["field"]) == ("idempotency_key_reused", "Idempotency-Key"), err
    assert await log_size(infra.bootstrap, topics.pacing_events) == 3  # neither the retries nor the refusals wrote
    # A document from before fingerprints were kept is answered as it was then.
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("UPDATE pacing_knowledge_documents SET request_fingerprint = NULL")
    finally:
        await conn.close()
    resp = await client.post("/v1/users/maya/knowledge", json=DOC | {"body": "x"},
                             headers={"Idempotency-Key": "once:/v1/users/maya/knowledge"})
    assert resp.status == 202, await resp.text()
