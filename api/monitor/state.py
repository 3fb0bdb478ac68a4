"""Typed keys of the monitor's shared state on the aiohttp application."""

from __future__ import annotations

import asyncio

import jinja2
from aiohttp import web

from api.monitor.figures import OverviewCache

OVERVIEW = web.AppKey("monitor_overview", OverviewCache)
TEMPLATES = web.AppKey("monitor_templates", jinja2.Environment)
# Set when the app shuts down: the endless overview feeds end at once, so a stop does not wait out
# aiohttp's shutdown timeout for every open monitor page.
CLOSING = web.AppKey("monitor_closing", asyncio.Event)
