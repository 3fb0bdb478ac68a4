"""Pacing read models against a real broker and PostgreSQL: schedules, chunks with full-text retrieval, analyses, pieces."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from projections.pacing_chunking import chunk_text
from projections.pacing_queries import PacingStore
from projections.runner import ProjectionRunner
from streams.codec import encode
from streams.pacing_events import ScheduleCreated, ScheduleDeleted, ScheduleUpdated, pacing_key
from streams.pacing_payloads import ContentType, PacingBrief
from streams.topics import Topics
from tests.joblog import produce
from tests.pacing_support import context_events, pacing_job_log, words_of
from streams.access import kafka_options

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 8, 0, tzinfo=timezone.utc)
PACING_TABLES = {
    "pacing_schedules": "schedule_id", "pacing_knowledge_documents": "document_id", "pacing_meetings": "meeting_id",
    "pacing_context_chunks": "chunk_id", "pacing_context_analysis": "analysis_id",
    "pacing_content_generation": "generation_id",
}


async def produce_pacing(bootstrap: str, topic: str, events: list) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, encode(e), key=pacing_key(e.user_id))
    finally:
        await producer.stop()


async def project(infra, dsn: str, prefix: str, batch: int = 100) -> None:
    runner = ProjectionRunner(bootstrap=infra.bootstrap, dsn=dsn, topics=Topics(prefix), batch_size=batch,
                              batch_wait_ms=20)
    await runner.start()
    try:
        await runner.run_until_caught_up(timeout=60)
    finally:
        await runner.stop()


async def dump(dsn: str) -> dict:
    conn = await asyncpg.connect(dsn)
    try:
        return {t: [tuple(r.values()) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY {k}")]
                for t, k in PACING_TABLES.items()}
    finally:
        await conn.close()


def schedule_event(user: str, sid: uuid.UUID, **fields) -> ScheduleCreated:
    base = dict(time_zone="Europe/Berlin", local_times=["09:00", "18:00"], days_of_week=["mon", "tue"],
                content_types=["blog_post"], window_days=14, active=True)
    return ScheduleCreated(event_id=uuid.uuid5(sid, "c"), user_id=user, occurred_at=NOW, correlation_id=sid,
                           schedule_id=sid, **(base | fields))


@pytest.fixture
async def context(infra, database, prefix):
    """Two users' schedules and context, projected."""
    s1, s2, s3 = (uuid.UUID(int=i) for i in (1, 2, 3))
    events = [
        schedule_event("maya", s1, by="key:a (maya's app)"),
        ScheduleUpdated(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=s1, schedule_id=s1,
                        local_times=["07:00"], active=False, by="key:b (ops)"),
        schedule_event("maya", s2, by="key:a (maya's app)"),
        ScheduleDeleted(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=s2, schedule_id=s2,
                        by="key:c (cleanup)"),
        ScheduleUpdated(event_id=uuid.uuid4(), user_id="maya", occurred_at=NOW, correlation_id=s2, schedule_id=s2,
                        active=True, by="key:d (late)"),  # after the deletion: changes nothing
        schedule_event("omar", s3, time_zone="Asia/Kolkata"),
        *context_events("maya", TODAY, NOW),
        *context_events("omar", TODAY, NOW, docs=2, meetings=1),
    ]
    await produce_pacing(infra.bootstrap, Topics(prefix).pacing_events, events)
    await project(infra, database, prefix)
    store = PacingStore(database)
    yield store
    await store.close()


