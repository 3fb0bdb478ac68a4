"""The provider check `/readyz` answers with: the worker's own resolve and probe, kept for a few seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace

from agents.providers import config as provider_config
from planperfect.settings import Settings

CACHE_SECONDS = 15.0  # an orchestrator polls every few seconds: each poll must not cost a request to the vendor
PROBE_SECONDS = provider_config.PROBE_SECONDS


class ProviderReadiness:
    """`problem()`: None when every configured and allowed model endpoint answers with its models, else the
    one-line problem naming the setting that fixes it. A settings problem (a missing key, an unknown provider)
    is found once, at construction; the endpoints are asked at most once per CACHE_SECONDS, one probe at a
    time however many callers wait, and a caller that gives up does not cancel it (the next one reads it)."""

    def __init__(self, settings: Settings, env: Mapping[str, str], *, cache_seconds: float = CACHE_SECONDS,
                 probe_seconds: float = PROBE_SECONDS) -> None:
        self._cache_seconds = cache_seconds
        self._configs: list[provider_config.ProviderConfig] = []
        self._settled: str | None = None
        try:
            configs = provider_config.resolve_all(settings, env)
        except provider_config.ConfigProblem as problem:
            self._settled = str(problem)
        else:
            self._configs = [replace(c, timeout_seconds=min(c.timeout_seconds, probe_seconds)) for c in configs]
        self._answer: str | None = None
        self._answered_at = -float("inf")
        self._probing: asyncio.Task[str | None] | None = None

    async def problem(self) -> str | None:
        if self._settled is not None or not self._configs:
            return self._settled
        if time.monotonic() - self._answered_at < self._cache_seconds:
            return self._answer
        if self._probing is None:
            self._probing = asyncio.create_task(self._probe(), name="provider-readiness")
        return await asyncio.shield(self._probing)

    async def _probe(self) -> str | None:
        try:
            answer = await provider_config.probe_all(self._configs)
        finally:
            self._probing = None
        self._answer, self._answered_at = answer, time.monotonic()
        return answer
