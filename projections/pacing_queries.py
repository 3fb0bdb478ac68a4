"""Read-side queries over the pacing read models: for the API and CLI, and the worker's context store."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from projections.queries import _row
from streams.pacing_payloads import ContextChunk, ContextSource, PacingSchedule, ScoredChunk

SCHEDULE_COLUMNS = """schedule_id, user_id, time_zone, local_times, days_of_week, content_types, window_days, active,
    created_at, updated_at"""
# Who created and last changed a schedule (`key:<id> (<name>)`; null before migration 0016): the API shows them, the
# scheduler's PacingSchedule does not need them.
SCHEDULE_ACTORS = "created_by, updated_by"
CHUNK_COLUMNS = "chunk_id, source, source_id, source_title, heading, body, source_date"

RECENT_CHUNKS = f"""
SELECT {CHUNK_COLUMNS} FROM pacing_context_chunks
 WHERE user_id = $1 AND source_date BETWEEN $2 AND $3
 ORDER BY source_date, source_id, position
"""
# plainto_tsquery: every word of the topic, stemmed; ts_rank_cd rewards them close together;
# normalisation 32 maps the rank into 0..1.
SEARCH = f"""
SELECT {CHUNK_COLUMNS}, ts_rank_cd(search, q, 32) AS rank
  FROM pacing_context_chunks, plainto_tsquery('english', $2) AS q
 WHERE user_id = $1 AND search @@ q
 ORDER BY rank DESC, source_date DESC, chunk_id
 LIMIT $3
"""
CHUNKS = f"SELECT {CHUNK_COLUMNS} FROM pacing_context_chunks WHERE user_id = $1 AND chunk_id = ANY($2::uuid[])"
# With the tenant: the analyses a schedule starts carry it (agents/pacing/scheduler.py).
ACTIVE_SCHEDULES = f"SELECT {SCHEDULE_COLUMNS}, tenant FROM pacing_schedules WHERE active AND deleted_at IS NULL"
ANALYSED = """
SELECT a.user_id, a.local_date FROM pacing_context_analysis a
  JOIN unnest($1::text[], $2::date[]) AS k(user_id, local_date) USING (user_id, local_date)
"""


def _chunk(r: asyncpg.Record) -> ContextChunk:
    return ContextChunk(chunk_id=r["chunk_id"], source=ContextSource(r["source"]), source_id=r["source_id"],
                        source_title=r["source_title"], heading=r["heading"], text=r["body"],
                        source_date=r["source_date"])


def _schedule(r: asyncpg.Record) -> PacingSchedule:
    return PacingSchedule(**{k: r[k] for k in PacingSchedule.model_fields})


class PacingStore:
    """The worker's window on the pacing read models: a ContextStore and a ScheduleSource over one small pool."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        async with self._lock:  # created on first use, inside the worker's event loop
            if self._pool is None:
                self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def recent_chunks(self, user_id: str, since: date, until: date) -> list[ContextChunk]:
        return [_chunk(r) for r in await (await self.pool()).fetch(RECENT_CHUNKS, user_id, since, until)]

    async def search(self, user_id: str, query: str, limit: int) -> list[ScoredChunk]:
        rows = await (await self.pool()).fetch(SEARCH, user_id, query, limit)
        return [ScoredChunk(chunk=_chunk(r), rank=round(float(r["rank"]), 6)) for r in rows]

    async def chunks(self, user_id: str, chunk_ids: list[UUID]) -> list[ContextChunk]:
        rows = await (await self.pool()).fetch(CHUNKS, user_id, chunk_ids)
        order = {c: i for i, c in enumerate(chunk_ids)}
        return sorted((_chunk(r) for r in rows), key=lambda c: order[c.chunk_id])

    async def active_schedules(self) -> list[PacingSchedule]:
        return [_schedule(r) for r in await (await self.pool()).fetch(ACTIVE_SCHEDULES)]

    async def analysed(self, keys: list[tuple[str, date]]) -> set[tuple[str, date]]:
        if not keys:
            return set()
        rows = await (await self.pool()).fetch(ANALYSED, [u for u, _ in keys], [d for _, d in keys])
        return {(r["user_id"], r["local_date"]) for r in rows}


