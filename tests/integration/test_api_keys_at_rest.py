"""No key at rest in plaintext: keys made by the CLI and through the API, used, refused and revoked, then the
database's dump, the log's topics, the captured logs and the CLI's output are searched for every secret (and for
the monitor's session ids made with them). The key
changes are on the log as facts naming who made them."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess

from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from api.app import create_app
from api.config import ApiConfig
from api.keys import key_id_of
from streams.access import kafka_options
from streams.access_events import ACCESS_ADAPTER, KeyCreated, KeyRevoked
from streams.topics import Topics
from tests.support import TEST_PARTITIONS, bearer, cli, env_of, make_key


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
        resp = await client.post("/v1/keys", json={"name": "api reader", "role": "reader", "tenant": "acme"})
        assert resp.status == 201, await resp.text()
        by_api = (await resp.json())["key"]
        sessions = []  # the monitor's session ids are secrets too: only their hashes may be stored
        for key in (by_cli, by_api, admin):
            assert (await client.get("/v1/jobs", headers=bearer(key))).status == 200
            resp = await client.post("/monitor/session", json={"key": key})
            assert resp.status == 200
            sessions.append(resp.cookies["planperfect_session"].value)
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
