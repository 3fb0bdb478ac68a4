"""Fetch the brief's source pages through the SSRF guard, within size and time limits, as plain text."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import trafilatura
from aiohttp.abc import AbstractResolver
from yarl import URL

from agents.errors import PermanentError, TransientError
from agents.sources.guard import GuardedResolver, SourcePolicy, SourceRefused, check_url

TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class SourceText:
    id: str  # "S1", "S2"...: what the research notes cite
    url: str
    text: str


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 2_000_000
    timeout_seconds: float = 15.0
    max_redirects: int = 5
    max_chars: int = 8000  # of extracted text per source given to the model


class SourceFetcher:
    def __init__(self, policy: SourcePolicy, limits: FetchLimits = FetchLimits(),
                 resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.limits = limits
        self._resolver = resolver  # tests inject a static one; production resolves through DNS

    async def read(self, urls: Sequence[str]) -> list[SourceText]:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.policy, self._resolver), limit=4)
        timeout = aiohttp.ClientTimeout(total=self.limits.timeout_seconds)
        # trust_env stays off: an environment proxy would make the connection the guard never sees.
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
            pages = await asyncio.gather(*(self._fetch(session, url) for url in urls))
        texts = await asyncio.gather(*(asyncio.to_thread(to_text, body, ctype, final)
                                       for final, ctype, body in pages))
        return [SourceText(f"S{i}", url, text[: self.limits.max_chars])
                for i, (url, text) in enumerate(zip(urls, texts), start=1)]

    async def _fetch(self, session: aiohttp.ClientSession, url: str) -> tuple[str, str, str]:
        """(final URL, content type, decoded body); redirects are followed here so each hop is checked."""
        current = URL(url)
        try:
            for _ in range(self.limits.max_redirects + 1):
                check_url(current, self.policy)
                async with session.get(current, allow_redirects=False,
                                       headers={"Accept": "text/html, text/plain;q=0.8"}) as resp:
                    if resp.status in REDIRECTS and "Location" in resp.headers:
                        current = current.join(URL(resp.headers["Location"]))
                        continue
                    return str(current), *await self._body(url, resp)
        except SourceRefused as exc:
            raise PermanentError(f"source {url} refused: {exc}", code="source_refused") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise TransientError(f"source {url} could not be read: {type(exc).__name__}",
                                 code="source_unreachable") from None
        raise PermanentError(f"source {url} redirects more than {self.limits.max_redirects} times",
                             code="source_refused")

    async def _body(self, url: str, resp: aiohttp.ClientResponse) -> tuple[str, str]:
        if resp.status >= 500 or resp.status == 429:
            raise TransientError(f"source {url} answered HTTP {resp.status}", code="source_unreachable")
        if resp.status >= 400:
            raise PermanentError(f"source {url} answered HTTP {resp.status}", code="source_unavailable")
        ctype = resp.content_type
        if ctype not in TEXT_TYPES:
            raise PermanentError(f"source {url} is {ctype}, not a web page or text", code="source_unreadable")
        if resp.content_length is not None and resp.content_length > self.limits.max_bytes:
            raise PermanentError(f"source {url} is larger than {self.limits.max_bytes} bytes", code="source_too_large")
        body = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.limits.max_bytes:
                raise PermanentError(f"source {url} is larger than {self.limits.max_bytes} bytes",
                                     code="source_too_large")
        try:
            return ctype, bytes(body).decode(resp.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know: read it as UTF-8 rather than not at all
            return ctype, bytes(body).decode("utf-8", errors="replace")


def to_text(body: str, content_type: str, url: str) -> str:
    """The page's main text (navigation, ads and footers dropped by trafilatura); plain text as it is."""
    if content_type == "text/plain":
        return body.strip()
    return (trafilatura.extract(body, url=url, include_comments=False, include_tables=True) or "").strip()
