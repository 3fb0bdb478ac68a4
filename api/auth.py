"""Authentication at the edge: every request's key resolved to a Principal and held to its route's declared role.

The role each route needs is declared once, in api/contract.py; a route without a declaration is let through
for an admin key only (fail closed). A key comes as `Authorization: Bearer <key>`, or, for the web monitor's
pages and their fetches and event streams (which cannot set headers), as the session its HttpOnly cookie names
(api/sessions.py: the cookie never holds the key; a session acts as an operator at most). An open event stream asks
`still_signed_in` at each tick, so that a revoked key or an ended session ends it.
"""

from __future__ import annotations

import json
from enum import Enum

from aiohttp import web
from aiohttp.web_urldispatcher import StaticResource
from yarl import URL

from api.contract import CONTRACT, PUBLIC, Operation
from api.errors import ApiError
from api.principal import PRINCIPAL, Principal, Role
from api.ratelimit import retry_after
from api.sessions import SESSIONS
from api.state import INTAKE_LIMITS, KEYS

COOKIE = "planperfect_session"
SIGN_IN = "/monitor/sign-in"
REALM = 'Bearer realm="planperfect"'


class Credential(str, Enum):
    """What a request authenticated with: its 401 says which one failed."""

    KEY = "key"          # Authorization: Bearer <key>
    SESSION = "session"  # the monitor's session cookie


_PUBLIC = Operation("Static files, and requests no route matched", "public", {}, access=PUBLIC)
_UNDECLARED = Operation("A route api/contract.py does not declare", "undeclared", {}, access=Role.ADMIN)


def declared(request: web.Request) -> Operation:
    """The matched route's contract. Static files and requests no route matched are public (their 404 or 405 says
    nothing a caller could not learn from the OpenAPI document); a route without a declared role is an admin's."""
    info = request.match_info
    if info.http_exception is not None:
        return _PUBLIC
    resource = info.route.resource
    if isinstance(resource, StaticResource):
        return _PUBLIC
    details = resource.get_info() if resource is not None else {}
    path = details.get("path") or details.get("formatter")
    method = "GET" if request.method == "HEAD" else request.method
    op = CONTRACT.get((method, path))
    return op if op is not None and op.access is not None else _UNDECLARED


def presented_key(request: web.Request) -> str | None:
    """The key the Authorization header carries (another scheme: a key that fails), or None. More than one
    Authorization header is ambiguous (which one the proxies on the way read is anyone's guess): 400."""
    headers = request.headers.getall("Authorization", [])
    if len(headers) > 1:
        raise ApiError(400, "ambiguous_authorization", f"{len(headers)} Authorization headers; send one",
                       field="Authorization")
    if not headers:
        return None
    scheme, _, key = headers[0].partition(" ")
    return key.strip() if scheme.lower() == "bearer" else headers[0]


def by_session(request: web.Request) -> bool:
    """Whether the request's credential is the monitor's session cookie: presented_principal's choice (a key in
    the Authorization header comes first; an empty one is none)."""
    return not presented_key(request) and bool(request.cookies.get(COOKIE))


async def presented_principal(request: web.Request) -> tuple[Credential | None, Principal | None]:
    """Which credential the request presented, and who it is: the Authorization header first, else the
    monitor's session cookie. None for an unknown, revoked or malformed key, or an unknown or ended session."""
    key = presented_key(request)
    if key:
        return Credential.KEY, await request.config_dict[KEYS].principal(key)
    session = request.cookies.get(COOKIE)
    if session:
        return Credential.SESSION, await request.config_dict[SESSIONS].principal(session)
    return None, None


async def still_signed_in(request: web.Request) -> bool:
    """Whether the credential a long-lived request (an event stream) came with is still good: asked at each tick,
    it costs no round trip within the key and session caches' time (api/keys.py, api/sessions.py)."""
    try:
        return (await presented_principal(request))[1] is not None
    except Exception:  # noqa: BLE001 - cannot tell (PostgreSQL out of reach with nothing cached): fail closed
        return False