async def test_schedules_fold_creations_patches_and_deletions(context, database):
    conn = await asyncpg.connect(database)
    try:
        rows = {r["schedule_id"].int: r for r in await conn.fetch("SELECT * FROM pacing_schedules")}
    finally:
        await conn.close()
    assert rows[1]["local_times"] == ["07:00"] and rows[1]["active"] is False and rows[1]["days_of_week"] == ["mon", "tue"]
    assert rows[2]["deleted_at"] is not None and rows[2]["active"] is False
    # who created and last changed each: a deletion's writer too, and nobody for a fact that names none
    assert [(rows[i]["created_by"], rows[i]["updated_by"]) for i in (1, 2, 3)] == [
        ("key:a (maya's app)", "key:b (ops)"), ("key:a (maya's app)", "key:c (cleanup)"), (None, None)]
    active = await context.active_schedules()
    assert [(s.user_id, s.time_zone) for s in active] == [("omar", "Asia/Kolkata")]


async def test_documents_and_meetings_are_chunked_and_indexed(context, database):
    events = context_events("maya", TODAY, NOW)
    expected = sum(len(chunk_text(e.body if hasattr(e, "body") else e.notes,
                                  markdown=getattr(e, "format", "markdown") == "markdown")) for e in events)
    conn = await asyncpg.connect(database)
    try:
        n = await conn.fetchval("SELECT count(*) FROM pacing_context_chunks WHERE user_id = 'maya'")
        empty = await conn.fetchval("SELECT count(*) FROM pacing_context_chunks WHERE search = ''::tsvector")
        index = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'pacing_context_chunks_search_idx'")
        docs = await conn.fetchval("SELECT count(*) FROM pacing_knowledge_documents WHERE user_id = 'maya'")
        meetings = await conn.fetch("SELECT held_on, participants FROM pacing_meetings WHERE user_id = 'maya'")
    finally:
        await conn.close()
    assert n == expected and empty == 0 and "USING gin (search)" in index
    assert docs == 6 and len(meetings) == 4 and all(m["participants"] for m in meetings)
    window = await context.recent_chunks("maya", TODAY.replace(day=5), TODAY)
    assert window and all(TODAY.replace(day=5) <= c.source_date <= TODAY for c in window)
    assert len(window) < n  # the meetings of the 1st and the 4th fall outside


@pytest.mark.parametrize("topic", ["demand response", "heat pump", "energy bill", "weather compensation curve"])
async def test_retrieval_returns_exactly_the_users_chunks_containing_the_topic(context, database, topic):
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT chunk_id, user_id, heading, body FROM pacing_context_chunks")
    finally:
        await conn.close()
    wanted = words_of(topic)
    containing = {r["chunk_id"] for r in rows
                  if r["user_id"] == "maya" and wanted <= words_of(f"{r['heading'] or ''} {r['body']}")}
    hits = await context.search("maya", topic, 50)
    assert containing and {h.chunk.chunk_id for h in hits} == containing
    ranks = [h.rank for h in hits]
    assert ranks == sorted(ranks, reverse=True) and 0 < ranks[-1] <= ranks[0] < 1
    assert len(await context.search("maya", topic, 2)) == min(2, len(containing))
    omar = {r["chunk_id"] for r in rows if r["user_id"] == "omar"}
    assert not {h.chunk.chunk_id for h in await context.search("omar", topic, 50)} - omar


