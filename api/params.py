"""Parsing of path and query parameters, each failure a 400 naming the parameter."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from api.errors import ApiError
from streams.payloads import Stage


def uuid_param(raw: str | None, name: str) -> UUID | None:
    """None when absent; a UUID, or 400 `invalid_<name>`."""
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(400, f"invalid_{name}", f"'{raw}' is not a UUID", field=name) from None


def path_uuid(request: web.Request, name: str) -> UUID:
    value = uuid_param(request.match_info[name], name)
    assert value is not None
    return value


def limit_param(request: web.Request, default: int = 50, most: int = 500) -> int:
    try:
        limit = int(request.query.get("limit", str(default)))
    except ValueError:
        raise ApiError(400, "invalid_limit", "limit must be an integer", field="limit") from None
    if not 1 <= limit <= most:
        raise ApiError(400, "invalid_limit", f"limit must be between 1 and {most}", field="limit")
    return limit


def stage_param(raw: str | None) -> str | None:
    if raw is not None and raw not in {s.value for s in Stage}:
        raise ApiError(400, "invalid_stage", f"'{raw}' is not a stage ({', '.join(s.value for s in Stage)})",
                       field="stage")
    return raw
