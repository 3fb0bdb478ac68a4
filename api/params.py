"""Parsing of path, query and header parameters, each failure a 400 naming the parameter and the reason."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from uuid import UUID

from aiohttp import web

from api.errors import ApiError
from api.storable import unstorable
from projections.queries import decode_cursor
from streams.payloads import Stage

INT32_MAX = 2**31 - 1  # PostgreSQL integer: sequences, limits
IDEMPOTENCY_KEY_MAX = 200
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")


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


def _int_in_range(raw: str, name: str, low: int, high: int, code: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, code, f"{name} must be an integer", field=name) from None
    if not low <= value <= high:
        raise ApiError(400, code, f"{name} must be between {low} and {high}", field=name)
    return value


def limit_param(request: web.Request, default: int = 50, most: int = 500) -> int:
    raw = request.query.get("limit")
    return default if raw is None else _int_in_range(raw, "limit", 1, most, "invalid_limit")


def last_event_id_param(request: web.Request) -> int:
    """The SSE stream's resume point: the sequence of the last event the client saw (0: from the start)."""
    raw = request.headers.get("Last-Event-ID")
    return 0 if raw is None else _int_in_range(raw, "Last-Event-ID", 0, INT32_MAX, "invalid_last_event_id")


def cursor_param(request: web.Request) -> tuple[datetime, UUID] | None:
    """A page cursor this API handed out, decoded; anything else (including dates out of range) is a 400."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    try:
        at, job_id = decode_cursor(raw)
        if at.tzinfo is None:
            raise ValueError("no time zone")
        # Shifting to UTC is where an edge date (year 1 east of UTC, year 9999 west of it) overflows:
        # do it here, where it is a bad cursor, not in the driver, where it would be a 500.
        at = at.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ApiError(400, "invalid_cursor", "cursor was not issued by this API", field="cursor") from None
    return at, job_id


def stage_param(raw: str | None) -> str | None:
    if raw is not None and raw not in {s.value for s in Stage}:
        raise ApiError(400, "invalid_stage", f"'{raw}' is not a stage ({', '.join(s.value for s in Stage)})",
                       field="stage")
    return raw


def user_id_param(raw: str | None, *, required: bool = True) -> str | None:
    if raw is None and not required:
        return None
    if raw is None or not USER_ID.fullmatch(raw):
        raise ApiError(400, "invalid_user_id", "user_id is 1-128 letters, digits, '_', '.', '@' or '-', starting "
                       "with a letter or digit", field="user_id")
    return raw


def idempotency_key_param(request: web.Request) -> str | None:
    """The Idempotency-Key header: 1..200 characters the store can hold (it is written to the log)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX:
        raise ApiError(400, "invalid_header", f"Idempotency-Key must be 1..{IDEMPOTENCY_KEY_MAX} characters",
                       field="Idempotency-Key")
    reason = unstorable(key)
    if reason is not None:
        raise ApiError(400, "invalid_header", f"Idempotency-Key {reason}", field="Idempotency-Key")
    return key
