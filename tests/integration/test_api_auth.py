"""Who may do what: every route of the contract called with no key, a malformed, unknown and revoked key, a role
too low and the role it declares (generated from api/contract.py, so a new route is covered when it is declared);
an undeclared route is an admin's only; a revocation takes effect."""

from __future__ import annotations

import asyncio
import re
from uuid import UUID

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict
from yarl import URL

from api.app import create_app
from api.auth import COOKIE
from api.config import ApiConfig
from api.contract import CONTRACT, PUBLIC
from api.keys import KeyVerifier, key_id_of, revoke_key
from api.principal import Role
from api.responses import Error
from api.sessions import Sessions
from streams.topics import Topics
from tests.conftest import create_database, create_prefix, delete_prefix, drop_database
from tests.support import bearer, cli, env_of, eventually, free_port, make_key

PLACEHOLDERS = {"stage": "draft", "user_id": "nobody", "key_id": "0" * 12}
REALM = 'Bearer realm="planperfect"'


def url_of(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(1), str(UUID(int=1))), path)


async def _unlogged(_fact) -> None:
    return None


@pytest.fixture(scope="module")
async def world(infra):
    """One app for the matrix (none of its requests changes anything a later one reads): a key per role, and a
    revoked admin key."""
    database, prefix = await create_database(infra), await create_prefix(infra)
    keys = {role: await make_key(infra, database, prefix, role.value) for role in Role}
    revoked = await make_key(infra, database, prefix, "admin", name="revoked admin")
    conn = await asyncpg.connect(database)
    try:
        await revoke_key(conn, _unlogged, key_id_of(revoked), actor="test")
    finally:
        await conn.close()
    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix)))
    try:
        async with TestClient(TestServer(app)) as client:
            yield client, keys, revoked
    finally:
        await drop_database(infra, database)
        await delete_prefix(infra, prefix)


async def _error(resp) -> str:
    return Error.model_validate_json(await resp.text()).error.code


@pytest.mark.parametrize("method,path", sorted(CONTRACT), ids=[f"{m} {p}" for m, p in sorted(CONTRACT)])
async def test_each_route_asks_for_the_role_it_declares(world, method, path):
    client, keys, revoked = world
    needed, url = CONTRACT[(method, path)].access, url_of(path)
    assert needed is not None, f"{method} {path}: no access declared"

    async def call(key: str | None = None, **headers: str):
        return await client.request(method, url, headers={**(bearer(key) if key else {}), **headers},
                                    allow_redirects=False)

    if needed == PUBLIC:
        resp = await call()
        assert resp.status not in (401, 403), (method, path, resp.status, await resp.text())
        return
    resp = await call()
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == REALM, (method, path, resp.status)
    assert await _error(resp) == "unauthorized"
    well_formed_unknown = keys[Role.ADMIN][:-6] + "AAAAAA"
    for wrong in (well_formed_unknown, "pp_nonsense", revoked):
        resp = await call(wrong)
        assert resp.status == 401, (method, path, wrong[:8], resp.status)
        assert resp.headers["WWW-Authenticate"] == f'{REALM}, error="invalid_token"'
        assert await _error(resp) == "invalid_token"
    resp = await call(None, Authorization=f"Basic {keys[Role.ADMIN]}")  # another scheme: not a key
    assert resp.status == 401 and await _error(resp) == "invalid_token", (method, path, resp.status)
    submits = CONTRACT[(method, path)].submits
    refused = list(Role)[:needed.rank] + ([Role.READER] if submits else [])  # a reader only reads
    for role in refused:
        resp = await call(keys[role])
        assert resp.status == 403 and await _error(resp) == "forbidden", (method, path, role, resp.status)
    for role in set(Role) - set(refused):
        resp = await call(keys[role])
        assert resp.status not in (401, 403), (method, path, role, resp.status, await resp.text())


