"""The monitor's read-only queries against a real PostgreSQL: job search with keyset paging, stage activity."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg

from projections import monitor_queries as mq
from projections.queries import decode_cursor

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


async def _jobs(conn: asyncpg.Connection, n: int) -> list[uuid.UUID]:
    ids = [uuid.UUID(int=i + 1) for i in range(n)]
    rows = [(job_id, "schema" if i % 3 == 0 else "article", "completed" if i % 2 else "queued", "research",
             f"user{i % 4}@example.com", f"Title {i}" + (" 100%_sure" if i == 7 else ""), json.dumps({"title": "t"}),
             2 if i % 2 else 8, 3, 5, 600, job_id, 1, NOW - timedelta(minutes=i), NOW, NOW)
            for i, job_id in enumerate(ids)]
    await conn.copy_records_to_table("content_jobs", records=rows, columns=[
        "job_id", "job_type", "status", "current_stage", "requester_email", "title", "brief", "priority",
        "max_attempts", "retry_delay_seconds", "visibility_seconds", "correlation_id", "last_sequence", "queued_at",
        "available_at", "updated_at"])
    return ids


async def test_search_filters_and_pages_through_every_match_once(database):
    conn = await asyncpg.connect(database)
    try:
        ids = await _jobs(conn, 30)
        seen, after = [], None
        while True:
            page, nxt = await mq.search_jobs(conn, limit=7, after=after)
            seen += [j["job_id"] for j in page]
            if nxt is None:
                break
            after = decode_cursor(nxt)
        assert seen == [str(i) for i in ids]  # newest first: job i was queued i minutes ago
        schema, _ = await mq.search_jobs(conn, job_type="schema", status="queued", limit=50)
        assert {j["job_id"] for j in schema} == {str(ids[i]) for i in range(0, 30, 6)}
        mine, _ = await mq.search_jobs(conn, requester="user1@example.com", limit=50)
        assert len(mine) == 8 and {j["requester_email"] for j in mine} == {"user1@example.com"}
        # % and _ are matched as themselves, not as LIKE wildcards; case does not matter.
        assert [j["title"] for j in (await mq.search_jobs(conn, text="100%_SURE", limit=50))[0]] == ["Title 7 100%_sure"]
        assert (await mq.search_jobs(conn, text="%", limit=50))[0] == (await mq.search_jobs(conn, text="100%", limit=50))[0]
        assert (await mq.search_jobs(conn, text="title 1", limit=50))[0][0]["title"] == "Title 1"
    finally:
        await conn.close()


async def test_stage_figures_per_priority_from_events_stages_and_dead_letters(database):
    conn = await asyncpg.connect(database)
    try:
        ids = await _jobs(conn, 2)  # job 0 priority 8 (high lane), job 1 priority 2 (low lane)
        events = [
            (ids[0], 1, "StageCompleted", NOW - timedelta(seconds=5), {"stage": "draft", "duration_ms": 40}),
            (ids[0], 2, "StageFailed", NOW - timedelta(minutes=2), {"stage": "draft", "duration_ms": 900}),
            (ids[1], 1, "RetryScheduled", NOW - timedelta(seconds=1), {"stage": "qa"}),
            (ids[1], 2, "StageStarted", NOW, {"stage": "qa"}),  # not counted
            (ids[1], 3, "StageCompleted", NOW - timedelta(hours=2), {"stage": "qa", "duration_ms": 5}),  # too old
        ]
        await conn.executemany(
            """INSERT INTO content_events (event_id, job_id, sequence, type, schema_version, occurred_at,
                   correlation_id, body, kafka_topic, kafka_partition, kafka_offset)
               VALUES (gen_random_uuid(), $1, $2::int, $3, 1, $4, $1, $5::jsonb, 't', 0, $2::bigint)""",
            [(j, seq, t, at, json.dumps(body)) for j, seq, t, at, body in events])
        await conn.execute("""INSERT INTO content_job_stages (job_id, stage, position, status, max_attempts, last_sequence)
                              VALUES ($1, 'qa', 3, 'running', 3, 2)""", ids[1])
        await conn.execute("""INSERT INTO content_dead_letters (dead_letter_id, job_id, stage, reason, source_topic,
                                  dead_lettered_at) VALUES (gen_random_uuid(), $1, 'draft', 'max_attempts', 't', now())""",
                           ids[0])
        activity = await mq.stage_activity(conn, NOW - timedelta(hours=1), 10)
        assert sorted((a["stage"], a["priority"], a["type"], a["n"]) for a in activity) == [
            ("draft", 8, "StageCompleted", 1), ("draft", 8, "StageFailed", 1), ("qa", 2, "RetryScheduled", 1)]
        totals = await mq.stage_totals(conn, [50.5, 1000.5])
        by = {(t["stage"], t["type"]): t for t in totals}
        assert by[("draft", "StageCompleted")]["bucket"] == 0 and by[("draft", "StageFailed")]["bucket"] == 1
        assert by[("qa", "RetryScheduled")]["bucket"] is None and by[("qa", "StageCompleted")]["n"] == 1
        assert await mq.running_stages(conn) == [{"stage": "qa", "priority": 2, "n": 1}]
        assert await mq.open_dead_letters(conn) == [{"stage": "draft", "priority": 8, "n": 1}]
    finally:
        await conn.close()
