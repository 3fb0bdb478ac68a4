"""Pacing end to end: real workers, projector and API; one analysis per user per day however it is triggered."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from planperfect.pacing_demo import wait_for_analysis, wait_for_context, wait_for_generations
from planperfect.pacing_samples import sample_documents, sample_meetings
from streams.codec import key_for
from streams.depth import queue_depths
from streams.pacing_jobs import pacing_job_id
from streams.topics import Topics
from tests.conftest import create_database, create_prefix, drop_database
from tests.e2e.conftest import running_system
from tests.pacing_support import words_of
from tests.support import eventually
from streams.access import kafka_options

FAST_TICKS = {"PLANPERFECT_PACING_TICK_SECONDS": "1"}


@pytest.fixture(scope="module")
async def pacing_system(infra):
    database, prefix = await create_database(infra), await create_prefix(infra)
    work = Path(tempfile.mkdtemp(prefix="planperfect-pacing-"))
    try:
        async with running_system(infra, database, prefix, work, **FAST_TICKS) as system:
            yield system
    finally:
        await drop_database(infra, database)


async def post(http: aiohttp.ClientSession, url: str, body: dict, ok=(202,)) -> dict:
    async with http.post(url, json=body) as resp:
        answer = await resp.json()
        assert resp.status in ok, (url, resp.status, answer)
        return answer


async def add_context(http, base: str, user: str, zone: str, docs: int = 6, meetings: int = 4) -> None:
    today = datetime.now(ZoneInfo(zone)).date()
    for doc in sample_documents(docs):
        await post(http, f"{base}/v1/users/{user}/knowledge", doc)
    for meeting in sample_meetings(today, meetings):
        await post(http, f"{base}/v1/users/{user}/meetings", meeting)


def in_a_moment(zone: str, seconds: int) -> tuple[str, date]:
    """A local time `seconds` from now, and the local date it falls on."""
    at = datetime.now(ZoneInfo(zone)) + timedelta(seconds=seconds)
    return at.strftime("%H:%M:%S"), at.date()


async def fetch(dsn: str, sql: str, *args) -> list:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def submissions(bootstrap: str, topic: str, job_id: uuid.UUID) -> int:
    """How many JobSubmitted for `job_id` are on the log (every copy any trigger wrote)."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - topics created since start
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count, key = 0, key_for(job_id)
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                count += sum(1 for m in msgs if m.key == key and json.loads(m.value)["type"] == "JobSubmitted")
        return count
    finally:
        await consumer.stop()


async def caught_up(bootstrap: str, topics: Topics) -> None:
    """Until the dispatcher and the projector have processed everything on job-events."""

    async def no_lag():
        try:
            depths = await queue_depths(bootstrap, [(topics.job_events, topics.group("workers")),
                                                    (topics.job_events, topics.group("projector"))])
        except KafkaError:  # a group coordinator still loading: ask again
            return False
        return all(d.queue_length == 0 for d in depths)

    await eventually(no_lag, timeout=60, what="dispatcher and projector caught up")


async def runs_of(dsn: str, job_id: uuid.UUID) -> list[str]:
    rows = await fetch(dsn, "SELECT type, body->>'stage' AS stage FROM content_events WHERE job_id = $1 ORDER BY sequence",
                       job_id)
    return [f"{r['type']}:{r['stage']}" for r in rows if r["type"] == "StageStarted"]


async def group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
        return sum(len(g[5]) for resp in described for g in resp.groups)
    finally:
        await admin.close()


