"""Wire the monitor into the API: / and /metrics on the app, the pages as a sub-application at /monitor."""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.monitor import metrics, pacing_pages, pages, session
from api.monitor.figures import OverviewCache
from api.monitor.render import STATIC, environment
from api.monitor.state import CLOSING, OVERVIEW, TEMPLATES
from api.sessions import SESSIONS, Sessions
from api.state import CONFIG, POOL

PREFIX = "/monitor"


def add_monitor(app: web.Application) -> None:
    """The pages live in a sub-application so that its static files and routes share one prefix; its
    handlers read the app's state through request.config_dict. api/contract.py declares every route."""
    app[TEMPLATES] = environment()
    app[CLOSING] = asyncio.Event()
    app.on_shutdown.append(_closing)
    app.cleanup_ctx.append(_overview)
    app.cleanup_ctx.append(_sessions)
    app.router.add_get("/", pages.overview_page)
    app.add_routes(metrics.routes)
    monitor = web.Application()
    monitor.add_routes(pages.routes)
    monitor.add_routes(pacing_pages.routes)
    monitor.add_routes(session.routes)
    monitor.router.add_static("/static", STATIC)
    app.add_subapp(PREFIX, monitor)


async def _overview(app: web.Application):
    app[OVERVIEW] = OverviewCache(app[POOL], app[CONFIG])  # after _postgres has made the pool
    yield


async def _sessions(app: web.Application):
    cfg = app[CONFIG]
    app[SESSIONS] = Sessions(app[POOL], ttl=cfg.key_cache_seconds, lifetime=cfg.monitor_session_hours * 3600)
    yield


async def _closing(app: web.Application) -> None:
    app[CLOSING].set()