async def test_a_browser_without_a_session_is_sent_to_sign_in_and_back(world):
    client, keys, _ = world
    resp = await client.get("/monitor/jobs?status=queued", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 303
    location = URL(resp.headers["Location"])
    assert (location.path, location.query["next"]) == ("/monitor/sign-in", "/monitor/jobs?status=queued")
    # Never sent off-site, however the browser would read `next` (it drops tab, CR, LF: `/<TAB>/host` is `//host`).
    for hostile in ("//elsewhere.example/", "/\t/elsewhere.example/", "/\n/elsewhere.example", "/\r\n/x.example",
                    "/\\elsewhere.example", "\\/elsewhere.example", "https://elsewhere.example/", "/%2F%2Fx.example",
                    "javascript:alert(1)", " //x.example", "\x00//x.example", "/monitor\t/..//x", "/v1/keys"):
        page = await client.get("/monitor/sign-in", params={"next": hostile}, headers={"Accept": "text/html"})
        assert page.status == 200 and 'data-next="/"' in await page.text(), hostile
    page = await client.get("/monitor/sign-in", params={"next": "/monitor/jobs?status=queued"})
    assert 'data-next="/monitor/jobs?status=queued"' in await page.text()
    # Only monitor pages send a browser to sign in; an API route answers a client that accepts HTML 401 all the same.
    resp = await client.get("/v1/dlq", headers={"Accept": "text/html,application/json"}, allow_redirects=False)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == REALM and await _error(resp) == "unauthorized"
    # Two Authorization headers: which one counts is ambiguous, so neither does.
    for pair in ((keys[Role.ADMIN], "junk"), ("junk", keys[Role.ADMIN])):
        two = CIMultiDict([("Authorization", f"Bearer {k}") for k in pair])
        resp = await client.get("/v1/dlq", headers=two)
        assert resp.status == 400 and await _error(resp) == "ambiguous_authorization", pair
    refused = await client.get("/v1/keys", headers=bearer(keys[Role.OPERATOR]))
    assert refused.status == 403 and "is an operator" in (await refused.json())["error"]["message"]
    refused = await client.get("/monitor/jobs", headers={"Accept": "text/html", **bearer(keys[Role.SUBMITTER])})
    html = await refused.text()
    assert refused.status == 403 and refused.content_type == "text/html", html  # a page for a person
    assert "needs the reader role" in html and "test submitter (submitter)" in html


async def sign_in(client: TestClient, key: str) -> tuple[str, str]:
    """The session cookie's value and its Set-Cookie line; the client's own jar is left empty."""
    resp = await client.post("/monitor/session", json={"key": key})
    assert resp.status == 200, await resp.text()
    client.session.cookie_jar.clear()
    return resp.cookies[COOKIE].value, resp.headers["Set-Cookie"]


async def test_the_session_cookie_names_a_session_never_the_key(world):
    client, keys, _ = world
    base = str(client.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:  # its own jar
        assert (await browser.post("/monitor/session", json={"key": keys[Role.ADMIN][:-1] + "x"})).status == 401
        resp = await browser.post("/monitor/session", json={"key": keys[Role.READER]})
        assert resp.status == 200 and (await resp.json())["role"] == "reader"
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie, cookie
        assert "Secure" not in cookie  # plain HTTP, and PLANPERFECT_COOKIE_SECURE unset
        session = resp.cookies[COOKIE].value
        # What any other server of this host receives is not the key, nor anything of it, nor a key to the API.
        assert keys[Role.READER].split("_", 2)[2] not in cookie and len(session) == 43
        assert (await client.get("/v1/dlq", headers=bearer(session))).status == 401
        assert (await browser.get("/monitor/jobs")).status == 200
        assert (await browser.get("/v1/dlq")).status == 200
        refused = await browser.post(f"/v1/jobs/{UUID(int=1)}/cancel", headers=SAME_ORIGIN)
        assert refused.status == 403 and await _error(refused) == "forbidden"
        assert (await browser.delete("/monitor/session", headers=SAME_ORIGIN)).status == 200
        assert (await browser.get("/v1/dlq")).status == 401
    # Signed out is ended on the server, not only forgotten by the browser: the same cookie sent again is refused,
    # with what happened; a person opening a page with it goes to sign in, told so, and the stale cookie goes.
    replayed = await client.get("/v1/dlq", headers={"Cookie": f"{COOKIE}={session}"})
    assert replayed.status == 401 and await _error(replayed) == "session_expired"
    assert (await replayed.json())["error"]["message"] == "the monitor session has ended or expired: sign in again"
    page = await client.get("/monitor/jobs", headers={"Cookie": f"{COOKIE}={session}", "Accept": "text/html"},
                            allow_redirects=False)
    assert page.status == 303 and URL(page.headers["Location"]).query.get("ended") == "1", page.headers
    assert f"{COOKIE}=\"\"" in page.headers["Set-Cookie"], page.headers
    told = await client.get(page.headers["Location"])
    assert "The monitor session has ended or expired: sign in again." in await told.text()


SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}  # what a browser's fetch() from the monitor's own page sends


async def test_a_session_is_an_operator_at_most_and_writes_with_it_only_from_the_monitors_page(world):
    """A session id reaches every web server of the host (cookies are per host, not per port): replayed by another
    program it must not make keys, nor write at all without the headers only the monitor's own page sends."""
    client, keys, _ = world
    admin, _ = await sign_in(client, keys[Role.ADMIN])
    resp = await client.post("/monitor/session", json={"key": keys[Role.ADMIN]})
    assert (await resp.json())["role"] == "operator"  # an admin key signs in as an operator
    client.session.cookie_jar.clear()
    cookie = {"Cookie": f"{COOKIE}={admin}"}
    for method, path in (("GET", "/v1/keys"), ("POST", "/v1/keys"), ("POST", f"/v1/keys/{'0' * 12}/revoke")):
        refused = await client.request(method, path, headers={**cookie, **SAME_ORIGIN},
                                       json={"name": "persist", "role": "admin"})
        assert refused.status == 403 and await _error(refused) == "forbidden", (method, path, refused.status)
        assert "is an operator" in (await refused.json())["error"]["message"]
    assert (await client.get("/v1/dlq", headers=cookie)).status == 200  # the monitor's reads are an operator's

    operator, _ = await sign_in(client, keys[Role.OPERATOR])
    cancel = f"/v1/jobs/{UUID(int=1)}/cancel"
    host = f"http://{client.make_url('').host}:{client.port}"
    for blank in ({}, {"Authorization": "Bearer "}):  # no Origin, no Sec-Fetch-Site; an empty key is no key
        replayed = await client.post(cancel, headers={"Cookie": f"{COOKIE}={operator}", **blank})
        assert replayed.status == 403 and await _error(replayed) == "cross_site_request", (blank, await replayed.text())
        assert "monitor's own page" in (await replayed.json())["error"]["message"]
    for headers in (SAME_ORIGIN, {"Origin": host}):  # the monitor's own page: through the guard to the route
        resp = await client.post(cancel, headers={"Cookie": f"{COOKIE}={operator}", **headers})
        assert resp.status == 404, (headers, resp.status, await resp.text())
    elsewhere = await client.post(cancel, headers={"Cookie": f"{COOKIE}={operator}", "Origin": "http://127.0.0.1:1"})
    assert elsewhere.status == 403 and await _error(elsewhere) == "cross_site_request"
    # An API client's key is its credential, with or without a stale cookie: no browser headers needed.
    for headers in (bearer(keys[Role.OPERATOR]), {**bearer(keys[Role.OPERATOR]), "Cookie": f"{COOKIE}={operator}"}):
        assert (await client.post(cancel, headers=headers)).status == 404


async def test_a_sign_in_ends_the_browsers_previous_session_and_a_key_keeps_its_newest_sessions(world):
    client, keys, _ = world
    first, _ = await sign_in(client, keys[Role.SUBMITTER])
    resp = await client.post("/monitor/session", json={"key": keys[Role.SUBMITTER]},
                             headers={"Cookie": f"{COOKIE}={first}", **SAME_ORIGIN})
    assert resp.status == 200
    client.session.cookie_jar.clear()
    again = resp.cookies[COOKIE].value
    ended = await client.get("/v1/jobs", headers={"Cookie": f"{COOKIE}={first}"})
    assert ended.status == 401 and await _error(ended) == "session_expired"
    assert (await client.get("/v1/jobs", headers={"Cookie": f"{COOKIE}={again}"})).status == 200
    newer = [(await sign_in(client, keys[Role.SUBMITTER]))[0] for _ in range(Sessions.PER_KEY - 1)]
    assert (await client.get("/v1/jobs", headers={"Cookie": f"{COOKIE}={again}"})).status == 200  # 20 live
    newer.append((await sign_in(client, keys[Role.SUBMITTER]))[0])  # the 21st ends the oldest
    assert (await client.get("/v1/jobs", headers={"Cookie": f"{COOKIE}={again}"})).status == 401
    for session in (newer[0], newer[-1]):
        assert (await client.get("/v1/jobs", headers={"Cookie": f"{COOKIE}={session}"})).status == 200


async def test_every_answer_forbids_framing_and_sniffing_and_signed_in_ones_are_not_stored(world):
    client, keys, _ = world
    session, _ = await sign_in(client, keys[Role.READER])
    answers = {"sign-in": await client.get("/monitor/sign-in"), "docs": await client.get("/docs"),
               "error": await client.get("/monitor/jobs?status=nope", headers={"Accept": "text/html",
                                                                               "Cookie": f"{COOKIE}={session}"}),
               "page": await client.get("/monitor/jobs", headers={"Cookie": f"{COOKIE}={session}"}),
               "json": await client.get("/v1/jobs", headers=bearer(keys[Role.READER])),
               "static": await client.get("/monitor/static/monitor.js"),
               "unauthorized": await client.get("/v1/jobs")}
    for name, resp in answers.items():
        policy = resp.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, (name, resp.headers)
        assert resp.headers.get("X-Frame-Options") == "DENY", (name, resp.headers)
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", (name, resp.headers)
        assert resp.headers.get("Referrer-Policy") == "same-origin", (name, resp.headers)
    for name in ("error", "page", "json"):
        assert answers[name].headers.get("Cache-Control") == "no-store", (name, answers[name].headers)
    assert "unsafe-inline" not in answers["page"].headers["Content-Security-Policy"]
    assert answers["error"].status == 400 and answers["page"].status == 200


async def test_an_undeclared_route_is_an_admins_only(infra, database, prefix):
    async def hello(_request):
        return web.json_response({"hello": True})

    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix)))
    app.router.add_get("/v1/undeclared", hello)
    operator, admin = [await make_key(infra, database, prefix, r) for r in ("operator", "admin")]
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/v1/undeclared", headers=bearer(operator))).status == 403
        assert (await client.get("/v1/undeclared", headers=bearer(admin))).status == 200


