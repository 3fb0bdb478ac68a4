"""Read-side queries over the usage read model: a job's usage, and usage per day (by provider, model or user)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

TOTALS = ("calls", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")


class UsageGroup(StrEnum):
    """What GET /v1/usage splits each day by, besides the day."""

    PROVIDER = "provider"
    MODEL = "model"  # provider and model: a model's name means something only at its provider
    USER = "user"  # a pacing job's user (null: articles and schema jobs)


GROUP_COLUMNS: dict[UsageGroup | None, tuple[str, ...]] = {
    None: (), UsageGroup.PROVIDER: ("c.provider",), UsageGroup.MODEL: ("c.provider", "c.model"),
    UsageGroup.USER: ("j.user_id",),
}


def _money(value: Decimal | None) -> float:
    return float(value or 0)


def _totals(row: asyncpg.Record | dict) -> dict[str, Any]:
    out = {k: int(row[k] or 0) for k in TOTALS if k != "cost_usd"}
    out["tokens"] = out["input_tokens"] + out["output_tokens"]
    out["cost_usd"] = _money(row["cost_usd"])
    return out


async def job_usage(conn: asyncpg.Connection, job_id: UUID) -> dict[str, Any]:
    """A job's totals over every attempt (failed ones too), its budget, and the split by provider and model.
    A job the projection has not folded yet (or one that made no model call) has zeros."""
    job = await conn.fetchrow(f"SELECT token_budget, {', '.join(TOTALS)} FROM usage_jobs WHERE job_id = $1", job_id)
    models = await conn.fetch(
        f"""SELECT provider, model, count(*) AS calls, sum(input_tokens) AS input_tokens,
                   sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd
              FROM usage_calls WHERE job_id = $1 GROUP BY provider, model ORDER BY provider, model""",
        job_id,
    )
    zero = dict.fromkeys(TOTALS, 0)
    usage = _totals(job if job is not None else zero)
    usage["token_budget"] = job["token_budget"] if job is not None else None
    usage["by_model"] = [{"provider": m["provider"], "model": m["model"], **_totals(m)} for m in models]
    return usage


async def usage_by_day(conn: asyncpg.Connection, start: date, end: date, group: UsageGroup | None = None,
                       user_id: str | None = None, tenant: str | None = None) -> dict[str, Any]:
    """Calls, tokens and cost per UTC day from `start` to `end` (both included), days without a call left out.
    `tenant`: only the calls of that tenant's jobs (the jobs read model keeps each job's tenant)."""
    columns = GROUP_COLUMNS[group]
    keys = "".join(f", {c}" for c in columns)
    rows = await conn.fetch(
        f"""SELECT (c.occurred_at AT TIME ZONE 'UTC')::date AS day{keys}, count(*) AS calls,
                   sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens,
                   sum(c.cached_tokens) AS cached_tokens, sum(c.cost_usd) AS cost_usd
              FROM usage_calls c LEFT JOIN usage_jobs j USING (job_id)
             WHERE c.occurred_at >= $1::date::timestamp AT TIME ZONE 'UTC'
               AND c.occurred_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
               AND ($3::text IS NULL OR j.user_id = $3)
               AND ($4::text IS NULL OR c.job_id IN (SELECT job_id FROM content_jobs WHERE tenant = $4))
             GROUP BY 1{keys} ORDER BY 1{keys}""",
        start, end, user_id, tenant,
    )
    days = [{"day": r["day"].isoformat(), "provider": r.get("provider"), "model": r.get("model"),
             "user_id": r.get("user_id"), **_totals(r)} for r in rows]
    total = {k: sum(d[k] for d in days) for k in (*TOTALS, "tokens")}
    total["cost_usd"] = _money(sum((r["cost_usd"] for r in rows), Decimal(0)))  # summed exactly, then rounded once
    return {"from": start.isoformat(), "to": end.isoformat(), "group_by": group.value if group else None,
            "user_id": user_id, "days": days, "total": total}
