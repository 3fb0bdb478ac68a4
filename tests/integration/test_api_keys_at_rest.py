"""No key at rest in plaintext: keys made by the CLI and through the API, used, refused and revoked, then the
database's dump, the log's topics, the captured logs and the CLI's output are searched for every secret (and for
the monitor's session ids made with them). The key
changes are on the log as facts naming who made them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import stat
import subprocess

import asyncpg

from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from api.app import create_app
from api.config import ApiConfig
from api.keys import find_key, key_id_of
from planperfect.api_key import ensure_key_file, key_file
from planperfect.settings import Settings
from streams.access import kafka_options
from streams.access_events import ACCESS_ADAPTER, KeyCreated, KeyRevoked
from streams.topics import Topics
from tests.support import TEST_PARTITIONS, bearer, cli, env_of, eventually, make_key


async def _whole_log(bootstrap: str, prefix: str) -> dict[str, list[bytes]]:
    """Every record (key and value) of every topic of the catalogue under the prefix."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        names = [name for name, _ in Topics(prefix).all()]
        parts = [TopicPartition(t, p) for t in names for p in range(TEST_PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: dict[str, list[bytes]] = {t: [] for t in names}
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                records[tp.topic] += [(r.key or b"") + b" " + (r.value or b"") for r in batch]
        return records
    finally:
        await consumer.stop()


async def test_no_key_is_stored_logged_or_published_in_plaintext(infra, database, prefix, caplog):
    caplog.set_level(logging.DEBUG)
    env = env_of(infra, database, prefix)
    code, out, made_err = await cli("keys", "create", "--role", "operator", "--name", "cli operator", env=env)
    assert code == 0, made_err
    by_cli = out.strip()
    assert key_id_of(by_cli) and out.count("\n") == 1, out  # the key alone on stdout, shown this once
    admin = await make_key(infra, database, prefix, "admin", name="audit admin", logged=True)

    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix)))
    async with TestClient(TestServer(app), headers=bearer(admin)) as client:
        for body, field in (({"name": "x\x1b[2J", "role": "reader"}, "name"),
                            ({"name": "x", "role": "reader", "tenant": "ACME"}, "tenant"),
                            ({"name": "x", "role": "admin", "tenant": "acme"}, "tenant")):
            resp = await client.post("/v1/keys", json=body)  # one rule with `keys create` (tests/unit/test_key_rules)
            assert resp.status == 422 and (await resp.json())["error"]["field"] == field, await resp.text()
        resp = await client.post("/v1/keys", json={"name": " api reader ", "role": "reader", "tenant": "acme"})
        assert resp.status == 201 and (await resp.json())["name"] == "api reader", await resp.text()
        by_api = (await resp.json())["key"]
        sessions = []  # the monitor's session ids are secrets too: only their hashes may be stored
        for key in (by_cli, by_api, admin):
            assert (await client.get("/v1/jobs", headers=bearer(key))).status == 200
            resp = await client.post("/monitor/session", json={"key": key})
            assert resp.status == 200
            sessions.append(resp.cookies["planperfect_session"].value)
            client.session.cookie_jar.clear()  # three browsers: a sign-in ends the session its browser sent
            altered = key[:-1] + ("A" if key[-1] != "A" else "B")
            assert (await client.get("/v1/jobs", headers=bearer(altered))).status == 401
        resp = await client.post(f"/v1/keys/{key_id_of(by_cli)}/revoke")
        assert resp.status == 200
        assert (await client.get("/v1/jobs", headers=bearer(by_cli))).status == 401
        listed = await (await client.get("/v1/keys")).text()
    code, listing, list_err = await cli("keys", "list", "--json", env=env)
    assert code == 0 and len(listing.splitlines()) == 3, list_err

    keys = (by_cli, by_api, admin)
    secrets = [k.split("_", 2)[2] for k in keys] + sessions
    dump = subprocess.run(["pg_dump", database], capture_output=True, text=True, check=True).stdout
    log = await _whole_log(infra.bootstrap, prefix)
    places = {"pg_dump": dump, "logs": caplog.text + made_err + list_err, "GET /v1/keys": listed,
              "keys list": listing, **{topic: b"\n".join(values).decode(errors="replace") for topic, values in log.items()}}
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a key's secret is readable in {place}"
    for key in (*keys, *sessions):  # the dump holds each key's and session's hash: the search looked where they are
        assert hashlib.sha256(key.encode()).hexdigest() in dump

    facts = [ACCESS_ADAPTER.validate_json(v.split(b" ", 1)[1]) for v in log[Topics(prefix).access_events]]
    created = {f.key_id: f for f in facts if isinstance(f, KeyCreated)}
    assert set(created) == {key_id_of(k) for k in keys}
    assert created[key_id_of(by_cli)].actor.startswith("cli:") and created[key_id_of(by_cli)].role == "operator"
    assert created[key_id_of(by_api)].actor == f"key:{key_id_of(admin)} (audit admin)"
    assert created[key_id_of(by_api)].tenant == "acme"
    revoked = [f for f in facts if isinstance(f, KeyRevoked)]
    assert [(f.key_id, f.actor) for f in revoked] == [(key_id_of(by_cli), f"key:{key_id_of(admin)} (audit admin)")]
    assert json.loads(listing.splitlines()[0])["key_id"]  # JSON lines, one per key