async def test_revocation_takes_effect_at_once_here_and_within_the_cache_time_elsewhere(infra, database, prefix):
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), key_cache_seconds=1.0)
    admin = await make_key(infra, database, prefix, "admin")
    first, second = [await make_key(infra, database, prefix, "reader", name=n) for n in ("first", "second")]
    async with TestClient(TestServer(create_app(config)), headers=bearer(admin)) as client:
        for key in (first, second):
            assert (await client.get("/v1/jobs", headers=bearer(key))).status == 200
        session, _ = await sign_in(client, second)
        # The monitor's session made with the second key, alone (without the admin's key the client sends).
        async with aiohttp.ClientSession(headers={"Cookie": f"{COOKIE}={session}"}) as browser:
            async def with_session() -> int:
                async with browser.get(client.make_url("/v1/jobs")) as resp:
                    return resp.status

            assert await with_session() == 200
            # Through this API: refused from the next request on.
            resp = await client.post(f"/v1/keys/{key_id_of(first)}/revoke")
            assert resp.status == 200 and (await resp.json())["revoked_by"].startswith("key:")
            assert (await client.get("/v1/jobs", headers=bearer(first))).status == 401
            # From the command line (another process): refused once this process's cache time has passed.
            code, out, err = await cli("keys", "revoke", key_id_of(second), env=env_of(infra, database, prefix))
            assert code == 0 and f"revoked key {key_id_of(second)}" in out, err

            async def refused() -> bool:  # the key, and the monitor's session made with it
                return (await client.get("/v1/jobs", headers=bearer(second))).status == await with_session() == 401

            await eventually(refused, timeout=config.key_cache_seconds + 5, what="the CLI's revocation applied")
        listed = {k["key_id"]: k for k in (await (await client.get("/v1/keys")).json())["keys"]}
        assert listed[key_id_of(second)]["revoked_by"].startswith("cli:")
        assert all("key" not in k and "secret_hash" not in k for k in listed.values())


