"""Rebuild and verify with every source topic in use: pacing data, retries, dead letters and redrives are kept."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, timezone

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from agents import transitions
from agents.errors import TransientError
from planperfect.migrate import load_migrations
from projections.rebuild import RebuildError, rebuild, verify
from projections.replay import LogHead
from projections.runner import ProjectionRunner
from projections.usage_queries import UsageGroup, usage_by_day
from streams.codec import encode, key_for
from streams.commands import RedriveJob
from streams.envelope import event_id_for
from streams.events import JobSubmitted
from streams.pacing_events import ScheduleCreated, ScheduleUpdated, pacing_key
from streams.pacing_payloads import ContentType, PacingBrief
from streams.payloads import Brief, JobType, PIPELINES
from streams.topics import Topics
from tests.joblog import job_events, produce
from tests.pacing_support import MemoryContextStore, context_events, costed, pacing_job_log, sample_chunks
from tests.support import cli, env_of, eventually
from streams.access import kafka_options

DDL = [(f"{m.version:04d}_{m.name}", m.sql) for m in load_migrations()]
TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=timezone.utc)
# Every table of the read model, with its key: a rebuild must leave each exactly as it was.
TABLES = {
    "content_jobs": "job_id", "content_job_stages": "job_id, stage", "content_events": "job_id, sequence",
    "content_payloads": "job_id, stage", "content_dead_letters": "dead_letter_id",
    "content_dead_letter_redrives": "dead_letter_id", "pacing_schedules": "schedule_id",
    "pacing_knowledge_documents": "document_id", "pacing_meetings": "meeting_id",
    "pacing_context_chunks": "chunk_id", "pacing_context_analysis": "analysis_id",
    "pacing_content_generation": "generation_id", "usage_jobs": "job_id", "usage_calls": "event_id, position",
}
# Who wrote maya's pacing facts (omar's carry nobody, as facts from before actors were recorded).
WRITER, OPERATOR, TRIGGERED_BY = "key:3f9a1c0b7d2e (billing site)", "key:0a1b2c3d4e5f (ops)", "0a1b2c3d4e5f"
# The fingerprint of the request maya's facts and the redriven job were written for (older facts carry none).
FINGERPRINT = "5e" * 32
POSITIONS = "SELECT projection, topic, partition, next_offset FROM projection_offsets ORDER BY 1, 2, 3"


async def sql(dsn: str, query: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def dump(dsn: str) -> dict[str, list[tuple]]:
    return {t: [tuple(r.values()) for r in await sql(dsn, f"SELECT * FROM {t} ORDER BY {k}")] for t, k in TABLES.items()}


async def positions(dsn: str) -> list[tuple]:
    return [tuple(r) for r in await sql(dsn, POSITIONS)]


def schedule(user: str, n: int) -> ScheduleCreated:
    sid = uuid.uuid5(uuid.NAMESPACE_URL, f"{user}:schedule:{n}")
    return ScheduleCreated(event_id=uuid.uuid5(sid, "created"), user_id=user, occurred_at=NOW, correlation_id=sid,
                           schedule_id=sid, time_zone="Europe/Berlin", local_times=["09:00"], days_of_week=["mon"],
                           content_types=["blog_post"], window_days=14, active=True)


async def produce_pacing(bootstrap: str, topic: str, events: list) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(topic, encode(e), key=pacing_key(e.user_id)) for e in events]
        for ack in sent:
            await ack
    finally:
        await producer.stop()


def redriven_job(n: int) -> tuple[list, object]:
    """A job whose first stage fails for good (a dead letter), then is redriven and starts again."""
    job_id = uuid.UUID(int=10_000 + n)
    stage = PIPELINES[JobType.ARTICLE][0]
    sub = JobSubmitted(
        event_id=event_id_for(job_id, 1), job_id=job_id, sequence=1, occurred_at=NOW, correlation_id=job_id,
        job_type=JobType.ARTICLE, requester_email="a@example.com", initial_stage=stage, priority=5,
        brief=Brief(title=f"A job that is redriven {n}", keywords=["redrive"], word_count=400),
        delay_seconds=0, max_attempts=1, retry_delay_seconds=1, visibility_seconds=60,
    )
    req = transitions.first_request(sub, NOW)
    begun = transitions.started(req, NOW)
    failed, letter = transitions.failed(req, begun, begun.sequence + 1, TransientError("provider down"), 7, NOW)
    cmd = RedriveJob(command_id=uuid.uuid5(job_id, "redrive"), job_id=job_id, requested_at=NOW,
                     dead_letter_id=letter.dead_letter_id, request=letter.original,
                     next_sequence=letter.next_sequence, fresh_attempts=2)
    again, request = transitions.redriven(cmd, NOW)
    return [sub, begun, *failed, again, transitions.started(request, NOW)], letter


async def healthy_log(infra, prefix: str) -> None:
    """Every kind of fact the read model folds: finished jobs with retries, dead letters and a redrive, bytes that
    are not an event, and pacing schedules, knowledge, meetings, analyses and generations (one dead-lettered)."""
    topics = Topics(prefix)
    store = MemoryContextStore(sample_chunks(TODAY))
    brief = PacingBrief(user_id="maya", local_date=TODAY, slot="09:00", trigger="schedule", time_zone="Europe/Berlin",
                        content_types=[ContentType.BLOG_POST, ContentType.SOCIAL_POST])
    written = [costed(e) for e in await pacing_job_log(brief, store, NOW)]  # a pacing user's usage too
    written[0] = written[0].model_copy(update={"submitted_by": TRIGGERED_BY})  # an analysis the API triggered
    failing = await pacing_job_log(brief.model_copy(update={"local_date": date(2026, 3, 9)}), store, NOW,
                                   write_failures=2, max_attempts=2)
    redriven, letter = redriven_job(1)
    redriven[0] = redriven[0].model_copy(update={"idempotency_key": "key:3f9a1c0b7d2e:order-1",
                                                 "request_fingerprint": FINGERPRINT})
    await produce(infra.bootstrap, topics.job_events, [*await job_events(8, fail_every=3), *written, *failing,
                                                       *redriven], extra_raw=[b"\xff not an event"])
    await produce_letters(infra.bootstrap, topics.dead_letters, [letter])
    update = ScheduleUpdated(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=uuid.uuid4(),
                             schedule_id=schedule("maya", 0).schedule_id, local_times=["07:30"], by=OPERATOR)
    await produce_pacing(infra.bootstrap, topics.pacing_events, [
        schedule("maya", 0).model_copy(update={"by": WRITER, "request_fingerprint": FINGERPRINT}), schedule("omar", 0),
        update, *(e.model_copy(update={"by": WRITER, "request_fingerprint": FINGERPRINT})
                  for e in context_events("maya", TODAY, NOW, docs=3, meetings=2)),
        *context_events("omar", TODAY, NOW, docs=1, meetings=1),
    ])


async def produce_letters(bootstrap: str, topic: str, letters: list) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(topic, encode(letter), key=key_for(letter.job_id))
    finally:
        await producer.stop()


async def project(infra, dsn: str, prefix: str) -> None:
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=dsn, topics=Topics(prefix), batch_wait_ms=20)
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()


async def test_verify_and_rebuild_keep_every_pacing_row_and_the_live_positions(infra, prefix, database):
    await healthy_log(infra, prefix)
    await project(infra, database, prefix)
    before, stored = await dump(database), await positions(database)
    assert all(before[t] for t in TABLES), [t for t in TABLES if not before[t]]  # every table has rows to lose
    generations = await sql(database, "SELECT DISTINCT status FROM pacing_content_generation")
    assert {r[0] for r in generations} == {"completed", "dead_lettered"}
    assert len(before["content_dead_letters"]) == 2 and len(before["content_dead_letter_redrives"]) == 1
    conn = await asyncpg.connect(database)
    try:  # maya's costed job, summed per pacing user: analyze, write and complete recorded two calls each
        maya = await usage_by_day(conn, TODAY, TODAY, UsageGroup.USER, "maya")
    finally:
        await conn.close()
    assert [(d["user_id"], d["calls"], d["tokens"]) for d in maya["days"]] == [("maya", 6, 3 * (1801 + 600))]
    env = env_of(infra, database, prefix)

    code, out, err = await cli("projections", "verify", env=env)
    assert code == 0, out + err
    assert "verify: the live read model matches the log (14 tables)" in out
    assert re.search(rf"^{re.escape(Topics(prefix).pacing_events)}: (\d+) offsets read: \1 applied, 0 dead-lettered",
                     out, re.M), out

    code, out, err = await cli("projections", "rebuild", env=env)
    assert code == 0, out + err
    assert "swapped in" in out
    assert await dump(database) == before  # not one row lost or changed, pacing tables included
    assert await positions(database) == stored  # the live projector resumes exactly where it was
    actors = await sql(database, """SELECT user_id, added_by FROM pacing_knowledge_documents
                                    UNION SELECT user_id, added_by FROM pacing_meetings
                                    UNION SELECT user_id, created_by || ' / ' || updated_by FROM pacing_schedules""")
    assert sorted(tuple(r) for r in actors) == [("maya", WRITER), ("maya", f"{WRITER} / {OPERATOR}"), ("omar", None)]
    fingerprinted = await sql(database, """SELECT
        (SELECT count(*) FROM content_jobs WHERE request_fingerprint = $1),
        (SELECT count(*) FROM pacing_schedules WHERE request_fingerprint = $1),
        (SELECT count(*) FROM pacing_knowledge_documents WHERE request_fingerprint = $1),
        (SELECT count(*) FROM pacing_meetings WHERE request_fingerprint = $1)""", FINGERPRINT)
    assert tuple(fingerprinted[0]) == (1, 1, 3, 2)  # what a repeated Idempotency-Key is compared with, replayed
    triggered = await sql(database, "SELECT local_date, submitted_by FROM pacing_context_analysis ORDER BY 1")
    assert [tuple(r) for r in triggered] == [(date(2026, 3, 9), None), (TODAY, TRIGGERED_BY)]


async def test_one_projection_alone_verifies_and_rebuilds_on_a_log_with_topics_it_does_not_read(infra, prefix, database):
    # The live projector stores each projection's position on every topic it consumes; a projection rebuilt alone
    # reads only its own sources, and was once held forever "behind live" on the others (exit 1, never swapped).
    await healthy_log(infra, prefix)
    await project(infra, database, prefix)
    before, stored = await dump(database), await positions(database)
    topics, quiet = Topics(prefix), lambda line: None
    for name in ("jobs", "pacing_schedules", "pacing_context", "usage"):
        compared = await verify(infra.bootstrap, database, topics, DDL, only=name, settle=2, echo=quiet)
        assert compared.same, (name, compared.report())
        result = await rebuild(infra.bootstrap, database, topics, DDL, only=name, timeout=30, echo=quiet)
        assert result.swapped, name
    assert await dump(database) == before
    assert await positions(database) == stored


async def test_a_rebuild_while_pacing_writes_keep_arriving_loses_none_of_them(infra, prefix, database):
    topics = Topics(prefix)
    await produce_pacing(infra.bootstrap, topics.pacing_events,
                         [schedule("maya", n) for n in range(20)] + context_events("maya", TODAY, NOW, docs=2, meetings=1))
    live = ProjectionRunner(bootstrap=infra.bootstrap, dsn=database, topics=topics, batch_size=20, batch_wait_ms=20)
    await live.start()
    stop_live = asyncio.Event()
    live_task = asyncio.create_task(live.run(stop_live))

    async def schedules() -> int:
        return (await sql(database, "SELECT count(*) FROM pacing_schedules"))[0][0]

    produced = 20
    try:
        await eventually(lambda: _at_least(schedules, 20), timeout=60, what="the live projector caught up")
        lines: list[str] = []
        rebuilding = asyncio.create_task(rebuild(infra.bootstrap, database, topics, DDL, batch_size=50,
                                                 echo=lines.append))
        during = 0
        producer = AIOKafkaProducer(**kafka_options(infra.bootstrap), acks="all", enable_idempotence=True)
        await producer.start()
        try:
            after = 0
            while after < 5:  # during the rebuild, then a few after its swap
                event = schedule("omar", produced)
                await producer.send_and_wait(topics.pacing_events, encode(event), key=pacing_key(event.user_id))
                produced += 1
                if rebuilding.done():
                    after += 1
                else:
                    during += 1
                await asyncio.sleep(0.02)  # the pace of the load, not a wait for anything
        finally:
            await producer.stop()
        result = await rebuilding
        await eventually(lambda: _at_least(schedules, produced), timeout=60, what="live applied every schedule")
    finally:
        stop_live.set()
        await live_task  # the live projector never failed across the swap
        await live.stop()
    assert result.swapped, "\n".join(lines)
    assert during >= 10
    assert await schedules() == produced
    assert (await sql(database, "SELECT count(*) FROM pacing_knowledge_documents"))[0][0] == 2
    ends = await _ends(infra, topics.pacing_events)
    live_at = {r["partition"]: r["next_offset"] for r in await sql(
        database, "SELECT partition, min(next_offset) AS next_offset FROM projection_offsets WHERE topic = $1 "
                  "GROUP BY partition", topics.pacing_events)}
    assert {p: live_at.get(p, 0) for p in ends} == ends
    check = await verify(infra.bootstrap, database, topics, DDL, echo=lambda _: None)
    assert check.same, "\n".join(check.report())


async def _at_least(probe, expected: int) -> bool:
    return await probe() >= expected


async def _ends(infra, topic: str) -> dict[int, int]:
    async with LogHead(infra.bootstrap, [topic]) as head:
        return {p: end for (_, p), end in (await head.ends()).items()}


async def test_a_rebuild_that_cannot_read_a_source_topic_from_its_start_refuses_to_swap(infra, prefix, database):
    topics = Topics(prefix)
    await produce_pacing(infra.bootstrap, topics.pacing_events, [schedule(u, n) for u in ("maya", "omar", "lena")
                                                                 for n in range(4)])
    await produce(infra.bootstrap, topics.job_events, await job_events(2))
    await project(infra, database, prefix)
    before, stored = await dump(database), await positions(database)
    # Records deleted from the head of the log (retention, or an operator): the read model holds rows that the
    # log can no longer give back, and a copy rebuilt from what is left would lose them.
    admin = AIOKafkaAdminClient(**kafka_options(infra.bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics([topics.pacing_events])
        parts = [TopicPartition(topics.pacing_events, p["partition"]) for p in described[0]["partitions"]]
        ends = await _ends(infra, topics.pacing_events)
        cut = {tp: RecordsToDelete(before_offset=1) for tp in parts if ends[tp.partition] > 1}
        assert cut
        await admin.delete_records(cut, timeout_ms=10_000)
    finally:
        await admin.close()

    with pytest.raises(RebuildError, match=r"refusing to swap.*the log now starts at offset 1"):
        await rebuild(infra.bootstrap, database, topics, DDL, echo=lambda _: None)
    code, out, err = await cli("projections", "rebuild", env=env_of(infra, database, prefix))
    assert code != 0, out + err
    assert "refusing to swap, the live read model is untouched" in err
    assert await dump(database) == before and await positions(database) == stored
    schemas = await sql(database, "SELECT nspname FROM pg_namespace WHERE nspname ~ '^(rebuild|retired)_'")
    assert not schemas


async def test_a_rebuild_refuses_an_event_it_cannot_decode_that_has_no_dead_letter(infra, prefix, database):
    topics = Topics(prefix)
    # The live projector has not met these events yet, so no dead letter for the bytes is on the log: a copy
    # swapped in now would carry its position past them, and the live projector would never record them.
    await produce(infra.bootstrap, topics.job_events, await job_events(2), extra_raw=[b"\xff not an event"])
    before = await dump(database)
    lines: list[str] = []
    with pytest.raises(RebuildError, match=r"refusing to swap.*1 event could not be decoded or applied and no dead "
                                           r"letter for it is on the log"):
        await rebuild(infra.bootstrap, database, topics, DDL, echo=lines.append)
    assert await dump(database) == before
    assert await positions(database) == []