def wants_page(request: web.Request, op: Operation) -> bool:
    """A person's browser opening a monitor page (rather than a client of the JSON API)."""
    return op.tag == "monitor" and request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def unauthorized(request: web.Request, op: Operation, sent: Credential | None) -> web.HTTPException:
    if sent is not Credential.KEY and wants_page(request, op):
        # A person opening a monitor page without a session, or with one that ended: to the sign-in form (which
        # says so), and back after it. The ended session's cookie goes.
        query = {"next": request.path_qs} | ({"ended": "1"} if sent else {})
        redirect = web.HTTPSeeOther(URL(SIGN_IN).with_query(query))
        if sent:
            redirect.del_cookie(COOKIE, path="/")
        return redirect
    if sent is Credential.SESSION:
        return ApiError(401, "session_expired", "the monitor session has ended or expired: sign in again",
                        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    if sent:
        return ApiError(401, "invalid_token", "the API key is unknown, revoked or malformed",
                        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    return ApiError(401, "unauthorized", "an API key is required: send Authorization: Bearer <key> "
                    "(planperfect keys create makes one)", headers={"WWW-Authenticate": REALM})


@web.middleware
async def authenticate(request: web.Request, handler):
    op = declared(request)
    needed = op.access
    if needed == PUBLIC:
        return await handler(request)
    sent, principal = await presented_principal(request)
    if principal is None:
        raise unauthorized(request, op, sent)
    refusal = forbidden(request, op, principal)
    if refusal is not None:
        if wants_page(request, op):
            # A person on a monitor page their key may not see: a page saying so, signed in as who they are.
            from api.monitor.render import render  # not at the top: the monitor's rendering imports this module

            request[PRINCIPAL] = principal
            return render(request, "error.html", status=403, error=json.loads(refusal.text)["error"],
                          title="Error 403")
        raise refusal
    if op.rate_limited:
        wait = request.config_dict[INTAKE_LIMITS].take(principal.key_id)
        if wait is not None:
            limits = request.config_dict[INTAKE_LIMITS]
            raise ApiError(429, "rate_limited", f"key {principal.key_id} may submit {limits.rate:g} a second "
                           f"(bursts of {limits.burst}); retry after {retry_after(wait)} s",
                           headers={"Retry-After": retry_after(wait)})
    request[PRINCIPAL] = principal
    return await handler(request)


def forbidden(request: web.Request, op: Operation, principal: Principal) -> ApiError | None:
    """Why `principal` may not call the route `op` declares (403), or None."""
    if not principal.role.allows(op.access, op.submits):
        if op.submits and principal.role is Role.READER:
            return ApiError(403, "forbidden", f"{request.method} {request.path} submits work; key {principal.key_id} "
                            "is a reader, which only reads (use a submitter or operator key)")
        return ApiError(403, "forbidden", f"{request.method} {request.path} needs the {op.access.value} role; "
                        f"key {principal.key_id} is {_article(principal.role.value)} {principal.role.value}")
    if not serves_tenant(op, principal):
        return ApiError(403, "tenant_not_supported", f"{request.method} {request.path} is not confined to a tenant; "
                        f"key {principal.key_id} is bound to one (use a key bound to no tenant)")
    return None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def serves_tenant(op: Operation, principal: Principal) -> bool:
    """Whether the route may answer this key's tenant: every route a key bound to none; a bound key only a route
    that confines it (`tenants=True`), since any other shows the whole deployment's data."""
    return principal.tenant is None or op.tenants


def may_call(principal: Principal | None, method: str, path: str) -> bool:
    """Whether `principal` would be let through the declared route `method path` (its role and its tenant): the
    monitor offers only the links its viewer may open."""
    op = CONTRACT.get((method, path))
    if op is None or op.access is None:
        op = _UNDECLARED
    if op.access == PUBLIC:
        return True
    return principal is not None and principal.role.allows(op.access, op.submits) and serves_tenant(op, principal)


def signed_in(request: web.Request) -> Principal | None:
    """The principal of a request that had to present a key; None on a public route."""
    return request.get(PRINCIPAL)