async def test_concurrent_triggers_give_one_analysis_whose_pieces_cite_real_chunks(pacing_system):
    system, base, user, zone = pacing_system, pacing_system.base_url, f"ana-{uuid.uuid4().hex[:6]}", "America/New_York"
    async with pacing_system.http() as http:
        schedule = (await post(http, f"{base}/v1/pacing/schedules", {"user_id": user, "time_zone": zone}))["schedule"]
        await add_context(http, base, user, zone)
        deadline = time.monotonic() + 90
        await wait_for_context(base, http, user, 6, 4, deadline)
        answers = await asyncio.gather(*[
            post(http, f"{base}/v1/pacing/trigger", {"user_id": user, "schedule_id": schedule["schedule_id"]},
                 ok=(200, 202)) for _ in range(6)])
        today = datetime.now(ZoneInfo(zone)).date()
        assert {a["analysis_id"] for a in answers} == {str(pacing_job_id(user, today))}
        analysis = await wait_for_analysis(base, http, answers[0]["analysis_id"], deadline)
        pieces = await wait_for_generations(base, http, user, analysis, deadline)
    assert analysis["outcome"] == "analyzed" and analysis["trigger"] == "manual" and len(pieces) == 4
    job_id = uuid.UUID(analysis["analysis_id"])
    await caught_up(system.env["PLANPERFECT_KAFKA_BOOTSTRAP"], Topics(system.prefix))
    assert await runs_of(system.database, job_id) == ["StageStarted:analyze", "StageStarted:write",
                                                       "StageStarted:complete"]
    assert len(await fetch(system.database, "SELECT 1 FROM pacing_context_analysis WHERE user_id = $1", user)) == 1
    chunks = {r["chunk_id"]: r for r in await fetch(
        system.database, "SELECT chunk_id, heading, body FROM pacing_context_chunks WHERE user_id = $1", user)}
    for piece in pieces:
        cited = {uuid.UUID(c) for c in piece["metadata"]["cited_chunk_ids"]}
        assert cited and cited <= set(chunks), piece["topic"]
        for source in piece["metadata"]["sources"]:
            chunk = chunks[uuid.UUID(source["chunk_id"])]
            assert words_of(piece["topic"]) <= words_of(f"{chunk['heading']} {chunk['body']}")
            assert source["rank"] > 0
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "planperfect.cli", "pacing", "trigger", user, env={**os.environ, **system.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await cli.communicate()
    assert cli.returncode == 0 and b"already analysed" in out, out
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "planperfect.cli", "pacing", "status", env={**os.environ, **system.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await cli.communicate()
    assert cli.returncode == 0 and b"stage.write.normal" in out and b"completed=" in out, out


async def test_no_context_completes_with_an_explicit_result_and_no_pieces(pacing_system):
    base, user = pacing_system.base_url, f"empty-{uuid.uuid4().hex[:6]}"
    async with pacing_system.http() as http:
        await post(http, f"{base}/v1/pacing/schedules", {"user_id": user, "time_zone": "Asia/Tokyo"})

        async def schedule_visible():
            async with http.get(f"{base}/v1/pacing/schedules?user_id={user}") as resp:
                return (await resp.json())["schedules"]

        await eventually(schedule_visible, timeout=30, what="schedule projected")
        accepted = await post(http, f"{base}/v1/pacing/trigger", {"user_id": user})
        analysis = await wait_for_analysis(base, http, accepted["analysis_id"], time.monotonic() + 60)
        async with http.get(f"{base}/v1/pacing/generations?user_id={user}") as resp:
            generations = (await resp.json())["generations"]

        async def job_done():
            async with http.get(f"{base}/v1/jobs/{accepted['analysis_id']}") as resp:
                job = await resp.json()
                return job if job["status"] == "completed" else None

        job = await eventually(job_done, timeout=60, what="pacing job completed")
    assert analysis["outcome"] == "no_context" and analysis["content_suggestions"] == [] and analysis["topics"] == []
    assert analysis["knowledge_context"]["chunk_count"] == 0 and analysis["meeting_context"]["items"] == []
    assert generations == []
    assert [s["stage"] for s in job["stages"]] == ["analyze", "write", "complete"] and job["job_type"] == "pacing"


async def test_two_workers_fire_a_slot_once_and_a_restarted_scheduler_does_not_fire_it_again(infra, database, prefix,
                                                                                              tmp_path):
    topics = Topics(prefix)
    async with running_system(infra, database, prefix, tmp_path, **FAST_TICKS) as system:
        system.start("worker", "worker-2")
        await eventually(lambda: _members_are(infra.bootstrap, topics.group("workers"), 2), timeout=60,
                         what="two workers in the group")
        base, zone, user = system.base_url, "Asia/Kolkata", f"sam-{uuid.uuid4().hex[:6]}"
        deadline = time.monotonic() + 120
        async with system.http() as http:
            await add_context(http, base, user, zone, docs=3, meetings=2)
            slot, day = in_a_moment(zone, 12)
            await post(http, f"{base}/v1/pacing/schedules", {"user_id": user, "time_zone": zone, "local_times": [slot]})
            await wait_for_context(base, http, user, 3, 2, deadline)
            # With the projector away, neither worker can see the other's submission in the read model:
            # both timers fire the slot, and only the dispatcher's guard stands between them.
            system.children["projector"].stop()
            job_id = pacing_job_id(user, day)
            await eventually(lambda: _submitted(infra.bootstrap, topics.job_events, job_id, 2), timeout=60,
                             what="both workers submitted the slot")
            system.start("projector", "projector-2")
            analysis = await wait_for_analysis(base, http, str(job_id), deadline)
            await wait_for_generations(base, http, user, analysis, deadline)
            assert (analysis["trigger"], analysis["slot"]) == ("schedule", slot)
            await caught_up(infra.bootstrap, topics)
            assert await submissions(infra.bootstrap, topics.job_events, job_id) == 2  # one per worker, once each

            # Restart the scheduler: both workers go, a new one comes. Its ticks see the slot again, inside
            # the catch-up horizon, and must leave it alone; a second user's slot proves it has ticked since.
            for name in ("worker", "worker-2"):
                system.children[name].stop()
            system.start("worker", "worker-3")
            other = f"lee-{uuid.uuid4().hex[:6]}"
            other_slot, other_day = in_a_moment(zone, 4)
            await post(http, f"{base}/v1/pacing/schedules", {"user_id": other, "time_zone": zone, "local_times": [other_slot]})
            proof = pacing_job_id(other, other_day)
            assert (await wait_for_analysis(base, http, str(proof), deadline))["trigger"] == "schedule"

            # A straggler from a dead worker writes the day's JobSubmitted once more: the dispatcher drops it.
            late = json.loads((await fetch(database, "SELECT body FROM content_events WHERE job_id = $1 AND sequence = 1",
                                           job_id))[0]["body"])
            await _produce(infra.bootstrap, topics.job_events, job_id, late)
            await caught_up(infra.bootstrap, topics)

    assert await submissions(infra.bootstrap, topics.job_events, job_id) == 3  # the straggler, nothing else
    assert await runs_of(database, job_id) == ["StageStarted:analyze", "StageStarted:write", "StageStarted:complete"]
    rows = await fetch(database, "SELECT status FROM pacing_context_analysis WHERE user_id = $1", user)
    assert [r["status"] for r in rows] == ["completed"]
    assert len(await fetch(database, "SELECT 1 FROM pacing_content_generation WHERE analysis_id = $1", job_id)) == 4


async def _members_are(bootstrap: str, group: str, n: int) -> bool:
    try:
        return await group_members(bootstrap, group) == n
    except KafkaError:  # the group is still forming
        return False


async def _submitted(bootstrap: str, topic: str, job_id: uuid.UUID, n: int) -> bool:
    return await submissions(bootstrap, topic, job_id) >= n


async def _produce(bootstrap: str, topic: str, job_id: uuid.UUID, body: dict) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(body).encode(), key=key_for(job_id))
    finally:
        await producer.stop()
