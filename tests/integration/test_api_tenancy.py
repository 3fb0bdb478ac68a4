"""Tenancy: a key bound to a tenant sees and acts on its tenant's jobs, dead letters, usage and pacing users only (in
the API and the monitor), a submitter on its own jobs; equal Idempotency-Keys of two keys are two jobs; a pacing
user id held by another tenant is refused (409); routes that show the whole deployment refuse bound keys."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, time, timedelta, timezone

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer

from agents import transitions
from agents.errors import PermanentError
from agents.pacing.scheduler import PacingScheduler
from agents.runner import Emitter
from api.app import create_app
from api.config import ApiConfig
from api.keys import key_id_of
from projections.pacing_queries import PacingStore
from streams.access import kafka_options
from streams.codec import encode, key_for
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.pacing_payloads import ContentType, PacingBrief
from streams.payloads import PIPELINES, Brief, JobType
from streams.topics import Topics
from tests.joblog import produce
from tests.pacing_support import MemoryContextStore, costed, pacing_job_log, sample_chunks
from tests.support import bearer, make_key, project


HTML = {"Accept": "text/html"}
MONITOR_NAV = {"/", "/monitor/jobs", "/monitor/dead-letters", "/monitor/pacing", "/monitor/projections",
               "/monitor/submit", "/docs"}


def _job(title: str) -> dict:
    return {"job_type": "article", "delay_seconds": 3600, "payload": {"title": title}}


async def nav(call, who: str, url: str = "/") -> set[str]:
    """The links of the monitor's navigation on `url`, as `who` sees it."""
    resp = await call(who, "GET", url, headers=HTML)
    html = await resp.text()
    assert resp.status == 200, (who, url, html)
    return set(re.findall(r'href="([^"]+)"', html[html.index("<nav"):html.index("</nav>")]))


