"""Every HTTP error as JSON with a stable code, a message and the field at fault; never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger("planperfect.api")


class ApiError(web.HTTPException):
    """An HTTP error whose body is {"error": {"code", "message", "field"?, "details"?}}."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None, details: Any = None) -> None:
        self.status_code = status
        body: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            body["field"] = field
        if details is not None:
            body["details"] = details
        super().__init__(text=json.dumps({"error": body}), content_type="application/json")


def validation_error(exc: ValidationError) -> ApiError:
    """422 naming each offending field (dotted path) and the reason."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        reason = err["msg"]
        if not loc and reason.startswith("Value error, ") and ": " in reason:
            field, reason = reason.removeprefix("Value error, ").split(": ", 1)
            loc = [field]
        problems.append({"field": ".".join(loc) or None, "reason": reason.removeprefix("Value error, ")})
    first = problems[0]
    return ApiError(
        422, "validation_error", f"{first['field']}: {first['reason']}" if first["field"] else first["reason"],
        field=first["field"], details=problems,
    )


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError:
        raise
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "body_too_large", f"request body exceeds {request.client_max_size} bytes") from None
    except web.HTTPNotFound:
        raise ApiError(404, "not_found", f"no route for {request.path}") from None
    except web.HTTPMethodNotAllowed as exc:
        raise ApiError(405, "method_not_allowed", f"{exc.method} is not allowed here; use {', '.join(sorted(exc.allowed_methods))}") from None
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise ApiError(500, "internal_error", "the server failed to handle this request; it has been logged") from None
