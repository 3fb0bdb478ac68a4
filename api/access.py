"""Admin routes: API keys listed, created (the secret shown once) and revoked, each change a fact on the log."""

from __future__ import annotations

import re

from aiohttp import web

from api.bodies import read_model
from api.errors import ApiError
from api.keys import create_key, list_keys, revoke_key
from api.principal import Role, principal_of
from api.publish import publish
from api.requests import KeyCreate
from api.sessions import SESSIONS
from api.state import CONFIG, KEYS, POOL
from streams.access_events import AccessFact
from streams.codec import encode

routes = web.RouteTableDef()
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")


def _sender(app: web.Application):
    async def send(fact: AccessFact) -> None:
        await publish(app, app[CONFIG].topics.access_events, encode(fact), fact.key_id.encode())
    return send


@routes.get("/v1/keys")
async def keys(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        found = await list_keys(conn)
    return web.json_response({"keys": [k.as_json() for k in found]})


@routes.post("/v1/keys")
async def create(request: web.Request) -> web.Response:
    body = await read_model(request, KeyCreate)
    async with request.app[POOL].acquire() as conn:
        record, key = await create_key(conn, _sender(request.app), name=body.name, role=Role(body.role),
                                       tenant=body.tenant, actor=principal_of(request).actor)
    return web.json_response(record.as_json() | {"key": key}, status=201)


@routes.post("/v1/keys/{key_id}/revoke")
async def revoke(request: web.Request) -> web.Response:
    key_id = request.match_info["key_id"]
    if not _KEY_ID.match(key_id):
        raise ApiError(400, "invalid_key_id", "a key id is 12 hexadecimal digits (the <id> of pp_<id>_<secret>)",
                       field="key_id")
    async with request.app[POOL].acquire() as conn:
        record = await revoke_key(conn, _sender(request.app), key_id, actor=principal_of(request).actor)
    if record is None:
        raise ApiError(404, "key_not_found", f"no key {key_id}", field="key_id")
    request.app[KEYS].forget(key_id)
    request.app[SESSIONS].forget_key(key_id)  # the monitor's sessions made with it end at once too
    return web.json_response(record.as_json())