# ---------------------------------------------------------------- API and CLI reads
# `tenant` confines a read to that tenant's pacing users (None: every user, for keys bound to no tenant).
# A user belongs to the tenant of its schedules, documents and meetings (migration 0014); analyses and
# generations have no tenant of their own and are confined through their user.


def tenant_users(n: int) -> str:
    """`user_id` of one of tenant ${n}'s users, or any user when ${n} is NULL (a SQL condition on a table with a
    `user_id`; the monitor's queries use it too)."""
    return f"""(${n}::text IS NULL OR user_id IN (
        SELECT user_id FROM pacing_schedules WHERE tenant = ${n}
        UNION SELECT user_id FROM pacing_knowledge_documents WHERE tenant = ${n}
        UNION SELECT user_id FROM pacing_meetings WHERE tenant = ${n}))"""


async def user_tenants(conn: asyncpg.Connection, user_id: str) -> set[str | None]:
    """The tenants the user's rows carry: empty for a new user, one tenant (or None, no tenant) otherwise."""
    rows = await conn.fetch(
        """SELECT tenant FROM pacing_schedules WHERE user_id = $1
           UNION SELECT tenant FROM pacing_knowledge_documents WHERE user_id = $1
           UNION SELECT tenant FROM pacing_meetings WHERE user_id = $1""", user_id)
    return {r["tenant"] for r in rows}


async def get_schedule(conn: asyncpg.Connection, schedule_id: UUID, tenant: str | None = None) -> dict[str, Any] | None:
    return _row(await conn.fetchrow(
        f"""SELECT {SCHEDULE_COLUMNS}, {SCHEDULE_ACTORS} FROM pacing_schedules
             WHERE schedule_id = $1 AND deleted_at IS NULL AND ($2::text IS NULL OR tenant = $2)""",
        schedule_id, tenant))


# The row each kind of keyed pacing write makes, with what a repeated request is answered from: the fingerprint of
# the request it was made for (null: made before migration 0017, or without a key), and a schedule's creation.
_FIRST_WRITES = {
    "schedule": "SELECT request_fingerprint, created_at, created_by FROM pacing_schedules WHERE schedule_id = $1",
    "knowledge": "SELECT request_fingerprint FROM pacing_knowledge_documents WHERE document_id = $1",
    "meeting": "SELECT request_fingerprint FROM pacing_meetings WHERE meeting_id = $1",
}


async def first_write(conn: asyncpg.Connection, kind: str, subject_id: UUID) -> dict[str, Any] | None:
    """The row the write of `kind` with id `subject_id` made (a deleted schedule's too), or None while none is
    projected."""
    return _row(await conn.fetchrow(_FIRST_WRITES[kind], subject_id))


async def list_schedules(conn: asyncpg.Connection, *, user_id: str | None, limit: int,
                         tenant: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {SCHEDULE_COLUMNS}, {SCHEDULE_ACTORS} FROM pacing_schedules
             WHERE deleted_at IS NULL AND ($1::text IS NULL OR user_id = $1) AND ($3::text IS NULL OR tenant = $3)
             ORDER BY created_at, schedule_id LIMIT $2""",
        user_id, limit, tenant,
    )
    return [_row(r) for r in rows]


async def list_documents(conn: asyncpg.Connection, user_id: str, limit: int,
                         tenant: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT document_id, user_id, title, format, char_count, chunk_count, created_at, added_by
             FROM pacing_knowledge_documents WHERE user_id = $1 AND ($3::text IS NULL OR tenant = $3)
            ORDER BY created_at DESC, document_id LIMIT $2""",
        user_id, limit, tenant,
    )
    return [_row(r) for r in rows]


