"""Tenancy: a key bound to a tenant sees and acts on its tenant's jobs and pacing users only, a submitter on its
own jobs; equal Idempotency-Keys of two tenants are two jobs; a pacing user id held by another tenant is refused
(409); routes not confined to a tenant refuse bound keys."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.config import ApiConfig
from projections.runner import ProjectionRunner
from streams.topics import Topics
from tests.support import bearer, make_key


def _job(title: str) -> dict:
    return {"job_type": "article", "delay_seconds": 3600, "payload": {"title": title}}


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

        runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), batch_wait_ms=20)
        await runner.start()
        try:
            await runner.run_until_caught_up(timeout=60)
        finally:
            await runner.stop()

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
        resp = await call("acme operator", "POST", f"/v1/jobs/{jobs['globex submitter']}/cancel")
        assert resp.status == 404, await resp.text()
        resp = await call("acme operator", "POST", f"/v1/jobs/{jobs['acme other submitter']}/cancel")
        assert resp.status == 202, await resp.text()
        assert (await call("globex reader", "GET", "/v1/dlq")).status == 200

        for url in ("/v1/pacing/status", "/monitor/jobs", "/v1/queues"):  # not confined to a tenant: refused
            resp = await call("acme reader", "GET", url)
            assert resp.status == 403 and (await resp.json())["error"]["code"] == "tenant_not_supported", url
        assert (await call("unbound reader", "GET", "/v1/pacing/status")).status == 200


async def _project(infra, database, prefix) -> None:
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), batch_wait_ms=20)
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()


async def test_a_tenant_sees_and_writes_only_its_own_pacing_users(infra, database, prefix):
    names = ("acme submitter", "acme reader", "acme operator", "globex submitter", "globex reader",
             "unbound reader", "unbound operator")
    roles = ("submitter", "reader", "operator", "submitter", "reader", "reader", "operator")
    tenants = ("acme", "acme", "acme", "globex", "globex", None, None)
    keys = {n: await make_key(infra, database, prefix, r, tenant=t, name=n) for n, r, t in zip(names, roles, tenants)}
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), read_your_writes_seconds=10)
    async with TestClient(TestServer(create_app(config))) as client:
        async def call(who: str, method: str, url: str, status: int, **kw):
            resp = await client.request(method, url, headers=bearer(keys[who]), **kw)
            assert resp.status == status, (who, method, url, resp.status, await resp.text())
            return await resp.json()

        schedules = {}
        for who, user in (("acme submitter", "ada"), ("globex submitter", "bo")):
            body = await call(who, "POST", "/v1/pacing/schedules", 202, json={"user_id": user, "time_zone": "UTC"})
            schedules[user] = body["schedule"]["schedule_id"]
            await call(who, "POST", f"/v1/users/{user}/knowledge", 202, json={"title": f"{user}'s", "body": "Private."})
        await _project(infra, database, prefix)

        # one namespace of user ids: another tenant's user is not written to, nor silently shared
        for method, url, body in (("POST", "/v1/users/ada/knowledge", {"title": "Mine?", "body": "No."}),
                                  ("POST", "/v1/pacing/schedules", {"user_id": "ada", "time_zone": "UTC"})):
            refused = await call("globex submitter", method, url, 409, json=body)
            assert refused["error"]["code"] == "user_id_taken" and refused["error"]["field"] == "user_id", refused
        # a key bound to no tenant writes for the user's tenant: acme keeps seeing all of ada's documents
        await call("unbound operator", "POST", "/v1/users/ada/knowledge", 202, json={"title": "Ops", "body": "Note."})
        await _project(infra, database, prefix)

        async def users(who: str) -> set[str]:
            return {s["user_id"] for s in (await call(who, "GET", "/v1/pacing/schedules", 200))["schedules"]}

        assert await users("acme reader") == {"ada"}
        assert await users("globex reader") == {"bo"}
        assert await users("unbound reader") == {"ada", "bo"}
        documents = "/v1/users/ada/knowledge"
        assert len((await call("acme reader", "GET", documents, 200))["documents"]) == 2
        assert len((await call("unbound reader", "GET", documents, 200))["documents"]) == 2
        assert (await call("globex reader", "GET", documents, 200))["documents"] == []  # as an unknown user's
        await call("globex reader", "GET", f"/v1/pacing/schedules/{schedules['ada']}", 404)
        await call("acme operator", "PATCH", f"/v1/pacing/schedules/{schedules['bo']}", 404, json={"window_days": 7})
        await call("acme operator", "DELETE", f"/v1/pacing/schedules/{schedules['bo']}", 404)
        await call("acme operator", "POST", "/v1/pacing/trigger", 404, json={"user_id": "bo"})

        analysis = (await call("acme operator", "POST", "/v1/pacing/trigger", 202, json={"user_id": "ada"}))["analysis_id"]
        await _project(infra, database, prefix)
        assert [a["analysis_id"] for a in (await call("acme reader", "GET", "/v1/pacing/analyses", 200))["analyses"]] \
            == [analysis]
        assert (await call("globex reader", "GET", "/v1/pacing/analyses", 200))["analyses"] == []
        await call("globex reader", "GET", f"/v1/pacing/analyses/{analysis}", 404)
        await call("unbound reader", "GET", f"/v1/pacing/analyses/{analysis}", 200)
        await call("acme reader", "GET", f"/v1/jobs/{analysis}", 200)  # the trigger's job carries the tenant too
        await call("globex reader", "GET", f"/v1/jobs/{analysis}", 404)
