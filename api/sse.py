"""How a job's events are framed on its Server-Sent Events stream: stage outputs by reference unless asked for."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from api.errors import ApiError

_TRUE, _FALSE = ("true", "1"), ("false", "0")


def include_output_param(request: web.Request) -> bool:
    """`?include_output=true` sends each StageCompleted with its output; the default sends a reference."""
    raw = request.query.get("include_output")
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise ApiError(400, "invalid_include_output", "include_output is true or false", field="include_output")


def sse_frame(event: dict[str, Any], *, include_output: bool) -> bytes:
    """One SSE message: `id` the event's sequence (what Last-Event-ID resumes after), `event` its type.

    A stage's output can be a whole article on one `data:` line; by default it stays where
    GET /v1/jobs/{id}/payloads/{stage} serves it, and the event says where.
    """
    if not include_output and event.get("type") == "StageCompleted" and "output" in event:
        output = event["output"]
        event = {k: v for k, v in event.items() if k != "output"}
        event["output_ref"] = {"kind": output.get("kind"),
                               "href": f"/v1/jobs/{event['job_id']}/payloads/{event['stage']}"}
    return f"id: {event['sequence']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
