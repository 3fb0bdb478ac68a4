"""Typed keys of the aiohttp application's shared state."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from api.config import ApiConfig
from api.consistency import ReadYourWrites
from api.keys import KeyVerifier
from api.ratelimit import TokenBuckets
from api.notifications import JobNotifications
from api.producer import KafkaProducerLink

CONFIG = web.AppKey("config", ApiConfig)
POOL = web.AppKey("pool", asyncpg.Pool)
PRODUCER = web.AppKey("producer", KafkaProducerLink)
NOTIFICATIONS = web.AppKey("notifications", JobNotifications)
READS = web.AppKey("reads", ReadYourWrites)
KEYS = web.AppKey("keys", KeyVerifier)
INTAKE_LIMITS = web.AppKey("intake_limits", TokenBuckets)
