"""What the HTTP process needs to know, built once by the composition root."""

from __future__ import annotations

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
