"""The OpenAPI 3.1 document: the routes the app really has, rendered from their contract (api/contract.py)."""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from api.contract import CONTRACT, PUBLIC, Operation, Param, Reply
from api.monitor.guard import SAFE_METHODS
from api.responses import Error

REF = "#/components/schemas/{model}"
DESCRIPTION = """Content pipelines as events over Apache Kafka: submit a job, follow it stage by stage, read its
result; pacing schedules, a user's knowledge and meetings, analyses and generated pieces.

Writes answer 202 once the fact is on the log; reads come from the read model, which follows the log within
milliseconds. Every 4xx and 5xx answer is JSON `{"error": {"code", "message", "field", "details"}}`: `field`
names the parameter, header or body field at fault. A 503 (Kafka or PostgreSQL unreachable) carries
Retry-After; retry writes with the same Idempotency-Key.

Every operation but health, readiness, this document and the monitor's sign-in needs an API key with a role
(submitter < reader < operator < admin; each operation says which), sent as `Authorization: Bearer <key>`.
Without one it answers 401 with `WWW-Authenticate`; with a role too low, 403."""

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "pp_<key_id>_<secret>",
               "description": "An API key: `planperfect keys create --role R --name N`, or POST /v1/keys."},
    "monitorSession": {"type": "apiKey", "in": "cookie", "name": "planperfect_session",
                       "description": "The web monitor's session, set by POST /monitor/session: a random id standing "
                                      "for the key signed in with (never the key itself), acting as an operator at "
                                      "most; a write it authenticates must come from the monitor's own page "
                                      "(Sec-Fetch-Site: same-origin or this site's Origin). It ends at sign-out, at "
                                      "the browser's next sign-in, when the key is revoked, or after "
                                      "PLANPERFECT_MONITOR_SESSION_HOURS."},
}

_SERVER_ERROR = Reply("The server failed; the error is logged (never a stack trace)", Error)
_CROSS_SITE = Reply("A browser sent this write on behalf of another site (Origin or Sec-Fetch-Site)", Error)
_UNAUTHORIZED = Reply("No API key, or one unknown, revoked or malformed; or a monitor session that has ended or "
                      "expired (session_expired)", Error,
                      headers={"WWW-Authenticate": 'Bearer realm="planperfect", with error="invalid_token" when a '
                                                   'key was sent'})
_AMBIGUOUS = Reply("More than one Authorization header (ambiguous_authorization), or a bad parameter", Error)
_FORBIDDEN = Reply("The key's role may not do this", Error)
_FORBIDDEN_WRITE = Reply("The key's role may not do this, or a browser sent this write on behalf of another site "
                         "(Origin or Sec-Fetch-Site)", Error)
