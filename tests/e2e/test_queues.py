"""Queue depth from /v1/queues and `planperfect lag` equals Kafka's own kafka-consumer-groups --describe."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys


from tests.e2e.conftest import running_system
from tests.e2e.test_delivery import get, job, submit, wait_status


def tool_lags(bootstrap: str, group: str) -> dict[tuple[str, int], tuple[str, str, str]]:
    """(topic, partition) -> (current offset, log end offset, lag) as Kafka's tool prints them (run through the
    `planperfect kafka` passthrough, which hands it the bootstrap's credentials)."""
    cmd = [sys.executable, "-m", "planperfect.cli", "kafka", "consumer-groups", "--describe", "--group", group]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "PLANPERFECT_KAFKA_BOOTSTRAP": bootstrap}).stdout
    rows = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == group:
            rows[(cols[1], int(cols[2]))] = (cols[3], cols[4], cols[5])
    return rows


async def test_queue_figures_equal_kafka_consumer_groups(infra, database, prefix, tmp_path):
    async with running_system(infra, database, prefix, tmp_path) as system:
        base = system.base_url
        async with system.http() as http:
            first = await submit(http, base, job("Warm the groups up"))
            await wait_status(http, base, first, statuses=("completed",), system=system)
            system.children["worker"].stop()
            system.children["projector"].stop()
            for i in range(5):  # a backlog nobody consumes: the dispatcher and the projector both lag by 5
                await submit(http, base, job(f"Backlog {i}"))
            queues = (await get(http, f"{base}/v1/queues"))["queues"]

    cli = subprocess.run(
        [sys.executable, "-m", "planperfect.cli", "lag", "--json"], capture_output=True, text=True, timeout=120,
        env={**os.environ, **system.env}, check=True,
    )
    from_cli = json.loads(cli.stdout)["queues"]
    workers = await asyncio.to_thread(tool_lags, infra.bootstrap, f"{prefix}workers")
    projector = await asyncio.to_thread(tool_lags, infra.bootstrap, f"{prefix}projector")

    by_kind = {q["kind"]: q for q in queues if q["kind"] in ("dispatcher", "projector")}
    assert by_kind["dispatcher"]["queue_length"] == 5
    assert by_kind["projector"]["queue_length"] == 5
    assert by_kind["projector"]["oldest_msg_age_sec"] is not None
    assert by_kind["projector"]["total_messages"] > 5

    compared = 0
    for q in queues:
        tool = workers if q["group"] == f"{prefix}workers" else projector
        for p in q["partitions"]:
            row = tool.get((q["topic"], p["partition"]))
            if row is None:
                assert p["committed"] is None  # the tool only lists partitions the group has committed
                continue
            current, end, lag = row
            assert str(p["end"]) == end, (q["topic"], p, row)
            if current == "-":
                assert p["committed"] is None and p["lag"] == p["end"]
            else:
                assert (str(p["committed"]), str(p["lag"])) == (current, lag), (q["topic"], p, row)
                compared += 1
    assert compared >= 8  # job-events for both groups, the stage topics the warm-up used, ...
    assert [(q["topic"], q["group"], q["queue_length"]) for q in from_cli] == [
        (q["topic"], q["group"], q["queue_length"]) for q in queues
    ]
