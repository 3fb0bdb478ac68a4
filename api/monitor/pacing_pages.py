"""The monitor's pacing page: schedules with their next run, the day's analyses and generations, citations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aiohttp import web

from agents.pacing.slots import due_slots
from api.errors import ApiError
from api.monitor.pages import query
from api.monitor.render import page, render
from api.params import path_uuid, user_id_param
from api.principal import principal_of
from api.state import POOL
from projections import monitor_queries as mq
from projections import pacing_queries as pq
from streams.pacing_payloads import PacingSchedule

USERS_SHOWN = 50

routes = web.RouteTableDef()  # mounted at /monitor


def next_run(schedule: dict, now: datetime) -> datetime | None:
    """The schedule's next slot, in its own time zone, as the scheduler computes slots (None when inactive)."""
    if not schedule["active"]:
        return None
    model = PacingSchedule.model_validate({k: schedule[k] for k in PacingSchedule.model_fields if k in schedule})
    slots = due_slots(model, now + timedelta(days=8), now)
    return slots[0].at.astimezone(ZoneInfo(model.time_zone)) if slots else None


@routes.get("/pacing")
@page
async def pacing_page(request: web.Request) -> web.Response:
    wanted = user_id_param(query(request, "user_id"), required=False)
    tenant = principal_of(request).tenant  # another tenant's user reads as an unknown one: nothing to show
    now = datetime.now(timezone.utc)
    users = []
    async with request.config_dict[POOL].acquire() as conn:
        ids = [wanted] if wanted else await mq.pacing_users(conn, USERS_SHOWN, tenant)
        for user_id in ids:
            schedules = await pq.list_schedules(conn, user_id=user_id, limit=20, tenant=tenant)
            analyses = await pq.list_analyses(conn, user_id=user_id, limit=3, tenant=tenant)
            for a in analyses:
                a["generations"] = await pq.list_generations(conn, user_id=None, analysis_id=a["analysis_id"],
                                                             status=None, limit=20, tenant=tenant)
            users.append({"user_id": user_id, "analyses": analyses,
                          "schedules": [s | {"next_run": next_run(s, now)} for s in schedules],
                          "documents": await pq.list_documents(conn, user_id, 20, tenant),
                          "meetings": await pq.list_meetings(conn, user_id, 20, tenant)})
        counts = await pq.status_counts(conn, tenant)
    return render(request, "pacing.html", title="Pacing", users=users, counts=counts, wanted=wanted)


@routes.get("/pacing/chunks/{chunk_id}")
@page
async def chunk_page(request: web.Request) -> web.Response:
    chunk_id = path_uuid(request, "chunk_id")
    async with request.config_dict[POOL].acquire() as conn:
        chunk = await mq.context_chunk(conn, chunk_id, principal_of(request).tenant)
    if chunk is None:
        raise ApiError(404, "chunk_not_found", f"no context chunk {chunk_id}", field="chunk_id")
    return render(request, "chunk.html", title=chunk["source_title"], chunk=chunk)
