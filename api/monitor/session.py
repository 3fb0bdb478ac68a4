"""The monitor's sign-in: a key checked once, then kept in an HttpOnly, SameSite=Strict cookie.

A cookie rather than a key the page sends itself: the monitor's live parts are EventSource streams, which cannot
set an Authorization header, and an HttpOnly cookie keeps the key out of reach of any script on the page. It
holds the key itself, so a revocation ends the session as it ends the key (no server-side session to forget);
SameSite=Strict keeps other sites' requests from carrying it, and the cross-site guard still refuses their
writes.
"""

from __future__ import annotations

from aiohttp import web

from api.auth import COOKIE
from api.bodies import read_model
from api.errors import ApiError
from api.monitor.render import page, render
from api.requests import SignIn
from api.state import KEYS

routes = web.RouteTableDef()


def local_target(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//elsewhere` or `https://…`)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@routes.get("/sign-in")
@page
async def sign_in_page(request: web.Request) -> web.Response:
    return render(request, "sign_in.html", title="Sign in", next=local_target(request.query.get("next")))


@routes.post("/session")
async def sign_in(request: web.Request) -> web.Response:
    body = await read_model(request, SignIn)
    principal = await request.config_dict[KEYS].principal(body.key)
    if principal is None:
        raise ApiError(401, "invalid_token", "the API key is unknown, revoked or malformed", field="key",
                       headers={"WWW-Authenticate": 'Bearer realm="planperfect", error="invalid_token"'})
    resp = web.json_response({"key_id": principal.key_id, "name": principal.name, "role": principal.role.value,
                              "tenant": principal.tenant})
    resp.set_cookie(COOKIE, body.key, httponly=True, samesite="Strict", secure=request.secure, path="/")
    return resp


@routes.delete("/session")
async def sign_out(request: web.Request) -> web.Response:
    resp = web.json_response({"signed_out": True})
    resp.del_cookie(COOKIE, path="/")
    return resp
