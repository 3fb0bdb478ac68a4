"""The worker's provider per job: the configured one, or the allowed (provider, model) pair a job's brief picked."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date

from agents.errors import PermanentError
from agents.pacing.answers import ContextReading, PieceDraft
from agents.providers import config as provider_config
from agents.providers.base import ContentProvider
from agents.providers.limiter import Limiter
from agents.providers.offline import OfflineProvider
from planperfect.settings import Settings
from streams.pacing_payloads import ContentSuggestion, ContextChunk, PacingBrief
from streams.payloads import Brief, Draft, Outline, QAReport, QAReview, ResearchNotes, SchemaMarkup

Choice = tuple[str, str]


class JobProviders:
    """A ContentProvider that hands each article stage to the job's own provider. One client per (provider,
    model), built on first use and kept; the limits are per vendor, shared by every model of it and with the
    configured provider when it is the same vendor. Pacing jobs carry no choice: the configured provider."""

    def __init__(self, default: ContentProvider, settings: Settings, env: Mapping[str, str]) -> None:
        self.default = default
        self.name = default.name
        self._settings = settings
        self._env = env
        self._allowed = frozenset(settings.provider_choices())
        self._clients: dict[Choice, ContentProvider] = {}
        limiter = getattr(default, "limiter", None)
        self._limiters: dict[str, Limiter] = {default.name: limiter} if isinstance(limiter, Limiter) else {}

    def for_brief(self, brief: Brief) -> ContentProvider:
        if brief.provider is None or brief.model is None:
            return self.default
        choice = (brief.provider, brief.model)
        if choice not in self._allowed:  # allowed at intake, no longer by this worker's settings
            allowed = ", ".join(f"{p}:{m}" for p, m in sorted(self._allowed)) or "none"
            raise PermanentError(f"this job asks for {choice[0]}:{choice[1]}, which PLANPERFECT_PROVIDER_ALLOW no "
                                 f"longer allows ({allowed})", code="provider_not_allowed")
        client = self._clients.get(choice)
        if client is None:
            client = self._clients[choice] = self._build(*choice)
        return client

    def _build(self, provider: str, model: str) -> ContentProvider:
        config = provider_config.resolve_choice(self._settings, self._env, provider, model)
        if config is None:
            return OfflineProvider()
        limiter = self._limiters.setdefault(config.vendor.name, Limiter(config.limits))
        return provider_config.build(config, limiter)

    async def research(self, brief: Brief) -> ResearchNotes:
        return await self.for_brief(brief).research(brief)

    async def outline(self, brief: Brief, research: ResearchNotes) -> Outline:
        return await self.for_brief(brief).outline(brief, research)

    async def draft(self, brief: Brief, research: ResearchNotes, outline: Outline, *, previous: Draft | None = None,
                    findings: Sequence[str] = ()) -> Draft:
        return await self.for_brief(brief).draft(brief, research, outline, previous=previous, findings=findings)

    async def review(self, brief: Brief, outline: Outline, draft: Draft, report: QAReport) -> QAReview | None:
        return await self.for_brief(brief).review(brief, outline, draft, report)

    async def markup(self, brief: Brief, research: ResearchNotes) -> SchemaMarkup:
        return await self.for_brief(brief).markup(brief, research)

    async def analyze_context(self, brief: PacingBrief, chunks: list[ContextChunk]) -> ContextReading:
        return await self.default.analyze_context(brief, chunks)

    async def write_piece(self, suggestion: ContentSuggestion, sources: list[ContextChunk],
                          local_date: date) -> PieceDraft:
        return await self.default.write_piece(suggestion, sources, local_date)

    async def close(self) -> None:
        for client in [self.default, *self._clients.values()]:
            close = getattr(client, "close", None)
            if close is not None:
                await close()


def worker_provider(settings: Settings, env: Mapping[str, str] = os.environ) -> ContentProvider:
    """The provider a worker runs (settings already checked and probed): the configured one, offline by default,
    behind JobProviders when jobs may pick their own."""
    config = provider_config.resolve(settings, env)
    default: ContentProvider = OfflineProvider() if config is None else provider_config.build(config)
    if not settings.provider_choices():
        return default
    return JobProviders(default, settings, env)
