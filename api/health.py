"""Liveness, readiness (Kafka and PostgreSQL reachable, the model provider usable) and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.openapi import openapi_document
from api.errors import RETRY_AFTER_SECONDS
from api.state import CONFIG, POOL, PRODUCER

routes = web.RouteTableDef()

PROBE_TIMEOUT_S = 2.0  # each of the two probes; together they answer well within the 5 s an orchestrator allows


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when PostgreSQL answers a query, a Kafka broker answers a fresh metadata request naming the
    job-events topic, and the model provider is usable (the worker's own check, cached); the probes run at once,
    each bounded, so an outage shows within seconds."""
    app = request.app
    limit = min(PROBE_TIMEOUT_S, app[CONFIG].database_timeout_seconds)
    checks = {"postgres": _postgres(app), "kafka": _kafka(app)}
    if app[CONFIG].provider_check is not None:
        checks["provider"] = app[CONFIG].provider_check()
    results = await asyncio.gather(*(_probe(check, limit) for check in checks.values()))
    problems = {name: problem for name, problem in zip(checks, results) if problem}
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503,
                                 headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return web.json_response({"status": "ready"})


async def _probe(check, limit: float) -> str | None:
    try:
        async with asyncio.timeout(limit):
            return await check
    except TimeoutError:
        return f"no answer within {limit:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure of a probe is the answer
        return f"{type(exc).__name__}: {exc}"


async def _postgres(app: web.Application) -> str | None:
    async with app[POOL].acquire() as conn:
        await conn.fetchval("SELECT 1")
    return None


async def _kafka(app: web.Application) -> str | None:
    # A fresh request on the wire: the producer's own cluster view is a cache, and force_metadata_update
    # reports a failure as False rather than raising, which is how a dead broker once looked ready.
    link = app[PRODUCER]
    if not link.ready:
        return f"not connected yet: {link.problem}"
    metadata = await link.get().client.fetch_all_metadata()
    topic = app[CONFIG].topics.job_events
    if not metadata.brokers():
        return "no broker in the cluster metadata"
    if topic not in metadata.topics():
        return f"topic {topic} is missing (run `planperfect topics ensure`)"
    return None


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))