async def test_a_revoked_keys_sessions_and_open_event_streams_end_at_once(infra, database, prefix):
    # A key cache of a minute: only the revocation, not the cache's time, can end anything within this test.
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), key_cache_seconds=60.0,
                       cookie_secure=True)
    admin = await make_key(infra, database, prefix, "admin")
    reader = await make_key(infra, database, prefix, "reader")
    async with TestClient(TestServer(create_app(config))) as client:
        session, set_cookie = await sign_in(client, reader)
        assert "Secure" in set_cookie, set_cookie  # PLANPERFECT_COOKIE_SECURE: behind a TLS proxy, over HTTP here
        cookie = {"Cookie": f"{COOKIE}={session}"}
        assert (await client.get("/monitor/jobs", headers=cookie)).status == 200
        feeds = [await client.get("/monitor/events", headers={**cookie, "Accept": "text/event-stream"}),
                 await client.get("/monitor/events", headers={**bearer(reader), "Accept": "text/event-stream"})]
        for feed in feeds:
            assert feed.status == 200 and await feed.content.readuntil(b"\n\n") == b"retry: 1000\n\n"
        resp = await client.post(f"/v1/keys/{key_id_of(reader)}/revoke", headers=bearer(admin))
        assert resp.status == 200, await resp.text()
        assert (await client.get("/monitor/jobs", headers=cookie)).status == 401
        for feed in feeds:  # each feed ends by itself (EOF) at its next push, however long the key cache's time
            await asyncio.wait_for(feed.content.read(), timeout=10)


