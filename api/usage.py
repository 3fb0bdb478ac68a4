"""GET /v1/usage: model calls, tokens and cost per day, optionally split by provider, model or pacing user."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from aiohttp import web

from api.errors import ApiError
from api.params import user_id_param
from api.principal import principal_of
from api.state import POOL
from projections.usage_queries import UsageGroup, usage_by_day

DEFAULT_DAYS = 30  # without `from`: the 30 days that end on `to`

routes = web.RouteTableDef()


def date_param(request: web.Request, name: str, default: date) -> date:
    """A calendar date YYYY-MM-DD, or 400 naming the parameter."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"invalid_{name}", f"{name} must be a date YYYY-MM-DD, not '{raw}'", field=name) from None


def group_param(request: web.Request) -> UsageGroup | None:
    raw = request.query.get("group_by")
    if raw is None:
        return None
    try:
        return UsageGroup(raw)
    except ValueError:
        raise ApiError(400, "invalid_group_by", f"group_by is one of {', '.join(UsageGroup)}, not '{raw}'",
                       field="group_by") from None


@routes.get("/v1/usage")
async def get_usage(request: web.Request) -> web.Response:
    end = date_param(request, "to", datetime.now(timezone.utc).date())
    start = date_param(request, "from",
                       end - timedelta(days=DEFAULT_DAYS - 1) if end.toordinal() > DEFAULT_DAYS else date.min)
    if start > end:
        if "to" not in request.query:  # the client sent only `from`: it is the one to change
            raise ApiError(400, "invalid_from", f"from ({start}) is after to, which defaults to today ({end})",
                           field="from")
        raise ApiError(400, "invalid_to", f"to ({end}) is before from ({start})", field="to")
    group = group_param(request)
    user_id = user_id_param(request.query.get("user_id"), required=False)
    async with request.app[POOL].acquire() as conn:
        return web.json_response(await usage_by_day(conn, start, end, group, user_id,
                                                    tenant=principal_of(request).tenant))
