"""Rendering monitor pages: one Jinja2 environment (autoescaped) over the package's templates."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from api.auth import may_call, signed_in
from api.errors import ApiError
from api.monitor.figures import sparkline
from api.principal import Role
from api.monitor.state import TEMPLATES

HERE = Path(__file__).parent
STATIC = HERE / "static"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["sparkline"] = sparkline
    env.filters["age"] = age
    env.filters["when"] = when
    env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False)
    env.globals["signed_in"] = signed_in
    env.globals["can"] = can
    env.globals["may_open"] = may_open
    return env


def can(request: web.Request, role: str) -> bool:
    """Whether the signed-in key may do what `role` may: a page offers only the actions its viewer may take
    (the API refuses the others all the same)."""
    who = signed_in(request)
    return who is not None and who.role.allows(Role(role))


def may_open(request: web.Request, path: str) -> bool:
    """Whether the page's viewer may open the monitor page at `path` (its role and its tenant, as the contract
    declares them): the navigation leaves out the pages the viewer's key would be refused. A public page (the
    sign-in form) knows no viewer and shows them all; each asks for a key."""
    who = signed_in(request)
    return who is None or may_call(who, "GET", path)


def age(seconds: float | None) -> str:
    """A duration as an operator reads it: 4.2 s, 3 min 5 s, 2 h 10 min."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def when(value: str | datetime | None) -> str:
    if value is None:
        return "–"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    html = request.config_dict[TEMPLATES].get_template(template).render(request=request, **context)
    return web.Response(text=html, status=status, content_type="text/html")


def fragment(request: web.Request, template: str, **context: Any) -> str:
    return request.config_dict[TEMPLATES].get_template(template).render(request=request, **context)


def wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def page(handler):
    """A page handler whose 4xx (a bad filter, an unknown id) a browser sees as a page with the API's own
    message; any other client gets the API's JSON error, as api/contract.py documents."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            if exc.status >= 500 or not wants_html(request):
                raise
            error = json.loads(exc.text)["error"]
            return render(request, "error.html", status=exc.status, error=error, title=f"Error {exc.status}")

    return wrapper
