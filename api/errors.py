"""Every HTTP error as JSON with a stable code, a message and the field at fault; never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from projections.outages import KAFKA, POSTGRES, out_of_reach

log = logging.getLogger("planperfect.api")

# What a 503 tells the client to wait before retrying: about how long a restarted broker or database
# takes to answer again. A retried write must carry the same Idempotency-Key (see the README).
RETRY_AFTER_SECONDS = 5


class ApiError(web.HTTPException):
    """An HTTP error whose body is {"error": {"code", "message", "field"?, "details"?}}."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        body: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            body["field"] = field
        if details is not None:
            body["details"] = details
        super().__init__(text=json.dumps({"error": body}), content_type="application/json", headers=headers)


def unavailable(code: str, message: str) -> ApiError:
    """503 for a dependency outage, with the Retry-After a client should honour."""
    return ApiError(503, code, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


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
        allowed = ", ".join(sorted(exc.allowed_methods))
        raise ApiError(405, "method_not_allowed", f"{exc.method} is not allowed here; use {allowed}",
                       headers={"Allow": allowed}) from None
    except web.HTTPException:
        raise
    except Exception as exc:
        # Any error of Kafka's in a request is its unavailability; a socket error that came through neither
        # library is the database's (see out_of_reach).
        service = KAFKA if isinstance(exc, KafkaError) else out_of_reach(exc, sockets=POSTGRES)
        if service == KAFKA:
            log.warning("%s %s: Kafka unavailable (%s: %s)", request.method, request.path, type(exc).__name__, exc)
            raise unavailable("kafka_unavailable", "Kafka is unavailable; retry later") from None
        if service == POSTGRES:
            log.warning("%s %s: PostgreSQL unavailable (%s: %s)", request.method, request.path, type(exc).__name__, exc)
            raise unavailable("database_unavailable", "PostgreSQL is unavailable; retry later") from None
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise ApiError(500, "internal_error", "the server failed to handle this request; it has been logged") from None
