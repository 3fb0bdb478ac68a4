"""Pure retry decisions: exponential backoff with deterministic jitter, and retry-or-dead-letter."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from agents.errors import StageError

MAX_BACKOFF_SECONDS = 3600.0
JITTER = 0.1  # +-10%


@dataclass(frozen=True)
class Retry:
    attempt: int
    delay_seconds: float


@dataclass(frozen=True)
class DeadLetter:
    reason: str


def backoff_seconds(base: float, failed_attempt: int, job_id: UUID, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """base * 2^(attempt-1), +-10% jitter derived from the job and attempt (so a re-run decides the same), capped."""
    raw = base * (2 ** (failed_attempt - 1))
    digest = hashlib.sha256(f"{job_id}:{failed_attempt}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64  # [0, 1)
    return round(min(cap, raw * (1 - JITTER + 2 * JITTER * unit)), 3)


def decide(error: StageError, attempt: int, max_attempts: int, base_delay: float, job_id: UUID) -> Retry | DeadLetter:
    if not error.retryable:
        return DeadLetter(f"permanent error at attempt {attempt}: {error}")
    if attempt >= max_attempts:
        return DeadLetter(f"failed after {attempt} attempts: {error}")
    delay = backoff_seconds(base_delay, attempt, job_id)
    # A vendor's retry-after is a floor: retrying sooner only earns another 429.
    asked = getattr(error, "retry_after", None)
    if asked is not None and asked > delay:
        delay = round(min(MAX_BACKOFF_SECONDS, asked), 3)
    return Retry(attempt + 1, delay)