async def test_the_key_files_are_private_replaced_when_lost_and_a_refusal_says_how_to_mend_them(
        infra, database, prefix, tmp_path):
    settings = Settings(kafka_bootstrap=infra.bootstrap, database_url=database, topic_prefix=prefix, data_dir=tmp_path)
    admin_path, path = key_file(settings), key_file(settings, "operator")
    first = await asyncio.to_thread(ensure_key_file, settings, "admin")  # what `up` does
    assert first.made and not first.still_active and stat.S_IMODE(admin_path.stat().st_mode) == 0o600
    admin_path.write_text("not a key\n")  # a corrupt file: `up` makes another, dated, and names the one still active
    second = await asyncio.to_thread(ensure_key_file, settings, "admin")
    assert second.made != first.made and [k.key_id for k in second.still_active] == [first.made]
    operator = await asyncio.to_thread(ensure_key_file, settings, "operator")  # the key the CLI sends
    assert operator.made and not operator.still_active and stat.S_IMODE(path.stat().st_mode) == 0o600
    conn = await asyncpg.connect(database)
    try:
        named = (await find_key(conn, second.made)).name
        assert (await find_key(conn, operator.made)).role.value == "operator"
    finally:
        await conn.close()
    assert re.fullmatch(r"admin \(made by planperfect up, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", named), named

    env = env_of(infra, database, prefix) | {"PLANPERFECT_DATA_DIR": str(tmp_path)}
    path.chmod(0o644)  # others may read it: the CLI refuses it as ssh does, with the fix; `up` puts it back
    code, _, err = await cli("dlq", "list", env=env)
    assert code == 1 and f"chmod 600 {path}" in err and "0644" in err, err
    third = await asyncio.to_thread(ensure_key_file, settings, "operator")
    assert third.repaired == 0o644 and third.made is None and stat.S_IMODE(path.stat().st_mode) == 0o600

    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), key_cache_seconds=0))
    async with TestClient(TestServer(app)) as client:  # no cache time: the CLI's revocation applies at once
        env |= {"PLANPERFECT_API_HOST": "127.0.0.1", "PLANPERFECT_API_PORT": str(client.port)}
        assert (await cli("dlq", "list", env=env))[0] == 0
        assert (await cli("keys", "revoke", second.made, env=env))[0] == 0
        assert (await cli("dlq", "list", env=env))[0] == 0  # the CLI does not send the admin key
        assert (await cli("keys", "revoke", operator.made, env=env))[0] == 0
        code, _, err = await cli("dlq", "list", env=env)
        assert code == 1 and "401 invalid_token" in err and "keys create --role operator" in err, err
        assert f"--out {path}" in err and "planperfect up`" not in err, err
        code, out, err = await cli("keys", "create", "--role", "operator", "--name", "operator again", "--out",
                                   str(path), env=env)  # the hint's command, as given
        assert code == 0 and out == "" and stat.S_IMODE(path.stat().st_mode) == 0o600, err
        assert (await cli("dlq", "list", env=env))[0] == 0
    # A file it cannot write: said in one line before any key is made (not "written", a traceback, and a key nobody has)
    code, out, err = await cli("keys", "create", "--role", "operator", "--name", "orphan", "--out", "/proc/none/key",
                               env=env)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith("planperfect keys create: cannot write /proc/none/key: ") and "no key was made" in err, err
    assert not (await sql_rows(database, "SELECT key_id FROM api_keys WHERE name = 'orphan'"))


async def sql_rows(dsn: str, query: str) -> list:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_a_write_kafka_has_not_acknowledged_is_a_503_saying_it_may_still_land(infra, database, prefix):
    """Only a route that takes an Idempotency-Key tells the client to retry with the same one (POST /v1/keys has
    none)."""
    admin = await make_key(infra, database, prefix, "admin")
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix), kafka_send_timeout_seconds=1e-6)
    async with TestClient(TestServer(create_app(config)), headers=bearer(admin)) as client:
        async def ready() -> bool:  # the producer has reached Kafka: the write is sent, and not acknowledged in time
            return (await client.get("/readyz")).status == 200

        await eventually(ready, timeout=30, what="the API's producer connected")
        resp = await client.post("/v1/jobs", json={"job_type": "article", "payload": {"title": "Heat pumps"}})
        message = (await resp.json())["error"]["message"]
        assert resp.status == 503 and "may still have been accepted" in message, message
        assert "retry with the same Idempotency-Key" in message, message
        resp = await client.post("/v1/keys", json={"name": "late reader", "role": "reader"})
        message = (await resp.json())["error"]["message"]
        assert resp.status == 503 and "may still have been accepted" in message, message
        assert "Idempotency-Key" not in message, message
