"""`planperfect api` starts and serves while Kafka is down (503 kafka_unavailable), and recovers without a restart."""

from __future__ import annotations

import uuid


from tests.conftest import create_database, create_prefix, delete_prefix, drop_database
from tests.e2e.test_delivery import job
from tests.e2e.test_faults import _submit, _wait_readyz, own_stack  # noqa: F401 - own_stack is the fixture
from tests.support import api_session, free_port, make_key, start_child


async def test_the_api_starts_without_kafka_answers_503_and_recovers_when_the_broker_returns(own_stack, tmp_path):
    infra = own_stack.infra
    database = await create_database(infra)
    prefix = await create_prefix(infra)
    key = await make_key(infra, database, prefix, "submitter")
    await own_stack.kill("kafka")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = start_child("api", {"PLANPERFECT_KAFKA_BOOTSTRAP": infra.bootstrap, "PLANPERFECT_DATABASE_URL": database,
                              "PLANPERFECT_TOPIC_PREFIX": prefix, "PLANPERFECT_API_PORT": str(port)}, tmp_path)
    try:
        async with api_session(key) as http:
            try:  # it listens and answers, rather than exiting 69 and leaving clients "connection refused"
                await _wait_readyz(http, base, 503, timeout=30)
            except AssertionError:
                raise AssertionError(api.output()) from None
            async with http.get(f"{base}/readyz") as resp:
                assert set((await resp.json())["problems"]) == {"kafka"}
            async with http.post(f"{base}/v1/jobs", json=job("no broker"),
                                 headers={"Idempotency-Key": str(uuid.uuid4())}) as resp:
                error = (await resp.json())["error"]
                assert resp.status == 503 and error["code"] == "kafka_unavailable", error
                assert "nothing was written" in error["message"], error  # no producer: nothing was sent
                assert resp.headers["Retry-After"].isdigit()

            await own_stack.restart()
            ready_after = await _wait_readyz(http, base, 200, timeout=60)
            status, job_id = await _submit(http, base, str(uuid.uuid4()), "broker back")
            assert status == 202 and job_id, (status, api.output())
            assert api.proc.poll() is None  # the same process: recovered without a restart
            print(f"ready {ready_after:.1f} s after the broker was restarted")
    finally:
        api.stop()
        await own_stack.restart()
        await drop_database(infra, database)
        await delete_prefix(infra, prefix)
