"""Read-your-writes on a real broker and database: the partition is the producer's, a lagging projector is a 503
(never a wrong 404 nor a stale row), and once the projector has caught up the write is read and an unknown id
is a 404."""

from __future__ import annotations

from uuid import uuid4

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.config import ApiConfig
from api.state import PRODUCER, READS
from streams.codec import key_for
from streams.pacing_events import pacing_key
from streams.topics import Topics
from tests.support import api_client, project

ARTICLE = {"job_type": "article", "payload": {"title": "Read it back"}}


async def test_the_partition_waited_for_is_the_one_the_producer_wrote_to(infra, database, prefix):
    topics = Topics(prefix)
    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics))
    async with TestClient(TestServer(app)):
        producer, reads = app[PRODUCER].get(), app[READS]
        for topic, key in [(topics.job_events, key_for(uuid4())) for _ in range(40)] + \
                          [(topics.pacing_events, pacing_key(f"user-{i}")) for i in range(40)]:
            written = await producer.send_and_wait(topic, b"{}", key=key)
            ends = await reads.write_positions(topic, key)
            assert list(ends) == [written.partition], (topic, key)
            assert ends[written.partition] == written.offset + 1
        assert len(await reads.write_positions(topics.pacing_events, None)) == len(
            await producer.partitions_for(topics.pacing_events))


async def test_a_miss_waits_for_the_projector_and_never_answers_a_wrong_404(infra, database, prefix):
    topics = Topics(prefix)
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics, read_your_writes_seconds=0.5)
    async with api_client(infra, config, role="operator") as client:
        unknown = uuid4()
        assert (await client.get(f"/v1/jobs/{unknown}")).status == 404  # nothing written: caught up at once

        resp = await client.post("/v1/jobs", json=ARTICLE)
        assert resp.status == 202, await resp.text()
        job_id = (await resp.json())["job_id"]
        # No projector runs: the job is on the log but not in the read model. Not a 404: a 503 to retry.
        for path in (f"/v1/jobs/{job_id}", f"/content-intake/{job_id}", f"/v1/jobs/{job_id}/events"):
            resp = await client.get(path)
            assert resp.status == 503, (path, await resp.text())
            assert (await resp.json())["error"]["code"] == "read_model_behind"
            assert resp.headers["Retry-After"] == "1"
        resp = await client.post(f"/v1/jobs/{job_id}/cancel")
        assert resp.status == 503 and (await resp.json())["error"]["code"] == "read_model_behind"

        resp = await client.post("/v1/users/ada/knowledge", json={"title": "Notes", "body": "Some notes."})
        assert resp.status == 202
        resp = await client.get("/v1/users/ada/knowledge")
        assert resp.status == 503 and (await resp.json())["error"]["code"] == "read_model_behind"

        await project(infra.bootstrap, database, topics)

        resp = await client.get(f"/v1/jobs/{job_id}")
        assert resp.status == 200 and (await resp.json())["requester_email"] is None
        seed = await (await client.get(f"/content-intake/{job_id}")).json()
        assert (seed["status"], seed["job_status"], seed["failure"]) == ("queued", "queued", None)
        assert len((await (await client.get("/v1/users/ada/knowledge")).json())["documents"]) == 1
        resp = await client.get(f"/v1/jobs/{uuid4()}")
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "job_not_found"
        resp = await client.get(f"/v1/pacing/schedules/{uuid4()}")
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "schedule_not_found"


async def _project(infra, database: str, topics: Topics) -> None:
    await project(infra.bootstrap, database, topics)


async def test_a_schedule_read_after_its_change_or_deletion_is_never_the_stale_one(infra, database, prefix):
    topics = Topics(prefix)
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics, read_your_writes_seconds=0.5)
    async with api_client(infra, config, role="operator") as client:
        resp = await client.post("/v1/pacing/schedules", json={"user_id": "grace", "time_zone": "UTC"})
        schedule = f"/v1/pacing/schedules/{(await resp.json())['schedule']['schedule_id']}"
        await _project(infra, database, topics)
        assert (await (await client.get(schedule)).json())["window_days"] != 3

        assert (await client.patch(schedule, json={"window_days": 3})).status == 202
        # The change is on the log, not yet projected: the old window would be a stale read; retry instead.
        resp = await client.get(schedule)
        assert resp.status == 503 and (await resp.json())["error"]["code"] == "read_model_behind", await resp.text()
        await _project(infra, database, topics)
        changed = await (await client.get(schedule)).json()
        assert changed["window_days"] == 3 and changed["updated_by"] == f"key:{client.key.split('_')[1]} (test operator)"

        assert (await client.delete(schedule)).status == 202
        for method, body in (("GET", None), ("PATCH", {"active": False}), ("DELETE", None)):
            resp = await client.request(method, schedule, json=body)
            assert resp.status == 503, (method, await resp.text())
        await _project(infra, database, topics)
        for method, body in (("GET", None), ("PATCH", {"active": False}), ("DELETE", None)):
            resp = await client.request(method, schedule, json=body)
            assert resp.status == 404 and (await resp.json())["error"]["code"] == "schedule_not_found", method
