"""Refuse state-changing requests a browser sends on behalf of another site (cross-site request forgery), and writes
made with the monitor's session cookie anywhere but from the monitor's own page."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from api.auth import by_session
from api.errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sec-Fetch-Site values of requests a page of this origin, or the user themselves, made.
SAME_SITE = frozenset({"same-origin", "none"})


def cross_site(request: web.Request) -> str | None:
    """Why the request looks cross-site, or None.

    A browser marks every request with Sec-Fetch-Site, and a cross-origin POST with Origin; a client that
    sends neither (curl, the CLI, a service) is not a browser acting for another site, so it passes, unless its
    credential is the monitor's session cookie: the monitor's page sends its writes with fetch(), which always
    carries Sec-Fetch-Site or Origin, so a write with the cookie and neither is the cookie replayed by another
    program (a browser sends it to every local web server; cookies are per host, not per port).
    """
    if request.method in SAFE_METHODS:
        return None
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in SAME_SITE:
        return f"Sec-Fetch-Site is {site}"
    origin = request.headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc != request.host:
            return f"Origin {origin} is not {request.host}"
    elif site != "same-origin" and by_session(request):
        return ("a write with the monitor's session cookie must come from the monitor's own page (Sec-Fetch-Site: "
                "same-origin or this site's Origin); an API client sends Authorization: Bearer <key>")
    return None


@web.middleware
async def cross_site_guard(request: web.Request, handler):
    reason = cross_site(request)
    if reason is not None:
        raise ApiError(403, "cross_site_request",
                       f"{request.method} {request.path} refused: {reason}; send it from this site's own pages")
    return await handler(request)
