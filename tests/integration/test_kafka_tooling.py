"""Kafka tooling on a real broker: the passthrough to Kafka's tools, topics describe, tail, dlq tail, and kcat agreeing with tail."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import uuid

from planperfect.stack.kafka import kcat_properties, properties_text
from planperfect.stack.secrets import write_private
from projections.runner import ProjectionRunner
from streams.access import kafka_address, parse_bootstrap
from streams.topics import Topics
from tests.support import TEST_PARTITIONS, cli, env_of
from tests.joblog import job_events, produce

LINE = re.compile(r"^\s*(?P<partition>\d+):(?P<offset>\d+)\s+(?P<type>\S+)(?:\s+job=(?P<job>\S+) seq=(?P<seq>\S+))?")


def parse(out: str) -> list[re.Match]:
    found = [LINE.match(line) for line in out.splitlines()]
    assert all(found), out
    return found


async def project(infra, dsn: str, prefix: str) -> None:
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=dsn, topics=Topics(prefix), batch_wait_ms=20)
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()


async def test_the_passthrough_runs_kafkas_own_tools_against_the_configured_cluster(infra, prefix, database):
    env = env_of(infra, database, prefix)
    topics = Topics(prefix)
    code, out, err = await cli("kafka", "topics", "--list", env=env)
    assert code == 0, err
    assert {name for name, _ in topics.all()} <= set(out.split())

    code, out, err = await cli("kafka", "topics", "--bootstrap-server", infra.bootstrap, "--describe",
                               "--topic", topics.job_events, env=env)  # given explicitly: kept, not doubled
    assert code == 0, err
    assert f"PartitionCount: {TEST_PARTITIONS}" in out

    await produce(infra.bootstrap, topics.job_events, await job_events(2))
    await project(infra, database, prefix)
    code, out, err = await cli("kafka", "consumer-groups", "--describe", "--group", topics.group("projector"), env=env)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines() if topics.job_events in line]
    assert rows and {row[0] for row in rows} == {topics.group("projector")}
    assert {row[5] for row in rows} == {"0"}  # LAG column: the projector is caught up


async def test_topics_describe_shows_partitions_settings_and_offsets(infra, prefix, database):
    topics = Topics(prefix)
    events = await job_events(3)
    await produce(infra.bootstrap, topics.job_events, events)
    code, out, err = await cli("topics", "describe", env=env_of(infra, database, prefix))
    assert code == 0, out + err
    for name, _spec in topics.all():
        assert re.search(rf"^{re.escape(name)}  partitions={TEST_PARTITIONS} .*  ok$", out, re.M), (name, out)
    block = out.split(topics.job_events, 1)[1].split(topics.dead_letters, 1)[0]
    counts = [int(n) for n in re.findall(r"^  partition \d+  leader=\d+ .* offsets 0\.\.\d+ \((\d+) messages\)$", block, re.M)]
    assert len(counts) == TEST_PARTITIONS and sum(counts) == len(events)


async def test_tail_prints_each_event_decoded_on_one_line(infra, prefix, database):
    topics = Topics(prefix)
    env = env_of(infra, database, prefix)
    events = await job_events(3, fail_every=2)
    await produce(infra.bootstrap, topics.job_events, events, extra_raw=[b"\x00junk"])
    code, out, err = await cli("tail", "job-events", "--from-beginning", "--exit", env=env)
    assert code == 0, err
    lines = parse(out)
    decoded = sorted((m["job"], int(m["seq"]), m["type"]) for m in lines if m["type"] != "UNDECODABLE")
    assert decoded == sorted((str(e.job_id), e.sequence, e.type) for e in events)
    assert sum(m["type"] == "UNDECODABLE" for m in lines) == 1
    assert "raw=b'\\x00junk'" in out
    assert re.search(r"StageStarted +job=\S+ seq=\d+  stage=research attempt=1 time_limit_\w+=\d+", out), out

    one = str(uuid.UUID(int=2))
    code, out, err = await cli("tail", topics.job_events, "--from-beginning", "--job", one, "--max", "3", env=env)
    assert code == 0, err
    assert [(m["job"], m["seq"]) for m in parse(out)] == [(one, "1"), (one, "2"), (one, "3")]


async def test_tail_follows_the_log_as_events_arrive(infra, prefix, database):
    topics = Topics(prefix)
    events = await job_events(2)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "planperfect.cli", "tail", "job-events", "--max", str(len(events)),
        env={**os.environ, **env_of(infra, database, prefix)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        banner = b""
        while not banner.startswith(b"tail: "):  # aiokafka may warn first (a new topic's leader settling)
            banner = await asyncio.wait_for(proc.stderr.readline(), timeout=60)
            assert banner, "tail exited before listening"
        assert b"from the end" in banner, banner  # its positions are resolved: it is listening
        await produce(infra.bootstrap, topics.job_events, events)
        out = await asyncio.wait_for(proc.stdout.read(), timeout=60)
        assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert sorted((m["job"], int(m["seq"])) for m in parse(out.decode())) == sorted(
        (str(e.job_id), e.sequence) for e in events)


async def test_dlq_tail_shows_the_dead_letters(infra, prefix, database):
    topics = Topics(prefix)
    await produce(infra.bootstrap, topics.job_events, await job_events(1), extra_raw=[b"not json at all"])
    await project(infra, database, prefix)  # the projector dead-letters the undecodable event
    code, out, err = await cli("dlq", "tail", "--from-beginning", "--exit", env=env_of(infra, database, prefix))
    assert code == 0, err
    lines = parse(out)
    assert lines and {m["type"] for m in lines} == {"DeadLettered"}
    assert all(" reason=undecodable " in m.string and f"source_topic={topics.job_events}" in m.string for m in lines)


async def test_kcat_reads_the_same_messages_that_tail_prints(infra, prefix, database, tmp_path):
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed (Debian: apt-get install -y kcat)"
    topics = Topics(prefix)
    events = await job_events(3, fail_every=2)
    await produce(infra.bootstrap, topics.job_events, events, extra_raw=[b"junk"])
    config = tmp_path / "kcat.conf"  # the same credentials as the app's, as the local stack writes them for kcat
    write_private(config, properties_text(kcat_properties(parse_bootstrap(infra.bootstrap))))
    proc = await asyncio.create_subprocess_exec(
        kcat, "-b", kafka_address(infra.bootstrap), "-F", str(config), "-C", "-t", topics.job_events, "-o", "beginning", "-e", "-q",
        "-f", "%p:%o %k %s\n", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    raw, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    seen_by_kcat = {}
    for line in raw.decode().splitlines():
        where, key, value = line.split(" ", 2)
        kind = json.loads(value)["type"] if value.startswith("{") else "UNDECODABLE"
        seen_by_kcat[where] = (key if kind != "UNDECODABLE" else "-", kind)
    code, out, err = await cli("tail", "job-events", "--from-beginning", "--exit", env=env_of(infra, database, prefix))
    assert code == 0, err
    seen_by_tail = {f"{m['partition']}:{m['offset']}": (m["job"] or "-", m["type"]) for m in parse(out)}
    assert seen_by_tail == seen_by_kcat
    assert len(seen_by_kcat) == len(events) + 1
