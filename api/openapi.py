"""The OpenAPI 3.1 document, generated from the routes the app really has and the request models."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from api.requests import IntakeRequest

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "field": {"type": "string"}, "details": {},
            },
            "required": ["code", "message"],
        }
    },
}

RESPONSES: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/content-intake"): {"202": "Accepted: the job is on the log", "200": "Same Idempotency-Key: the existing job",
                                  "400": "Malformed JSON or header", "413": "Body too large", "415": "Not JSON",
                                  "422": "Invalid field", "503": "Kafka unavailable"},
    ("GET", "/v1/jobs/{job_id}"): {"200": "The job with its stages", "400": "Malformed id", "404": "Unknown job"},
    ("GET", "/v1/jobs/{job_id}/events"): {"200": "The job's events in sequence order", "400": "Malformed id", "404": "Unknown job"},
    ("GET", "/v1/jobs/{job_id}/payloads/{stage}"): {"200": "A stage's output", "400": "Malformed id or stage", "404": "Unknown job or no output"},
    ("GET", "/v1/jobs/{job_id}/result"): {"200": "Markdown, HTML and JSON-LD", "404": "Unknown job", "409": "Not completed"},
    ("GET", "/v1/jobs"): {"200": "A page of jobs, newest first", "400": "Bad filter, limit or cursor"},
    ("GET", "/v1/jobs/{job_id}/stream"): {"200": "text/event-stream of the job's events", "404": "Unknown job"},
    ("GET", "/healthz"): {"200": "Alive"},
    ("GET", "/readyz"): {"200": "Kafka and PostgreSQL reachable", "503": "Not ready, with the reason"},
    ("GET", "/openapi.json"): {"200": "This document"},
}
RESPONSES.update({
    ("POST", "/v1/jobs/{job_id}/cancel"): {"202": "Cancellation requested", "404": "Unknown job", "409": "Already finished"},
    ("GET", "/v1/dlq"): {"200": "Dead letters, newest first", "400": "Bad filter"},
    ("GET", "/v1/dlq/{dead_letter_id}"): {"200": "A dead letter with its original message", "404": "Unknown dead letter"},
    ("POST", "/v1/dlq/{dead_letter_id}/redrive"): {"202": "Redrive requested", "404": "Unknown dead letter", "409": "Already redriven or not a job"},
    ("GET", "/v1/queues"): {"200": "Queue depth per topic and consumer group", "503": "Kafka unavailable"},
})
RESPONSES[("POST", "/v1/jobs")] = RESPONSES[("POST", "/content-intake")]
RESPONSES.update({
    ("POST", "/v1/pacing/schedules"): {"202": "The schedule is on the log", "400": "Malformed JSON or header",
                                       "415": "Not JSON", "422": "Invalid field", "503": "Kafka unavailable"},
    ("GET", "/v1/pacing/schedules"): {"200": "Schedules, oldest first", "400": "Bad user_id or limit"},
    ("GET", "/v1/pacing/schedules/{schedule_id}"): {"200": "A schedule", "400": "Malformed id", "404": "Unknown schedule"},
    ("PATCH", "/v1/pacing/schedules/{schedule_id}"): {"202": "The change is on the log", "400": "Malformed id or JSON",
                                                      "404": "Unknown schedule", "422": "Invalid field"},
    ("DELETE", "/v1/pacing/schedules/{schedule_id}"): {"202": "The deletion is on the log", "400": "Malformed id",
                                                       "404": "Unknown schedule"},
    ("POST", "/v1/users/{user_id}/knowledge"): {"202": "The document is on the log", "400": "Malformed user id or JSON",
                                                "413": "Body too large", "415": "Not JSON", "422": "Invalid field (body size included)"},
    ("GET", "/v1/users/{user_id}/knowledge"): {"200": "The user's documents, newest first", "400": "Malformed user id"},
    ("POST", "/v1/users/{user_id}/meetings"): {"202": "The meeting is on the log", "400": "Malformed user id or JSON",
                                               "413": "Body too large", "415": "Not JSON", "422": "Invalid field"},
    ("GET", "/v1/users/{user_id}/meetings"): {"200": "The user's meetings, latest first", "400": "Malformed user id"},
    ("POST", "/v1/pacing/trigger"): {"202": "Today's analysis is on the log", "200": "Today already has an analysis",
                                     "404": "Unknown user or schedule", "422": "Invalid field", "503": "Kafka unavailable"},
    ("GET", "/v1/pacing/status"): {"200": "Pending messages and lag per pacing topic; analyses and generations by status",
                                   "503": "Kafka unavailable"},
    ("GET", "/v1/pacing/analyses"): {"200": "Analyses, latest date first", "400": "Bad user_id or limit"},
    ("GET", "/v1/pacing/analyses/{analysis_id}"): {"200": "An analysis with its suggestions", "400": "Malformed id",
                                                   "404": "Unknown analysis"},
    ("GET", "/v1/pacing/generations"): {"200": "Generated pieces with their sources", "400": "Bad filter or limit"},
})


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD excluded."""
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "*"):
            out.add((route.method, path))
    return out


def openapi_document(app: web.Application) -> dict[str, Any]:
    schema = IntakeRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components["IntakeRequest"] = schema
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(routes_of(app)):
        op: dict[str, Any] = {
            "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "responses": {
                code: ({"description": text} if code < "400" else
                       {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
                for code, text in RESPONSES.get((method, path), {"200": "OK"}).items()
            },
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        if path == "/v1/jobs" and method == "GET":
            params += [{"name": n, "in": "query", "required": False, "schema": {"type": t}}
                       for n, t in (("status", "string"), ("stage", "string"), ("limit", "integer"), ("cursor", "string"))]
        if params:
            op["parameters"] = params
        if method == "POST" and path in ("/content-intake", "/v1/jobs"):
            op["parameters"] = [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200}}]
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IntakeRequest"}}}}
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "PlanPerfect", "version": "0.1.0", "description": "Content pipeline intake and status."},
        "paths": paths,
        "components": {"schemas": components},
    }
