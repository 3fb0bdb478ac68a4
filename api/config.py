"""What the HTTP process needs to know, built once by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streams.topics import Topics


@dataclass(frozen=True)
class ApiConfig:
    bootstrap: str
    dsn: str
    topics: Topics
    max_body_bytes: int = 256 * 1024
    default_max_attempts: int = 3
    default_retry_delay_seconds: int = 5
    default_visibility_seconds: int = 600
    kafka_send_timeout_seconds: float = 10.0  # a write Kafka has not acknowledged by then answers 503
    database_timeout_seconds: float = 5.0  # connecting to PostgreSQL, and readiness probes
    read_your_writes_seconds: float = 5.0  # longest a miss waits for the projector before 404 (or 503 if behind)
    key_cache_seconds: float = 5.0  # a key revoked elsewhere is refused within this long (api/keys.py)
    monitor_session_hours: float = 12.0  # a monitor sign-in lasts this long at most (api/sessions.py)
    cookie_secure: bool = False  # the monitor's cookie is Secure even when the request came over HTTP (a TLS proxy)
    intake_rate_per_key: float = 50.0  # submissions a second per key (token bucket, api/ratelimit.py); 0: no limit
    intake_burst_per_key: int = 100
    # The model provider's problem in one line, or None (agents/providers/readiness.py; None here: not checked).
    provider_check: Callable[[], Awaitable[str | None]] | None = None
    provider_choices: tuple[tuple[str, str], ...] = ()  # (provider, model) pairs a job may pick
