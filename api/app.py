"""The HTTP composition root: create_app(config) wires the pool, the producer and the routes."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from api import health, jobs, operations, pacing, usage
from api.docs import add_docs
from api.config import ApiConfig
from api.consistency import ReadYourWrites
from api.errors import error_middleware
from api.monitor.guard import cross_site_guard
from api.monitor.mount import add_monitor
from api.notifications import JobNotifications
from api.producer import KafkaProducerLink
from api.state import CONFIG, NOTIFICATIONS, POOL, PRODUCER, READS


def create_app(config: ApiConfig) -> web.Application:
    app = web.Application(middlewares=[error_middleware, cross_site_guard], client_max_size=config.max_body_bytes)
    app[CONFIG] = config
    app.cleanup_ctx.append(_postgres)
    app.cleanup_ctx.append(_kafka)
    app.cleanup_ctx.append(_read_your_writes)
    app.add_routes(health.routes)
    app.add_routes(jobs.routes)
    app.add_routes(operations.routes)
    app.add_routes(pacing.routes)
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
