"""Read-only queries of the web monitor and /metrics: stage activity from the event log, jobs search, positions."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from projections.pacing_queries import tenant_users
from projections.queries import JOB_COLUMNS, _row, encode_cursor

# Stage events carry their stage in the body; the lane is the job's (streams.topics.lane_for of its priority),
# so rows come per priority and the caller maps priorities to lanes with that one function. A `tenant` confines the
# overview's figures to that tenant's jobs (None: every job), as content_jobs records each job's tenant (migration
# 0013); /metrics (TOTALS) is the whole deployment's.
STAGE_EVENT_TYPES = ["StageCompleted", "StageFailed", "RetryScheduled", "JobDeadLettered"]

ACTIVITY = """
SELECT e.body->>'stage' AS stage, j.priority, e.type,
       floor(extract(epoch FROM e.occurred_at) / $3)::bigint AS bucket, count(*) AS n
  FROM content_events e JOIN content_jobs j USING (job_id)
 WHERE e.occurred_at >= $1 AND e.type = ANY($2::text[]) AND ($4::text IS NULL OR j.tenant = $4)
 GROUP BY 1, 2, 3, 4
"""

TOTALS = """
SELECT e.body->>'stage' AS stage, j.priority, e.type,
       width_bucket((e.body->>'duration_ms')::float8, $2::float8[]) AS bucket, count(*) AS n,
       coalesce(sum((e.body->>'duration_ms')::bigint), 0) AS duration_ms_sum
  FROM content_events e JOIN content_jobs j USING (job_id)
 WHERE e.type = ANY($1::text[])
 GROUP BY 1, 2, 3, 4
"""

RUNNING = """
SELECT s.stage, j.priority, count(*) AS n
  FROM content_job_stages s JOIN content_jobs j USING (job_id)
 WHERE s.status = 'running' AND ($1::text IS NULL OR j.tenant = $1)
 GROUP BY 1, 2
"""

DEAD = """
SELECT d.stage, j.priority, count(*) AS n
  FROM content_dead_letters d JOIN content_jobs j USING (job_id)
  LEFT JOIN content_dead_letter_redrives r USING (dead_letter_id)
 WHERE r.dead_letter_id IS NULL AND d.stage IS NOT NULL AND ($1::text IS NULL OR j.tenant = $1)
 GROUP BY 1, 2
"""


async def stage_activity(conn: asyncpg.Connection, since: datetime, bucket_seconds: int,
                         tenant: str | None = None) -> list[dict[str, Any]]:
    """Stage events per (stage, priority, type, bucket of `bucket_seconds` since the epoch) since `since`."""
    return [dict(r) for r in await conn.fetch(ACTIVITY, since, STAGE_EVENT_TYPES, bucket_seconds, tenant)]


async def stage_totals(conn: asyncpg.Connection, bounds_ms: list[float]) -> list[dict[str, Any]]:
    """All-time stage events per (stage, priority, type, width_bucket of the duration among `bounds_ms`)."""
    return [dict(r) for r in await conn.fetch(TOTALS, STAGE_EVENT_TYPES, bounds_ms)]


async def running_stages(conn: asyncpg.Connection, tenant: str | None = None) -> list[dict[str, Any]]:
    """Attempts in flight per (stage, priority), as the read model last saw them."""
    return [dict(r) for r in await conn.fetch(RUNNING, tenant)]


async def open_dead_letters(conn: asyncpg.Connection, tenant: str | None = None) -> list[dict[str, Any]]:
    """Dead letters not redriven, per (stage, priority)."""
    return [dict(r) for r in await conn.fetch(DEAD, tenant)]


async def search_jobs(
    conn: asyncpg.Connection, *, status: str | None = None, job_type: str | None = None, stage: str | None = None,
    requester: str | None = None, text: str | None = None, limit: int = 50,
    after: tuple[datetime, UUID] | None = None, tenant: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paged like projections.queries.list_jobs, with type, requester and title filters;
    `tenant` confines it to that tenant's jobs.

    Every filter but the title text has an index led by it and ordered like the page (migrations 0001, 0006);
    the title text filters rows walked in that order, so a page stops as soon as it is full.
    """
    pattern = None if not text else "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await conn.fetch(
        f"""SELECT {JOB_COLUMNS} FROM content_jobs
             WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR job_type = $2)
               AND ($3::text IS NULL OR current_stage = $3) AND ($4::text IS NULL OR requester_email = $4)
               AND ($5::text IS NULL OR title ILIKE $5)
               AND ($6::timestamptz IS NULL OR (queued_at, job_id) < ($6, $7::uuid))
               AND ($9::text IS NULL OR tenant = $9)
             ORDER BY queued_at DESC, job_id DESC LIMIT $8""",
        status, job_type, stage, requester, pattern, after[0] if after else None, after[1] if after else None,
        limit + 1, tenant,
    )
    page = rows[:limit]
    nxt = encode_cursor(page[-1]["queued_at"], page[-1]["job_id"]) if len(rows) > limit else None
    return [_row(r) for r in page], nxt


async def projection_offsets(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """Every projection's stored position per topic partition."""
    rows = await conn.fetch(
        """SELECT projection, topic, partition, next_offset, updated_at FROM projection_offsets
            ORDER BY projection, topic, partition""")
    return [dict(r) for r in rows]


async def projection_runs(conn: asyncpg.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The latest rebuild and verify runs, newest first, as the runs themselves record them."""
    rows = await conn.fetch(
        """SELECT run_id, kind, projections, started_at, updated_at, events_applied, lag, state, message
             FROM projection_runs ORDER BY started_at DESC LIMIT $1""", limit)
    return [dict(r) for r in rows]


async def context_chunk(conn: asyncpg.Connection, chunk_id: UUID, tenant: str | None = None) -> dict[str, Any] | None:
    """One chunk of a user's knowledge or meetings, as a generation cites it (of `tenant`'s users, when given)."""
    return _row(await conn.fetchrow(
        f"""SELECT chunk_id, user_id, source, source_id, source_title, heading, body, source_date
              FROM pacing_context_chunks WHERE chunk_id = $1 AND {tenant_users(2)}""", chunk_id, tenant))


async def pacing_users(conn: asyncpg.Connection, limit: int, tenant: str | None = None) -> list[str]:
    """Users with a schedule, knowledge or meetings, alphabetically (`tenant`'s only, when given)."""
    rows = await conn.fetch(
        """SELECT user_id FROM pacing_schedules WHERE deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2)
           UNION SELECT user_id FROM pacing_knowledge_documents WHERE $2::text IS NULL OR tenant = $2
           UNION SELECT user_id FROM pacing_meetings WHERE $2::text IS NULL OR tenant = $2
           ORDER BY 1 LIMIT $1""", limit, tenant)
    return [r["user_id"] for r in rows]
