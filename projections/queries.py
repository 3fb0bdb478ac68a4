"""Read-side queries over the content read models, for the status API and the CLI."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from projections.usage_queries import job_usage

JOB_COLUMNS = """job_id, job_type, status, current_stage, requester_email, title, priority, attempts, max_attempts,
    retry_delay_seconds, visibility_seconds, delay_seconds, idempotency_key, correlation_id, last_sequence,
    last_error, queued_at, available_at, dequeued_at, completed_at, failed_at, dead_lettered_at, cancelled_at,
    updated_at"""


def _row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: _json_value(v) for k, v in record.items()}


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, UUID):
        return str(v)
    return v


async def get_job(conn: asyncpg.Connection, job_id: UUID) -> dict[str, Any] | None:
    # tenant and submitted_by: whose job it is, which the API confines the read by (api/jobs.py, job_or_404)
    job = _row(await conn.fetchrow(f"SELECT {JOB_COLUMNS}, brief, tenant, submitted_by FROM content_jobs WHERE job_id = $1",
                                   job_id))
    if job is None:
        return None
    job["brief"] = json.loads(job["brief"])
    stages = await conn.fetch(
        """SELECT stage, position, status, attempts, max_attempts, started_at, visibility_timeout_at,
                  completed_at, failed_at, duration_ms, last_error
             FROM content_job_stages WHERE job_id = $1 ORDER BY position""",
        job_id,
    )
    job["stages"] = [_row(s) for s in stages]
    job["usage"] = await job_usage(conn, job_id)
    return job


async def job_by_idempotency_key(conn: asyncpg.Connection, key: str) -> dict[str, Any] | None:
    """The job a (scoped) Idempotency-Key made, with the fingerprint of the request it came with (null: a job from
    before migration 0017)."""
    return _row(await conn.fetchrow(f"SELECT {JOB_COLUMNS}, request_fingerprint FROM content_jobs "
                                    "WHERE idempotency_key = $1", key))


async def job_events(conn: asyncpg.Connection, job_id: UUID, after_sequence: int = 0) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT sequence, body FROM content_events WHERE job_id = $1 AND sequence > $2 ORDER BY sequence",
        job_id, after_sequence,
    )
    return [json.loads(r["body"]) for r in rows]


async def job_payload(conn: asyncpg.Connection, job_id: UUID, stage: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT stage, attempt, kind, body, sequence, created_at FROM content_payloads WHERE job_id = $1 AND stage = $2",
        job_id, stage,
    )
    if row is None:
        return None
    out = _row(row)
    out["body"] = json.loads(out["body"])
    return out


def encode_cursor(queued_at: datetime, job_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{queued_at.isoformat()}|{job_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raises ValueError on a cursor this API did not hand out."""
    raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    at, jid = raw.split("|", 1)
    return datetime.fromisoformat(at), UUID(jid)


async def list_jobs(
    conn: asyncpg.Connection, *, status: str | None, stage: str | None, limit: int,
    after: tuple[datetime, UUID] | None, tenant: str | None = None, submitted_by: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paged after a decoded cursor; returns the page and the cursor of the next one.
    `tenant` and `submitted_by` confine it to one tenant's jobs, or one key's."""
    rows = await conn.fetch(
        f"""SELECT {JOB_COLUMNS} FROM content_jobs
             WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR current_stage = $2)
               AND ($3::timestamptz IS NULL OR (queued_at, job_id) < ($3, $4::uuid))
               AND ($6::text IS NULL OR tenant = $6) AND ($7::text IS NULL OR submitted_by = $7)
             ORDER BY queued_at DESC, job_id DESC LIMIT $5""",
        status, stage, after[0] if after else None, after[1] if after else None, limit + 1, tenant, submitted_by,
    )
    page = rows[:limit]
    nxt = encode_cursor(page[-1]["queued_at"], page[-1]["job_id"]) if len(rows) > limit else None
    return [_row(r) for r in page], nxt


async def projection_positions(
    conn: asyncpg.Connection, projection: str, topic: str, partitions: list[int]
) -> dict[int, int]:
    """The next offset `projection` will apply in each partition (0 before it has applied anything there)."""
    rows = await conn.fetch(
        """SELECT partition, next_offset FROM projection_offsets
            WHERE projection = $1 AND topic = $2 AND partition = ANY($3::int[])""",
        projection, topic, partitions,
    )
    stored = {r["partition"]: r["next_offset"] for r in rows}
    return {p: stored.get(p, 0) for p in partitions}


DEAD_LETTER_COLUMNS = """d.dead_letter_id, d.job_id, d.stage, d.reason, d.error, d.attempts, d.source_topic,
    d.source_partition, d.source_offset, d.dead_lettered_at, d.next_sequence,
    CASE WHEN r.dead_letter_id IS NULL THEN 'dead' ELSE 'redriven' END AS status, r.redriven_at"""


async def list_dead_letters(
    conn: asyncpg.Connection, *, status: str | None, stage: str | None, job_id: UUID | None, limit: int,
    tenant: str | None = None,
) -> list[dict[str, Any]]:
    """`tenant`: only the letters of that tenant's jobs (a letter of no job, such as undecodable bytes, is no
    tenant's)."""
    rows = await conn.fetch(
        f"""SELECT {DEAD_LETTER_COLUMNS} FROM content_dead_letters d
              LEFT JOIN content_dead_letter_redrives r USING (dead_letter_id)
             WHERE ($1::text IS NULL OR (CASE WHEN r.dead_letter_id IS NULL THEN 'dead' ELSE 'redriven' END) = $1)
               AND ($2::text IS NULL OR d.stage = $2) AND ($3::uuid IS NULL OR d.job_id = $3)
               AND ($5::text IS NULL OR d.job_id IN (SELECT job_id FROM content_jobs WHERE tenant = $5))
             ORDER BY d.dead_lettered_at DESC, d.dead_letter_id LIMIT $4""",
        status, stage, job_id, limit, tenant,
    )
    return [_row(r) for r in rows]


async def get_dead_letter(conn: asyncpg.Connection, dead_letter_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""SELECT {DEAD_LETTER_COLUMNS}, d.original, encode(d.raw, 'base64') AS raw_base64,
                   (SELECT j.tenant FROM content_jobs j WHERE j.job_id = d.job_id) AS tenant
              FROM content_dead_letters d LEFT JOIN content_dead_letter_redrives r USING (dead_letter_id)
             WHERE d.dead_letter_id = $1""",
        dead_letter_id,
    )
    out = _row(row)
    if out is not None and out["original"] is not None:
        out["original"] = json.loads(out["original"])
    return out
