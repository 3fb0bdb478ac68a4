"""The monitor's sign-in: a key checked once, then a server-side session named by an HttpOnly, SameSite=Strict cookie.

A cookie rather than a key the page sends itself: the monitor's live parts are EventSource streams, which cannot
set an Authorization header, and an HttpOnly cookie keeps the session out of reach of any script on the page. The
cookie holds a random session id, never the key (api/sessions.py): a browser sends a host's cookies to every port
of that host, so another local web server the operator opens gets the cookie, and it must not be a credential of
the API. So a session acts as an operator at most (an admin key signs in as an operator: the monitor offers nothing
admin-only), and a write it authenticates must come from the monitor's own page (api/monitor/guard.py), which a
replayed cookie cannot. SameSite=Strict keeps other sites' requests from carrying it, and the cross-site guard still
refuses their writes. A sign-in ends the session the browser had.
"""

from __future__ import annotations

import re

from aiohttp import web

from api.auth import COOKIE
from api.bodies import read_model
from api.errors import ApiError
from api.monitor.render import page, render
from api.requests import SignIn
from api.sessions import SESSIONS, acting_as
from api.state import CONFIG, KEYS

routes = web.RouteTableDef()

OLD_COOKIE = "planperfect_key"  # earlier releases kept the key itself in it: dropped at each sign-in and sign-out
# Where a sign-in may lead: the overview, a monitor page, the API's docs. Printable ASCII only (no space, no
# backslash), so what the browser resolves is this site's path and nothing else.
_LOCAL = re.compile(r"^(?:/(?:\?[!-\[\]-~]*)?|/monitor/[!-\[\]-~]*|/docs)$")
_BROWSER_DROPS = re.compile(r"[\t\n\r]")
_DOT_SEGMENT = re.compile(r"/(?:\.|%2e){1,2}(?:[/?#]|$)", re.IGNORECASE)  # `/monitor/../x` is not under /monitor/


def local_target(target: str | None) -> str:
    """Where to go after signing in: `/`, a page under /monitor/ or /docs, as the browser will read it (it drops
    tab, CR and LF anywhere and trims control characters and spaces: `/<TAB>/host` is `//host`, another site);
    anything else goes to `/`."""
    if not target:
        return "/"
    seen = _BROWSER_DROPS.sub("", target).strip("".join(map(chr, range(0x21))))
    return seen if _LOCAL.match(seen) and not _DOT_SEGMENT.search(seen) else "/"


@routes.get("/sign-in")
@page
async def sign_in_page(request: web.Request) -> web.Response:
    return render(request, "sign_in.html", title="Sign in", next=local_target(request.query.get("next")),
                  ended=request.query.get("ended") == "1")


@routes.post("/session")
async def sign_in(request: web.Request) -> web.Response:
    body = await read_model(request, SignIn)
    principal = await request.config_dict[KEYS].principal(body.key)
    if principal is None:
        raise ApiError(401, "invalid_token", "the API key is unknown, revoked or malformed", field="key",
                       headers={"WWW-Authenticate": 'Bearer realm="planperfect", error="invalid_token"'})
    sessions = request.config_dict[SESSIONS]
    session = await sessions.open(principal, replaces=request.cookies.get(COOKIE))
    acting = acting_as(principal)  # an admin key's session is an operator's
    resp = web.json_response({"key_id": principal.key_id, "name": principal.name, "role": acting.role.value,
                              "tenant": principal.tenant})
    # Behind a TLS-terminating proxy the request reaches us over plain HTTP: the setting says it is HTTPS.
    secure = request.config_dict[CONFIG].cookie_secure or request.secure
    resp.set_cookie(COOKIE, session, httponly=True, samesite="Strict", secure=secure, path="/")
    resp.del_cookie(OLD_COOKIE, path="/")
    return resp


@routes.delete("/session")
async def sign_out(request: web.Request) -> web.Response:
    session = request.cookies.get(COOKIE)
    if session:
        await request.config_dict[SESSIONS].end(session)
    resp = web.json_response({"signed_out": True})
    resp.del_cookie(COOKIE, path="/")
    resp.del_cookie(OLD_COOKIE, path="/")
    return resp