_UNAVAILABLE = Reply("Kafka or PostgreSQL is unreachable, or the read model is behind: retry", Error,
                     headers={"Retry-After": "Seconds to wait before retrying."})


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD excluded."""
    return set(handlers_of(app))


def handlers_of(app: web.Application) -> dict[tuple[str, str], Any]:
    """(method, path) -> handler of every route the app serves (HEAD and static files excluded)."""
    out = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "*"):
            out[(route.method, path)] = route.handler
    return out


def replies(op: Operation, method: str) -> dict[int, Reply]:
    """The operation's answers, with the 500 every route may give, the 400 (two Authorization headers), 401 and 403
    of every route that needs a key,
    the 403 of every write (the cross-site guard answers it before any handler) and the 503 of those that need a
    dependency."""
    replies = dict(op.responses)
    replies.setdefault(500, _SERVER_ERROR)
    if op.access != PUBLIC:
        replies.setdefault(400, _AMBIGUOUS)
        replies.setdefault(401, _UNAUTHORIZED)
        replies.setdefault(403, _FORBIDDEN if method in SAFE_METHODS else _FORBIDDEN_WRITE)
    if method not in SAFE_METHODS:
        replies.setdefault(403, _CROSS_SITE)
    if op.needs_dependencies:
        replies.setdefault(503, _UNAVAILABLE)
    return replies


class _Generator(GenerateJsonSchema):
    """Pydantic's generator, minus a `default: null` that the field's own schema refuses.

    A PATCH body (SchedulePatch) defaults its fields to None to tell "left out" from a value, and refuses
    an explicit null: documenting null as the default would contradict the field's schema.
    """

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if schema.get("default", ...) is None and not _allows_null(out):
            out.pop("default", None)
        return out


def _allows_null(schema: JsonSchemaValue) -> bool:
    return schema.get("type") == "null" or any(_allows_null(s) for s in schema.get("anyOf", ()))


class _Schemas:
    """Collects JSON schemas into components: models by name, and the $defs of parameter types."""

    def __init__(self, ops: dict[tuple[str, str], Operation]) -> None:
        models: dict[tuple[type[BaseModel], str], None] = {}
        for (method, _), op in ops.items():
            if op.body is not None:
                models[(op.body, "validation")] = None
            for reply in replies(op, method).values():
                if reply.model is not None:
                    models[(reply.model, reply.mode)] = None
        refs, defs = models_json_schema(list(models), ref_template=REF, schema_generator=_Generator)
        self.refs = refs
        self.components: dict[str, Any] = dict(defs.get("$defs", {}))

    def model(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        return self.refs[(model, mode)]

    def param(self, p: Param) -> dict[str, Any]:
        schema = TypeAdapter(p.type).json_schema(ref_template=REF, schema_generator=_Generator)
        for name, sub in schema.pop("$defs", {}).items():
            self.components.setdefault(name, sub)
        return schema


def _operation_id(method: str, path: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
    return f"{method.lower()}_{name}" + ("_index" if path.endswith("/") and len(path) > 1 else "")


def _operation(method: str, path: str, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": _operation_id(method, path),
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.access == PUBLIC:
        out["security"] = []
        if op.description:
            out["description"] = op.description
    else:
        role = op.access.value if op.access is not None else "admin (undeclared)"
        out["security"] = [{"bearer": []}, {"monitorSession": []}]
        scope = ("A key bound to a tenant sees and acts on that tenant's jobs, dead letters and pacing users only "
                 "(another tenant's is a 404, as an unknown one); a submitter on its own jobs."
                 if op.tenants else "Refused to a key bound to a tenant (403 tenant_not_supported): what it shows "
                                    "is the whole deployment's, not one tenant's.")
        out["description"] = ((op.description + "\n\n" if op.description else "")
                              + f"Needs a key with the {role} role or above"
                              + (" (not a reader: it only reads). " if op.submits else ". ") + scope)
        out["x-required-role"] = role
        out["x-tenant-scoped"] = op.tenants
    if op.params:
        out["parameters"] = [
            {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
             "description": p.description, "schema": schemas.param(p)}
            for p in op.params
        ]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": schemas.model(op.body, "validation")}}}
    responses: dict[str, Any] = {}
    for status, reply in sorted(replies(op, method).items()):
        schema = schemas.model(reply.model, reply.mode) if reply.model is not None else reply.schema
        doc: dict[str, Any] = {"description": reply.description}
        if schema is not None:
            doc["content"] = {reply.media_type: {"schema": schema}}
        if reply.headers:
            doc["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                              for name, text in reply.headers.items()}
        responses[str(status)] = doc
    out["responses"] = responses
    return out


def openapi_document(app: web.Application) -> dict[str, Any]:
    """The document for the app's routes (a fresh copy: the caller may change it)."""
    return copy.deepcopy(_document(frozenset(routes_of(app))))


@functools.cache
def _document(routes: frozenset[tuple[str, str]]) -> dict[str, Any]:
    # Built once per set of routes: rendering every model's schema takes tens of milliseconds.
    ops = {key: CONTRACT.get(key) or Operation("Undocumented", "undocumented", {200: Reply("Undocumented")})
           for key in sorted(routes)}
    schemas = _Schemas(ops)
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in ops.items():
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "PlanPerfect", "version": "0.1.0", "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": schemas.components, "securitySchemes": SECURITY_SCHEMES},
    }
