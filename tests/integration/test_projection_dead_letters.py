"""Events PostgreSQL cannot store: the projector dead-letters each one and goes on; verify and rebuild agree."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timezone

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from api.config import ApiConfig
from planperfect.migrate import load_migrations
from projections.base import Record
from projections.queries import list_dead_letters
from projections.rebuild import rebuild, verify
from projections.replay import LogHead
from projections.runner import ProjectionRunner, default_projections
from streams.codec import encode, key_for
from streams.events import StageStarted
from streams.pacing_events import ScheduleCreated, pacing_key
from streams.topics import JOB_EVENTS, Topics
from tests.joblog import dump, job_events, produce
from tests.pacing_support import context_events
from tests.support import api_client, cli, env_of
from streams.access import kafka_options

DDL = [(f"{m.version:04d}_{m.name}", m.sql) for m in load_migrations()]
TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=timezone.utc)


def schedule(user: str) -> ScheduleCreated:
    sid = uuid.uuid5(uuid.NAMESPACE_URL, f"{user}:schedule")
    return ScheduleCreated(event_id=uuid.uuid5(sid, "created"), user_id=user, occurred_at=NOW, correlation_id=sid,
                           schedule_id=sid, time_zone="Europe/Berlin", local_times=["09:00"], days_of_week=["mon"],
                           content_types=["blog_post"], window_days=14, active=True)


async def send_raw(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> list[tuple[int, int]]:
    """Bytes straight to the log, as any producer may write them; returns each one's (partition, offset)."""
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        return [((meta := await producer.send_and_wait(topic, value, key=key)).partition, meta.offset)
                for key, value in messages]
    finally:
        await producer.stop()


def with_nul(event, field: str) -> bytes:
    """`event` as JSON whose `field` (a dotted path) holds a NUL: valid JSON, valid for the model, not for PostgreSQL."""
    raw = json.loads(encode(event))
    *path, last = field.split(".")
    node = raw
    for step in path:
        node = node[step]
    node[last] = f"nul\u0000{node[last]}"
    return json.dumps(raw).encode()


async def project(infra, dsn: str, prefix: str, batch: int = 500) -> ProjectionRunner:
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=dsn, topics=Topics(prefix), batch_size=batch,
                              batch_wait_ms=20)
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()
    return runner


