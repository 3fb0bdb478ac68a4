"""What every fake vendor shares: an aiohttp server on 127.0.0.1, recorded requests, injected errors and
replies, held requests (to watch a client hang up), and a scripted model that writes the answers."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# (system prompt, conversation as [{"role", "content"}]) -> the model's text
Model = Callable[[str, list[dict[str, str]]], Awaitable[str]]


def tokens(text: str) -> int:
    """The fakes' tokenizer: about four characters a token, like English text with real tokenizers."""
    return max(1, math.ceil(len(text) / 4))


@dataclass
class Recorded:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class InjectedError:
    status: int
    retry_after: str | None = None
    message: str | None = None


@dataclass
class FakeVendor:
    """Subclasses add routes and the vendor's request checks, bodies and errors."""

    api_key: str
    model: Model
    models: tuple[str, ...] = ()
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)  # requests that broke the protocol: must stay empty
    replies: deque[str] = field(default_factory=deque)  # canned answers used before the model
    errors: deque[InjectedError] = field(default_factory=deque)  # answered before anything else
    list_errors: deque[InjectedError] = field(default_factory=deque)  # answered by GET /v1/models (start checks)
    hold_next: bool = False  # the next request waits until its client hangs up
    # (system, conversation) -> hold this request as hold_next would (a chosen job's chosen stage)
    hold_if: Callable[[str, list[dict[str, str]]], bool] | None = None
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    seen_prefixes: set[str] = field(default_factory=set)  # system prompts seen: the vendor's prompt cache
    _runner: web.AppRunner | None = None
    base_url: str = ""

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        app.add_routes(self.routes())
        # handler_cancellation: a client that hangs up cancels its handler, which is how the fake sees it.
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def record(self, request: web.Request, body: Any) -> None:
        self.requests.append(Recorded(time.monotonic(), request.path, dict(request.headers), body))

    def violation(self, problem: str) -> str:
        self.violations.append(problem)
        return problem

    async def answer(self, system: str, conversation: list[dict[str, str]]) -> str:
        if self.hold_next or (self.hold_if is not None and self.hold_if(system, conversation)):
            self.hold_next = False
            try:
                await asyncio.Event().wait()  # until the client hangs up and aiohttp cancels this handler
            finally:
                self.disconnected.set()
        if self.replies:
            return self.replies.popleft()
        return await self.model(system, conversation)

    def cached_tokens(self, system: str) -> int:
        """Tokens of a system prompt this fake has seen before (the second call of a stage reads it from cache)."""
        if system in self.seen_prefixes:
            return tokens(system)
        self.seen_prefixes.add(system)
        return 0

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]