async def test_intake_is_rate_limited_per_key_with_retry_after(infra, database, prefix):
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), intake_rate_per_key=2.0,
                       intake_burst_per_key=2)
    one, other = [await make_key(infra, database, prefix, "submitter", name=n) for n in ("one", "other")]
    # An empty body: the limit is counted before the body is read (422 past it), so no write to Kafka is needed.
    async with TestClient(TestServer(create_app(config))) as client:
        statuses = [(await client.post("/v1/jobs", json={}, headers=bearer(one))).status for _ in range(2)]
        assert statuses == [422, 422]
        refused = await client.post("/content-intake", json={}, headers=bearer(one))  # one bucket for both routes
        assert refused.status == 429 and refused.headers["Retry-After"] == "1", await refused.text()
        assert await _error(refused) == "rate_limited"
        paced = await client.post("/v1/users/ada/knowledge", json={}, headers=bearer(one))  # pacing writes too
        assert paced.status == 429 and int(paced.headers["Retry-After"]) >= 1, await paced.text()
        assert (await client.post("/v1/jobs", json={}, headers=bearer(other))).status == 422
        assert (await client.get("/v1/jobs", headers=bearer(one))).status == 200  # reads are not limited

        async def allowed_again() -> bool:
            return (await client.post("/v1/jobs", json={}, headers=bearer(one))).status == 422

        await eventually(allowed_again, timeout=5, interval=0.25, what="a token back after Retry-After")


async def test_while_postgres_is_out_of_reach_a_checked_key_is_trusted_for_a_bounded_time(infra, database, prefix,
                                                                                         caplog):
    """A key revoked just before an outage must not keep working for all of it: the cached row is trusted only
    `outage_trust` seconds after it was last read; the fallback is logged once."""
    reader = await make_key(infra, database, prefix, "reader")
    now = [1000.0]
    pool = await asyncpg.create_pool(database, min_size=0, max_size=1)
    try:
        verifier = KeyVerifier(pool, ttl=5, outage_trust=60, clock=lambda: now[0])
        assert (await verifier.principal(reader)).role is Role.READER  # read from PostgreSQL, remembered
        # PostgreSQL out of reach: new connections go to a port nothing listens on, the open one is dropped.
        pool.set_connect_args(dsn=database.replace(f":{URL(database).port}/", f":{free_port()}/"))
        await pool.expire_connections()
        now[0] += 30  # past the cache time, within the outage trust: the key as it was
        assert (await verifier.principal(reader)).role is Role.READER
        now[0] += 20
        assert (await verifier.principal(reader)).role is Role.READER
        assert sum("out of reach" in r.getMessage() for r in caplog.records) == 1, caplog.text
        now[0] += 11  # 61 s after it was last read: not trusted any more, the outage's error (a 503 in the API)
        with pytest.raises(OSError):
            await verifier.principal(reader)
    finally:
        await pool.close()


async def test_while_postgres_is_out_of_reach_a_checked_session_is_trusted_for_the_keys_bounded_time(
        infra, database, prefix, caplog):
    """A session whose key was revoked just before an outage must not keep working for all of it: the same bound as
    a key's (KeyVerifier.OUTAGE_TRUST_SECONDS), logged once."""
    reader = await make_key(infra, database, prefix, "reader")
    now = [1000.0]
    pool = await asyncpg.create_pool(database, min_size=0, max_size=1)
    try:
        sessions = Sessions(pool, ttl=5, lifetime=3600, clock=lambda: now[0])
        verifier = KeyVerifier(pool, ttl=5)
        session = await sessions.open(await verifier.principal(reader))
        assert (await sessions.principal(session)).role is Role.READER  # read from PostgreSQL, remembered
        pool.set_connect_args(dsn=database.replace(f":{URL(database).port}/", f":{free_port()}/"))
        await pool.expire_connections()
        now[0] += 59  # past the cache time, within the outage trust: the session as it was
        assert (await sessions.principal(session)).role is Role.READER
        assert (await sessions.principal(session)).role is Role.READER
        assert sum("monitor sessions checked within" in r.getMessage() for r in caplog.records) == 1, caplog.text
        now[0] += 2  # 61 s after it was last read: the outage's error (a 503 in the API)
        with pytest.raises(OSError):
            await sessions.principal(session)
    finally:
        await pool.close()