async def list_meetings(conn: asyncpg.Connection, user_id: str, limit: int,
                        tenant: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT meeting_id, user_id, title, held_on, participants, kind, char_count, chunk_count, created_at,
                  added_by
             FROM pacing_meetings WHERE user_id = $1 AND ($3::text IS NULL OR tenant = $3)
            ORDER BY held_on DESC, meeting_id LIMIT $2""",
        user_id, limit, tenant,
    )
    return [_row(r) | {"held_on": r["held_on"].isoformat()} for r in rows]


ANALYSIS_COLUMNS = """analysis_id, user_id, local_date, slot, trigger, schedule_id, time_zone, content_types,
    window_days, status, outcome, knowledge_context, meeting_context, topics, content_suggestions, attempts, error,
    requested_at, started_at, completed_at, failed_at, updated_at, submitted_by"""


def _analysis(r: asyncpg.Record) -> dict[str, Any]:
    out = _row(r)
    out["local_date"] = r["local_date"].isoformat()
    for key in ("knowledge_context", "meeting_context", "topics", "content_suggestions"):
        out[key] = json.loads(out[key]) if out[key] is not None else None
    return out


async def list_analyses(conn: asyncpg.Connection, *, user_id: str | None, limit: int,
                        tenant: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {ANALYSIS_COLUMNS} FROM pacing_context_analysis
             WHERE ($1::text IS NULL OR user_id = $1) AND {tenant_users(3)}
             ORDER BY local_date DESC, requested_at DESC, analysis_id LIMIT $2""",
        user_id, limit, tenant,
    )
    return [_analysis(r) for r in rows]


async def get_analysis(conn: asyncpg.Connection, analysis_id: UUID, tenant: str | None = None) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"""SELECT {ANALYSIS_COLUMNS} FROM pacing_context_analysis
                                   WHERE analysis_id = $1 AND {tenant_users(2)}""", analysis_id, tenant)
    return _analysis(row) if row else None


async def analysis_for(conn: asyncpg.Connection, user_id: str, local_date: date) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {ANALYSIS_COLUMNS} FROM pacing_context_analysis WHERE user_id = $1 AND local_date = $2",
        user_id, local_date)
    return _analysis(row) if row else None


async def list_generations(conn: asyncpg.Connection, *, user_id: str | None, analysis_id: UUID | None,
                           status: str | None, limit: int, tenant: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT generation_id, analysis_id, user_id, position, content_type, topic, title, body, metadata, status,
                  attempts, error, created_at, started_at, completed_at, failed_at, updated_at
             FROM pacing_content_generation
            WHERE ($1::text IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR analysis_id = $2)
              AND ($3::text IS NULL OR status = $3) AND {tenant_users(5)}
            ORDER BY created_at DESC, analysis_id, position LIMIT $4""",
        user_id, analysis_id, status, limit, tenant,
    )
    out = []
    for r in rows:
        g = _row(r)
        g["metadata"] = json.loads(g["metadata"])
        out.append(g)
    return out


async def status_counts(conn: asyncpg.Connection, tenant: str | None = None) -> dict[str, dict[str, int]]:
    """Analyses by status and by outcome, generations by status (of `tenant`'s users only, when given)."""
    analyses = await conn.fetch(
        f"SELECT status, count(*) AS n FROM pacing_context_analysis WHERE {tenant_users(1)} GROUP BY status", tenant)
    outcomes = await conn.fetch(
        f"""SELECT outcome, count(*) AS n FROM pacing_context_analysis
             WHERE outcome IS NOT NULL AND {tenant_users(1)} GROUP BY outcome""", tenant)
    generations = await conn.fetch(
        f"SELECT status, count(*) AS n FROM pacing_content_generation WHERE {tenant_users(1)} GROUP BY status", tenant)
    return {
        "analyses": {r["status"]: r["n"] for r in analyses},
        "analysis_outcomes": {r["outcome"]: r["n"] for r in outcomes},
        "generations": {r["status"]: r["n"] for r in generations},
    }
