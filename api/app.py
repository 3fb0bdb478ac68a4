"""The HTTP composition root: create_app(config) wires the pool, the producer and the routes."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from api import access, health, jobs, operations, pacing, usage
from api.auth import authenticate
from api.docs import add_docs
from api.config import ApiConfig
from api.consistency import ReadYourWrites
from api.keys import KeyVerifier
from api.errors import error_middleware
from api.monitor.guard import cross_site_guard
from api.monitor.mount import add_monitor
from api.notifications import JobNotifications
from api.producer import KafkaProducerLink
from api.ratelimit import TokenBuckets
from api.security_headers import security_headers
from api.state import CONFIG, INTAKE_LIMITS, KEYS, NOTIFICATIONS, POOL, PRODUCER, READS


def create_app(config: ApiConfig) -> web.Application:
    # The cross-site guard before authentication: a forged write is refused whatever cookie the browser adds.
    app = web.Application(middlewares=[error_middleware, cross_site_guard, authenticate],
                          client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app.on_response_prepare.append(security_headers())
    app[INTAKE_LIMITS] = TokenBuckets(config.intake_rate_per_key, config.intake_burst_per_key)
    app.cleanup_ctx.append(_postgres)
    app.cleanup_ctx.append(_kafka)
    app.cleanup_ctx.append(_read_your_writes)
    app.add_routes(health.routes)
    app.add_routes(jobs.routes)
    app.add_routes(operations.routes)
    app.add_routes(pacing.routes)
    app.add_routes(access.routes)
    app.add_routes(usage.routes)
    add_docs(app)
    add_monitor(app)
    return app


async def _postgres(app: web.Application):
    cfg = app[CONFIG]
    # min_size=0: the API starts, and answers 503, while PostgreSQL is down, and each request that needs a
    # connection makes one if the pool has none; the connect timeout bounds how long that may take.
    app[POOL] = await asyncpg.create_pool(cfg.dsn, min_size=0, max_size=10, timeout=cfg.database_timeout_seconds)
    hub = JobNotifications()
    await hub.start(cfg.dsn)
    app[NOTIFICATIONS] = hub
    app[KEYS] = KeyVerifier(app[POOL], cfg.key_cache_seconds)
    yield
    await hub.stop()
    await app[POOL].close()


async def _kafka(app: web.Application):
    # Not a condition of starting: the API starts and answers (503 kafka_unavailable, /readyz 503) while Kafka is
    # away, and the producer connects in the background once a broker answers.
    link = KafkaProducerLink(app[CONFIG].bootstrap)
    await link.start()
    app[PRODUCER] = link
    yield
    await link.stop()


async def _read_your_writes(app: web.Application):
    cfg = app[CONFIG]
    reads = ReadYourWrites(cfg.bootstrap, cfg.read_your_writes_seconds, pool=app[POOL], producer=app[PRODUCER],
                           notifications=app[NOTIFICATIONS], kafka_seconds=cfg.kafka_send_timeout_seconds)
    app[READS] = reads
    yield
    await reads.stop()
