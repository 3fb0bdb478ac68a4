"""Liveness, readiness (Kafka and PostgreSQL reachable) and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web

from api.openapi import openapi_document
from api.state import CONFIG, POOL, PRODUCER

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    problems: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            async with request.app[POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception as exc:
        problems["postgres"] = f"{type(exc).__name__}: {exc}" or "unreachable"
    try:
        async with asyncio.timeout(3):
            producer = request.app[PRODUCER]
            await producer.client.force_metadata_update()
            if not producer.client.cluster.brokers():
                problems["kafka"] = "no broker in the cluster metadata"
            elif request.app[CONFIG].topics.job_events not in producer.client.cluster.topics():
                problems["kafka"] = f"topic {request.app[CONFIG].topics.job_events} is missing (run `planperfect topics ensure`)"
    except Exception as exc:
        problems["kafka"] = f"{type(exc).__name__}: {exc}"
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ready"})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))