async def test_a_pacing_job_folds_into_one_analysis_and_pieces_citing_real_chunks(infra, context, database, prefix):
    brief = PacingBrief(user_id="maya", local_date=TODAY, slot="09:00", trigger="schedule", time_zone="Europe/Berlin",
                        content_types=list(ContentType), window_days=30)
    log = await pacing_job_log(brief, context, NOW)
    again = await pacing_job_log(brief.model_copy(update={"slot": "18:00"}), context, NOW)
    await produce(infra.bootstrap, Topics(prefix).job_events, log + again[:1])  # a second submission of the day
    await project(infra, database, prefix)
    conn = await asyncpg.connect(database)
    try:
        analyses = await conn.fetch("SELECT * FROM pacing_context_analysis")
        pieces = await conn.fetch("SELECT * FROM pacing_content_generation ORDER BY position")
        chunks = {r["chunk_id"]: r for r in await conn.fetch("SELECT * FROM pacing_context_chunks WHERE user_id = 'maya'")}
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                """INSERT INTO pacing_context_analysis (analysis_id, user_id, local_date, slot, trigger, time_zone,
                   content_types, window_days, status, last_sequence, requested_at, updated_at)
                   VALUES ($1, 'maya', $2, '18:00', 'manual', 'UTC', '{}', 1, 'queued', 1, now(), now())""",
                uuid.uuid4(), TODAY)
    finally:
        await conn.close()
    assert len(analyses) == 1
    a = analyses[0]
    assert (a["status"], a["outcome"], a["slot"], a["attempts"]) == ("completed", "analyzed", "09:00", 1)
    assert a["knowledge_context"] and a["meeting_context"] and a["started_at"] and a["completed_at"]
    assert [p["status"] for p in pieces] == ["completed"] * 4
    assert sorted(p["content_type"] for p in pieces) == sorted(t.value for t in ContentType)
    for p in pieces:
        meta = json.loads(p["metadata"])
        cited = [uuid.UUID(c) for c in meta["cited_chunk_ids"]]
        assert cited and set(cited) <= set(chunks), p["topic"]
        for source in meta["sources"]:
            chunk = chunks[uuid.UUID(source["chunk_id"])]
            assert words_of(p["topic"]) <= words_of(f"{chunk['heading']} {chunk['body']}"), (p["topic"], source)
        assert p["body"] and p["title"] and meta["confidence"] and meta["reasoning"]


async def test_write_failures_retry_then_dead_letter_in_the_generation_rows(infra, context, database, prefix):
    brief = PacingBrief(user_id="maya", local_date=TODAY, slot="09:00", trigger="manual", time_zone="Europe/Berlin",
                        content_types=[ContentType.SOCIAL_POST, ContentType.BLOG_POST])
    log = await pacing_job_log(brief, context, NOW, write_failures=2, max_attempts=2)
    assert [e.type for e in log[-6:]] == ["StageStarted", "StageFailed", "RetryScheduled", "StageStarted",
                                          "StageFailed", "JobDeadLettered"]
    cut = next(i for i, e in enumerate(log) if e.type == "StageFailed")
    topic = Topics(prefix).job_events
    await produce(infra.bootstrap, topic, log[:cut + 1])
    await project(infra, database, prefix)
    conn = await asyncpg.connect(database)
    try:
        midway = await conn.fetch("SELECT status, attempts, error FROM pacing_content_generation")
        await produce(infra.bootstrap, topic, log[cut + 1:])
        await project(infra, database, prefix)
        after = await conn.fetch("SELECT status, attempts, error, failed_at FROM pacing_content_generation")
        analysis = await conn.fetchrow("SELECT status FROM pacing_context_analysis")
    finally:
        await conn.close()
    assert [(r["status"], r["attempts"]) for r in midway] == [("retrying", 1)] * 2
    assert "the context store failed" in midway[0]["error"]
    assert {(r["status"], r["attempts"]) for r in after} == {("dead_lettered", 2)}
    assert all(r["error"] and r["failed_at"] for r in after) and analysis["status"] == "completed"


async def test_replaying_the_pacing_log_changes_nothing(infra, context, database, prefix):
    brief = PacingBrief(user_id="omar", local_date=TODAY, slot="09:00", trigger="schedule", time_zone="Asia/Kolkata",
                        content_types=[ContentType.LINKEDIN_POST])
    await produce(infra.bootstrap, Topics(prefix).job_events, await pacing_job_log(brief, context, NOW))
    await project(infra, database, prefix)
    before = await dump(database)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("UPDATE projection_offsets SET next_offset = 0 WHERE projection LIKE 'pacing%'")
    finally:
        await conn.close()
    await project(infra, database, prefix, batch=7)
    assert await dump(database) == before
    assert before["pacing_context_analysis"] and before["pacing_content_generation"]
