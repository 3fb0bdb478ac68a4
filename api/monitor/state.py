"""Typed keys of the monitor's shared state on the aiohttp application."""

from __future__ import annotations

import jinja2
from aiohttp import web

from api.monitor.figures import OverviewCache

OVERVIEW = web.AppKey("monitor_overview", OverviewCache)
TEMPLATES = web.AppKey("monitor_templates", jinja2.Environment)