async def test_each_key_sees_its_tenant_and_a_submitter_its_own(infra, database, prefix):
    names = ("acme submitter", "acme other submitter", "acme reader", "acme operator", "globex submitter",
             "globex reader", "unbound reader")
    roles = ("submitter", "submitter", "reader", "operator", "submitter", "reader", "reader")
    tenants = ("acme", "acme", "acme", "acme", "globex", "globex", None)
    keys = {n: await make_key(infra, database, prefix, r, tenant=t, name=n) for n, r, t in zip(names, roles, tenants)}
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), read_your_writes_seconds=10)
    async with TestClient(TestServer(create_app(config))) as client:
        async def call(who: str, method: str, url: str, **kw):
            return await client.request(method, url, headers={**bearer(keys[who]), **kw.pop("headers", {})}, **kw)

        jobs = {}
        for who in ("acme submitter", "acme other submitter", "globex submitter"):
            resp = await call(who, "POST", "/v1/jobs", json=_job(f"For {who}"))
            assert resp.status == 202, await resp.text()
            jobs[who] = (await resp.json())["job_id"]
        same = {}
        for who in ("acme submitter", "globex submitter"):  # one Idempotency-Key, two tenants: two jobs
            resp = await call(who, "POST", "/v1/jobs", json=_job("Keyed"), headers={"Idempotency-Key": "k-1"})
            assert resp.status == 202, await resp.text()
            same[who] = (await resp.json())["job_id"]
        assert same["acme submitter"] != same["globex submitter"]

        await project(infra.bootstrap, database, Topics(prefix))

        detail = await (await call("acme reader", "GET", f"/v1/jobs/{jobs['acme other submitter']}")).json()
        assert (detail["tenant"], detail["submitted_by"]) == ("acme", key_id_of(keys["acme other submitter"])), detail
        again = await call("acme submitter", "POST", "/v1/jobs", json=_job("Keyed"), headers={"Idempotency-Key": "k-1"})
        assert again.status == 200 and (await again.json())["job_id"] == same["acme submitter"]

        async def listed(who: str) -> set[str]:
            resp = await call(who, "GET", "/v1/jobs?limit=50")
            assert resp.status == 200, await resp.text()
            return {j["job_id"] for j in (await resp.json())["jobs"]}

        acme = {jobs["acme submitter"], jobs["acme other submitter"], same["acme submitter"]}
        globex = {jobs["globex submitter"], same["globex submitter"]}
        assert await listed("acme submitter") == {jobs["acme submitter"], same["acme submitter"]}
        assert await listed("acme reader") == acme
        assert await listed("globex reader") == globex
        assert await listed("unbound reader") == acme | globex

        for who, job, status in (("acme submitter", jobs["acme submitter"], 200),
                                 ("acme submitter", jobs["acme other submitter"], 404),
                                 ("acme reader", jobs["acme other submitter"], 200),
                                 ("acme reader", jobs["globex submitter"], 404),
                                 ("globex reader", jobs["acme submitter"], 404)):
            for url in (f"/v1/jobs/{job}", f"/v1/jobs/{job}/events", f"/content-intake/{job}"):
                resp = await call(who, "GET", url)
                assert resp.status == status, (who, url, resp.status, await resp.text())
        for who, job in (("acme submitter", jobs["acme other submitter"]), ("acme reader", jobs["globex submitter"])):
            for url in (f"/v1/jobs/{job}/stream", f"/v1/jobs/{job}/payloads/research", f"/v1/jobs/{job}/result"):
                resp = await call(who, "GET", url)
                assert resp.status == 404 and (await resp.json())["error"]["code"] == "job_not_found", (who, url)
        resp = await call("acme operator", "POST", f"/v1/jobs/{jobs['globex submitter']}/cancel")
        assert resp.status == 404, await resp.text()
        resp = await call("acme operator", "POST", f"/v1/jobs/{jobs['acme other submitter']}/cancel")
        assert resp.status == 202, await resp.text()
        assert (await call("globex reader", "GET", "/v1/dlq")).status == 200
        # an Idempotency-Key is the calling key's: another submitter of the same tenant reusing it gets a job of its own
        other = await call("acme other submitter", "POST", "/v1/jobs", json=_job("Keyed"), headers={"Idempotency-Key": "k-1"})
        assert other.status == 202 and (await other.json())["job_id"] != same["acme submitter"], await other.text()

        # the monitor, as a tenant's key opens it (the key as Bearer: the session cookie carries the same key)
        page = await call("acme reader", "GET", "/monitor/jobs", headers=HTML)
        listed_titles = await page.text()
        assert page.status == 200 and "For acme other submitter" in listed_titles, listed_titles
        assert "For globex submitter" not in listed_titles
        for who, job, status in (("acme reader", jobs["acme other submitter"], 200),
                                 ("acme reader", jobs["globex submitter"], 404),
                                 ("globex reader", jobs["acme submitter"], 404)):
            for url in (f"/monitor/jobs/{job}", f"/monitor/jobs/{job}/panel"):
                resp = await call(who, "GET", url, headers=HTML)
                assert resp.status == status, (who, url, resp.status)
        # a reader only reads: no submit form; a bound key no deployment-wide page
        assert await nav(call, "acme reader") == MONITOR_NAV - {"/monitor/projections", "/monitor/submit"}
        assert await nav(call, "unbound reader") == MONITOR_NAV - {"/monitor/submit"}
        assert await nav(call, "acme submitter", "/monitor/submit") == {"/monitor/submit", "/docs"}

        # routes that show the whole deployment refuse a bound key; a person gets a page saying so
        for url in ("/monitor/projections", "/v1/queues", "/metrics"):
            resp = await call("acme reader", "GET", url)
            assert resp.status == 403 and (await resp.json())["error"]["code"] == "tenant_not_supported", url
        page = await call("acme reader", "GET", "/monitor/projections", headers=HTML)
        assert page.status == 403 and "tenant_not_supported" in await page.text()
        assert (await call("unbound reader", "GET", "/monitor/projections")).status == 200


def completed_in(overview_html: str) -> int:
    """Stage completions in the last hour, summed over the overview's rows."""
    return sum(int(n) for n in re.findall(r'aria-label="(\d+) completed and \d+ failed in the last hour"', overview_html))


