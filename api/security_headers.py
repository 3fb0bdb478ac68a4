"""Headers every answer carries so that a browser cannot be turned against the monitor: no framing (clickjacking),
scripts and styles from this site only, no MIME sniffing, no referrer to elsewhere, no caching of signed-in pages."""

from __future__ import annotations

from aiohttp import web

from api.docs import DOCS_PREFIX, inline_script_sources
from api.principal import PRINCIPAL


def policy(inline_styles: bool = False) -> str:
    """The Content-Security-Policy: everything from this site only, no inline script but /docs' own (by its hash),
    no inline style (the monitor's script places what moves; `inline_styles` for Swagger UI, which writes style
    attributes into its markup), images also as data: URLs (Swagger UI's icons), and no page of any site may frame
    ours (frame-ancestors; X-Frame-Options for browsers before it)."""
    styles = "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'"
    return "; ".join((
        "default-src 'self'", f"script-src 'self' {' '.join(inline_script_sources())}".strip(), styles,
        "img-src 'self' data:", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
        "frame-ancestors 'none'"))


def security_headers():
    """An on_response_prepare hook: it runs for every answer, streams and static files and errors alike, just
    before its headers are sent."""
    strict, docs = policy(), policy(inline_styles=True)

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers["Content-Security-Policy"] = docs if request.path.startswith(DOCS_PREFIX) else strict
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        if request.get(PRINCIPAL) is not None:
            # Signed in: what the answer shows is the key's to see; neither the browser nor a proxy keeps it.
            headers["Cache-Control"] = "no-store"

    return add
