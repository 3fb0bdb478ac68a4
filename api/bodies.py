"""Request bodies: JSON only, text the store cannot hold refused, validated strictly into a request model."""

from __future__ import annotations

import json
import logging
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from api.errors import ApiError, validation_error
from api.storable import find_unstorable

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("planperfect.api")


async def read_model(request: web.Request, model: type[M]) -> M:
    """415 not JSON, 400 malformed, 422 a field at fault (named, with the reason); else the validated model."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", f"send Content-Type: application/json, not '{request.content_type}'")
    try:
        raw = await request.read()
    except ConnectionResetError:
        # The client closed the connection before its whole body arrived: nothing of ours is down (the error
        # middleware would take a socket error for PostgreSQL's), and no one is left to read the answer.
        log.info("%s %s: the client closed the connection mid-body", request.method, request.path)
        raise ApiError(400, "incomplete_body", "the connection closed before the whole body arrived") from None
    try:
        # Python's parser first: pydantic's own calls an escaped lone surrogate ("\ud800") invalid JSON,
        # but it is valid JSON holding a string the store cannot take, and the client must hear which field.
        data = json.loads(raw)
        found = find_unstorable(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError (bytes that are not UTF-8)
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    except RecursionError:  # arrays in arrays a thousand deep: no request model nests like that
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from None
    if found is not None:
        field, reason = found
        raise ApiError(422, "validation_error", f"{field}: {reason}", field=field,
                       details=[{"field": field, "reason": reason}])
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
        raise validation_error(exc) from None