async def _scheduled_analyses(infra, database: str, prefix: str) -> list:
    """One tick of the worker's pacing scheduler, two days ahead at 09:30 UTC: the 09:00 slot of every schedule
    is due. Its JobSubmitted events go to the test's log."""
    at = datetime.combine(datetime.now(timezone.utc).date() + timedelta(days=2), time(9, 30), timezone.utc)
    producer = AIOKafkaProducer(**kafka_options(infra.bootstrap), acks="all", enable_idempotence=True)
    store = PacingStore(database)
    await producer.start()
    try:
        async def send(topic: str, key: bytes, value: bytes) -> None:
            await producer.send_and_wait(topic, value, key=key)

        return await PacingScheduler(emit=Emitter(Topics(prefix), send), source=store, clock=lambda: at).tick()
    finally:
        await producer.stop()
        await store.close()


async def _work(infra, prefix: str) -> tuple[dict[str, int], dict[str, int], str]:
    """Yesterday's analysis of ada (acme) and bo (globex), run today through the offline provider with model calls
    recorded, and a globex article dead-lettered at its first stage. Returns each user's calls and stage
    completions, and the dead letter's id."""
    now = datetime.now(timezone.utc)
    store = MemoryContextStore(sample_chunks(now.date()))
    events, calls, completed = [], {}, {}
    for user, tenant in (("ada", "acme"), ("bo", "globex")):
        brief = PacingBrief(user_id=user, local_date=now.date() - timedelta(days=1), slot="09:00", trigger="schedule",
                            time_zone="UTC", content_types=[ContentType.BLOG_POST])
        log = [costed(e) for e in await pacing_job_log(brief, store, now)]
        events += [log[0].model_copy(update={"tenant": tenant}), *log[1:]]
        calls[user] = sum(len(e.usage.calls) for e in log if e.type == "StageCompleted")
        completed[user] = sum(e.type == "StageCompleted" for e in log)
    job_id = uuid.uuid4()
    sub = JobSubmitted(event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=now,
                       correlation_id=job_id, job_type=JobType.ARTICLE, initial_stage=PIPELINES[JobType.ARTICLE][0],
                       brief=Brief(title="Globex's failing article"), priority=5, delay_seconds=0, max_attempts=1,
                       retry_delay_seconds=1, visibility_seconds=60, tenant="globex")
    req = transitions.first_request(sub, now)
    begun = transitions.started(req, now)
    failed, letter = transitions.failed(req, begun, begun.sequence + 1, PermanentError("refused"), 5, now)
    topics = Topics(prefix)
    await produce(infra.bootstrap, topics.job_events, [*events, sub, begun, *failed])
    producer = AIOKafkaProducer(**kafka_options(infra.bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topics.dead_letters, encode(letter), key=key_for(job_id))
    finally:
        await producer.stop()
    return calls, completed, str(letter.dead_letter_id)


async def _a_chunk_of(database: str, user_id: str) -> str:
    conn = await asyncpg.connect(database)
    try:
        return str(await conn.fetchval("SELECT chunk_id FROM pacing_context_chunks WHERE user_id = $1 LIMIT 1", user_id))
    finally:
        await conn.close()


async def test_a_tenant_sees_and_writes_only_its_own_pacing_users(infra, database, prefix):
    names = ("acme submitter", "acme reader", "acme operator", "globex submitter", "globex reader",
             "unbound submitter", "unbound reader", "unbound operator")
    roles = ("submitter", "reader", "operator", "submitter", "reader", "submitter", "reader", "operator")
    tenants = ("acme", "acme", "acme", "globex", "globex", None, None, None)
    keys = {n: await make_key(infra, database, prefix, r, tenant=t, name=n) for n, r, t in zip(names, roles, tenants)}
    actor = {n: f"key:{k.split('_')[1]} ({n})" for n, k in keys.items()}  # who a fact says wrote it
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), read_your_writes_seconds=10)
    async with TestClient(TestServer(create_app(config))) as client:
        async def call(who: str, method: str, url: str, status: int, headers: dict | None = None,
                       json_body: bool = True, **kw):
            resp = await client.request(method, url, headers={**bearer(keys[who]), **(headers or {})}, **kw)
            assert resp.status == status, (who, method, url, resp.status, await resp.text())
            return await resp.json() if json_body else await resp.text()

        schedules = {}
        for who, user in (("acme submitter", "ada"), ("globex submitter", "bo")):
            body = await call(who, "POST", "/v1/pacing/schedules", 202, json={"user_id": user, "time_zone": "UTC"})
            schedules[user] = body["schedule"]["schedule_id"]
            await call(who, "POST", f"/v1/users/{user}/knowledge", 202, json={"title": f"{user}'s", "body": "Private."})
        await project(infra.bootstrap, database, Topics(prefix))

        # one namespace of user ids: another tenant's user is not written to, nor silently shared; nor does a
        # deployment-wide key below operator write into a tenant's user (acme would take its text for its own)
        meeting = {"title": "Mine?", "held_on": "2026-03-01", "participants": ["x"], "notes": "No."}
        for who in ("globex submitter", "unbound submitter", "unbound reader"):
            for method, url, body in (("POST", "/v1/users/ada/knowledge", {"title": "Mine?", "body": "No."}),
                                      ("POST", "/v1/users/ada/meetings", meeting),
                                      ("POST", "/v1/pacing/schedules", {"user_id": "ada", "time_zone": "UTC"})):
                if who == "unbound reader":  # a reader writes for no one
                    refused = await call(who, method, url, 403, json=body)
                    assert refused["error"]["code"] == "forbidden", refused
                    continue
                refused = await call(who, method, url, 409, json=body)
                assert refused["error"]["code"] == "user_id_taken" and refused["error"]["field"] == "user_id", refused
        # a key bound to no tenant, operator or more, writes for the user's tenant: acme keeps seeing all of ada's
        # documents, and who wrote each
        await call("unbound operator", "POST", "/v1/users/ada/knowledge", 202, json={"title": "Ops", "body": "Note."})
        await project(infra.bootstrap, database, Topics(prefix))

        async def users(who: str) -> set[str]:
            return {s["user_id"] for s in (await call(who, "GET", "/v1/pacing/schedules", 200))["schedules"]}

        assert await users("acme reader") == {"ada"}
        assert await users("globex reader") == {"bo"}
        assert await users("unbound reader") == {"ada", "bo"}
        documents = "/v1/users/ada/knowledge"
        assert {(d["title"], d["added_by"]) for d in (await call("acme reader", "GET", documents, 200))["documents"]} \
            == {("ada's", actor["acme submitter"]), ("Ops", actor["unbound operator"])}
        assert len((await call("unbound reader", "GET", documents, 200))["documents"]) == 2
        assert [s["created_by"] for s in (await call("acme reader", "GET", "/v1/pacing/schedules", 200))["schedules"]] \
            == [actor["acme submitter"]]
        assert (await call("globex reader", "GET", documents, 200))["documents"] == []  # as an unknown user's
        await call("globex reader", "GET", f"/v1/pacing/schedules/{schedules['ada']}", 404)
        await call("acme operator", "PATCH", f"/v1/pacing/schedules/{schedules['bo']}", 404, json={"window_days": 7})
        await call("acme operator", "DELETE", f"/v1/pacing/schedules/{schedules['bo']}", 404)
        await call("acme operator", "POST", "/v1/pacing/trigger", 404, json={"user_id": "bo"})

        analysis = (await call("acme operator", "POST", "/v1/pacing/trigger", 202, json={"user_id": "ada"}))["analysis_id"]
        await project(infra.bootstrap, database, Topics(prefix))
        assert [a["analysis_id"] for a in (await call("acme reader", "GET", "/v1/pacing/analyses", 200))["analyses"]] \
            == [analysis]
        assert (await call("globex reader", "GET", "/v1/pacing/analyses", 200))["analyses"] == []
        await call("globex reader", "GET", f"/v1/pacing/analyses/{analysis}", 404)
        triggered = await call("unbound reader", "GET", f"/v1/pacing/analyses/{analysis}", 200)
        assert triggered["submitted_by"] == keys["acme operator"].split("_")[1]  # the key that asked for it
        await call("acme reader", "GET", f"/v1/jobs/{analysis}", 200)  # the trigger's job carries the tenant too
        await call("globex reader", "GET", f"/v1/jobs/{analysis}", 404)

        # the scheduler's analyses carry their user's tenant too, as the schedule keeps it
        scheduled = await _scheduled_analyses(infra, database, prefix)
        assert {e.brief.user_id: e.tenant for e in scheduled} == {"ada": "acme", "bo": "globex"}
        await project(infra.bootstrap, database, Topics(prefix))
        for e in scheduled:
            await call("acme reader", "GET", f"/v1/jobs/{e.job_id}", 200 if e.tenant == "acme" else 404)
            await call("globex reader", "GET", f"/v1/jobs/{e.job_id}", 200 if e.tenant == "globex" else 404)

        # a day of each user's work with model calls, and a globex job dead-lettered
        calls, completed, letter = await _work(infra, prefix)
        await project(infra.bootstrap, database, Topics(prefix))
        day = datetime.now(timezone.utc).date().isoformat()
        for who, users in (("acme reader", {"ada"}), ("globex reader", {"bo"}), ("unbound reader", {"ada", "bo"})):
            usage = await call(who, "GET", f"/v1/usage?from={day}&to={day}&group_by=user", 200)
            assert {d["user_id"] for d in usage["days"]} == users, (who, usage)
            assert usage["total"]["calls"] == sum(calls[u] for u in users), (who, usage)

            status = await call(who, "GET", "/v1/pacing/status", 200)
            analyses = (await call(who, "GET", "/v1/pacing/analyses?limit=500", 200))["analyses"]
            generations = (await call(who, "GET", "/v1/pacing/generations?limit=500", 200))["generations"]
            assert {a["user_id"] for a in analyses} == users
            assert sum(status["analyses"].values()) == len(analyses), (who, status)
            assert sum(status["generations"].values()) == len(generations) > 0, (who, status)
            assert (status["topics"] == []) == (who != "unbound reader"), (who, status)  # Kafka's: every tenant's

            # the monitor's overview and its live feed count the tenant's jobs only, and show no queues
            overview = await (await client.get("/", headers={**bearer(keys[who]), **HTML})).text()
            assert completed_in(overview) == sum(completed[u] for u in users), who
            assert ("Log consumers" in overview) == (who == "unbound reader"), who
            async with client.get("/monitor/events", headers={**bearer(keys[who]), "Accept": "text/event-stream"}) as feed:
                frame = await anext(line async for line in feed.content if line.startswith(b"data: "))
            assert completed_in(json.loads(frame[6:])["html"]) == sum(completed[u] for u in users), who

            pacing = await (await client.get("/monitor/pacing", headers={**bearer(keys[who]), **HTML})).text()
            assert set(re.findall(r'<section class="user" data-user="([^"]+)"', pacing)) == users, who
            assert (f"added by {actor['unbound operator']}" in pacing) == ("ada" in users), who  # who wrote it
            letters = await (await client.get("/monitor/dead-letters", headers={**bearer(keys[who]), **HTML})).text()
            assert (letter in letters) == ("bo" in users), who

        bo_analyses = (await call("globex reader", "GET", "/v1/pacing/analyses", 200))["analyses"]
        for a in bo_analyses:  # filters naming another tenant's user or analysis find nothing
            url = f"/v1/pacing/generations?analysis_id={a['analysis_id']}"
            assert (await call("acme reader", "GET", url, 200))["generations"] == []
        assert (await call("acme reader", "GET", f"/v1/usage?from={day}&to={day}&user_id=bo", 200))["days"] == []
        chunk = await _a_chunk_of(database, "bo")
        for who, status in (("acme reader", 404), ("globex reader", 200)):
            await call(who, "GET", f"/monitor/pacing/chunks/{chunk}", status, headers=HTML, json_body=False)
            await call(who, "GET", f"/monitor/dead-letters/{letter}", status, headers=HTML, json_body=False)
            await call(who, "GET", f"/v1/dlq/{letter}", status)
        await call("acme operator", "POST", f"/v1/dlq/{letter}/redrive", 404)

        # a user of no tenant stays writable by keys bound to none, whatever their role
        await call("unbound submitter", "POST", "/v1/users/nobody/knowledge", 202, json={"title": "T", "body": "B."})
        await project(infra.bootstrap, database, Topics(prefix))
        await call("unbound submitter", "POST", "/v1/users/nobody/meetings", 202, json=meeting)