async def test_events_postgresql_cannot_store_are_dead_lettered_and_the_projector_goes_on(infra, prefix, database,
                                                                                          caplog):
    topics = Topics(prefix)
    events = await job_events(6)
    first = [e for e in events if e.job_id.int <= 3]
    await produce(infra.bootstrap, topics.job_events, first)
    submitted = events[0]
    nul_job = submitted.model_copy(update={"job_id": uuid.UUID(int=99), "correlation_id": uuid.UUID(int=99),
                                           "event_id": uuid.uuid5(uuid.UUID(int=99), "1")})
    # A later event of a job the read model has, numbered past what an integer column holds.
    huge = StageStarted.model_validate({**json.loads(encode(next(e for e in first if e.type == "StageStarted"))),
                                        "event_id": str(uuid.uuid4()), "sequence": 2**31})
    documents = context_events("maya", TODAY, NOW, docs=3, meetings=0)
    poison = [
        (topics.job_events, key_for(nul_job.job_id), with_nul(nul_job, "brief.title")),
        (topics.job_events, key_for(huge.job_id), encode(huge)),
        (topics.pacing_events, pacing_key("maya"), with_nul(documents[1], "body")),
    ]
    at = {}
    for topic, key, value in poison:
        at[value] = (topic, *(await send_raw(infra.bootstrap, topic, [(key, value)]))[0])
    await produce(infra.bootstrap, topics.job_events, events[len(first):])  # the log goes on after them
    await send_raw(infra.bootstrap, topics.pacing_events,
                   [(pacing_key(e.user_id), encode(e)) for e in (documents[0], documents[2], schedule("maya"))])

    runner = await project(infra, database, prefix, batch=4)  # small batches: a poison shares one with good events
    assert runner.stats.dead_lettered == 3

    conn = await asyncpg.connect(database)
    try:
        jobs = {r["job_id"].int: r["status"] for r in await conn.fetch("SELECT job_id, status FROM content_jobs")}
        events_kept = await conn.fetchval("SELECT count(*) FROM content_events")
        documents_kept = await conn.fetchval("SELECT count(*) FROM pacing_knowledge_documents")
        schedules = await conn.fetchval("SELECT count(*) FROM pacing_schedules")
        rows = await conn.fetch("SELECT * FROM content_dead_letters ORDER BY source_topic, source_offset")
        listed = await list_dead_letters(conn, status=None, stage=None, job_id=None, limit=50)
    finally:
        await conn.close()
    assert jobs == {i: "completed" for i in range(1, 7)}  # every later event applied; job 99 was never stored
    assert events_kept == len(events) and documents_kept == 2 and schedules == 1
    assert {(r["source_topic"], r["source_partition"], r["source_offset"]) for r in rows} == set(at.values())
    assert {bytes(r["raw"]): (r["source_topic"], r["source_partition"], r["source_offset"]) for r in rows} == at
    assert {r["reason"] for r in rows} == {"unappliable"}
    errors = sorted(r["error"] for r in rows)
    assert any(re.match(rf"JobSubmitted of job {nul_job.job_id}: (CharacterNotInRepertoire|UntranslatableCharacter)"
                        r"Error: ", e) for e in errors), errors
    assert any(e.startswith(f"StageStarted of job {huge.job_id}: DataError: invalid input for query argument")
               for e in errors), errors
    assert any(e.startswith("KnowledgeDocumentAdded: ") for e in errors), errors
    assert {r["job_id"] for r in rows} == {None}  # not stage requests: `dlq redrive --all` leaves them alone
    assert {d["dead_letter_id"] for d in listed} == {str(r["dead_letter_id"]) for r in rows}
    config = ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=topics)
    async with api_client(infra, config, role="operator") as client:
        resp = await client.post(f"/v1/dlq/{rows[0]['dead_letter_id']}/redrive")
        error = (await resp.json())["error"]
    assert resp.status == 409 and error["code"] == "not_redrivable", error
    assert "could not be stored by the read model" in error["message"], error

    before = await dump(database)
    check = await verify(infra.bootstrap, database, topics, DDL, echo=lambda _: None)
    assert check.same, "\n".join(check.report())
    assert "3 events were dead-lettered by the projection (could not be decoded or applied; see `planperfect dlq " \
           "list`):" in check.report()
    code, out, err = await cli("projections", "verify", env=env_of(infra, database, prefix))
    assert code == 0, out + err
    assert re.search(r"^3 events were dead-lettered by the projection", out, re.M), out
    assert re.search(rf"^    {re.escape(topics.pacing_events)}\[\d\]@\d+ unappliable: ", out, re.M), out
    # The copy's lines must not read as if the live projector had failed.
    assert re.search(r"^verify copy: unappliable event at ", err, re.M) and "projector:" not in err, err
    caplog.clear()
    result = await rebuild(infra.bootstrap, database, topics, DDL, echo=lambda _: None)
    said = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert len(said) == 3 and all(line.startswith("rebuild copy: ") for line in said), said
    assert result.swapped and result.comparison.same
    assert await dump(database) == before


class Outage:
    """A projection whose database connection is lost mid-batch: an outage, not a bad event."""

    name = "outage"
    sources = (JOB_EVENTS,)
    tables = ("test_outage",)

    def wants(self, record: Record) -> bool:
        return True

    async def apply(self, conn: asyncpg.Connection, records: list[Record]) -> None:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")


async def test_an_outage_is_not_mistaken_for_a_bad_event(infra, prefix, database):
    topics = Topics(prefix)
    events = await job_events(2)
    nul_job = events[0].model_copy(update={"job_id": uuid.UUID(int=99), "correlation_id": uuid.UUID(int=99),
                                           "event_id": uuid.uuid5(uuid.UUID(int=99), "1")})
    await produce(infra.bootstrap, topics.job_events, events)
    await send_raw(infra.bootstrap, topics.job_events, [(key_for(nul_job.job_id), with_nul(nul_job, "brief.title"))])
    broken = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=topics, batch_wait_ms=20,
                              projections=[*default_projections(), Outage()])
    await broken.start()
    try:
        with pytest.raises(asyncpg.ConnectionDoesNotExistError):
            await broken.run_until_caught_up(timeout=30)
    finally:
        await broken.stop()
        await broken.stop()  # twice, and after a failed step: safe
    assert broken.stats.dead_lettered == 0
    async with LogHead(infra.bootstrap, [topics.dead_letters]) as head:
        assert sum((await head.ends()).values()) == 0  # nothing was dead-lettered for an outage
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM projection_offsets") == 0  # the batch was not committed
    finally:
        await conn.close()
    healthy = await project(infra, database, prefix)  # the outage over, the events apply and the bad one alone fails
    assert healthy.stats.dead_lettered == 1
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM content_jobs") == 2
        assert str(nul_job.job_id) in await conn.fetchval("SELECT error FROM content_dead_letters")
    finally:
        await conn.close()
