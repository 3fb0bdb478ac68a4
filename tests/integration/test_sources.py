"""Reading a brief's sources over HTTP, from local servers only: text extracted, limits kept, and every way to
reach a private address refused (literal, by DNS, by redirect) without a request going there."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from agents.errors import PermanentError, TransientError
from agents.providers.config import make_chat
from agents.providers.model import ModelProvider
from agents.sources.fetch import FetchLimits, SourceFetcher
from agents.sources.guard import SourcePolicy
from streams.payloads import Brief
from tests.fakes.wiring import wired

ARTICLE = """<!DOCTYPE html><html><head><title>Rain gardens</title></head><body>
<nav><a href="/">Home</a> | <a href="/shop">Shop</a> | <a href="/login">Log in</a></nav>
<article><h1>Rain gardens for clay soil</h1>
<p>A rain garden is a shallow planted basin that catches water running off a roof, so that it soaks into the
ground instead of flooding the street drains. In heavy clay soil, dig the basin twice as wide and add coarse sand
and compost to the top thirty centimetres, because clay drains slowly and roots need air.</p>
<p>Choose plants that tolerate both standing water for a day and dry spells in summer: sedges, rushes, irises
and native asters do well. Place the garden at least three metres from the house foundations.</p>
</article><footer>Copyright 2026 Garden Shop. All rights reserved. Newsletter sign-up.</footer></body></html>"""


class StaticResolver(AbstractResolver):
    """Names of our choosing, all pointing at this machine: a public-looking name that resolves to loopback."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return [ResolveResult(hostname=host, host=self.names[host], port=port, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


class Site:
    def __init__(self) -> None:
        self.hits: list[str] = []
        self.port = 0

    def app(self) -> web.Application:
        async def page(request: web.Request) -> web.StreamResponse:
            self.hits.append(request.path)
            name = request.match_info["name"]
            if name == "article":
                return web.Response(text=ARTICLE, content_type="text/html")
            if name == "notes.txt":
                return web.Response(text="Plain notes about mulch.", content_type="text/plain")
            if name == "big":
                return web.Response(text="<p>" + "x" * 5000 + "</p>", content_type="text/html")
            if name == "pdf":
                return web.Response(body=b"%PDF-1.7", content_type="application/pdf")
            if name == "gone":
                return web.Response(status=404, text="not here")
            if name == "broken":
                return web.Response(status=503, text="down")
            targets = {"to-private": "http://10.0.0.1/admin",
                       "to-loopback": f"http://127.0.0.1:{self.port}/article",
                       "to-evil": f"http://evil.example:{self.port}/article",
                       "to-metadata": "http://169.254.169.254/latest/meta-data/",
                       "to-article": "/article"}
            raise web.HTTPFound(targets[name])

        app = web.Application()
        app.router.add_get("/{name}", page)
        return app


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    s = Site()
    runner = web.AppRunner(s.app())
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    s.port = runner.addresses[0][1]
    yield s
    await runner.cleanup()


def fetcher(**limits: float) -> SourceFetcher:
    # docs.example is allow-listed (an intranet host); evil.example is not, and resolves to 127.0.0.1 too.
    resolver = StaticResolver({"docs.example": "127.0.0.1", "evil.example": "127.0.0.1"})
    return SourceFetcher(SourcePolicy.allowing(["docs.example"]), FetchLimits(**limits), resolver=resolver)


async def test_a_page_is_read_as_its_main_text(site: Site) -> None:
    base = f"http://docs.example:{site.port}"
    texts = await fetcher().read([f"{base}/article", f"{base}/notes.txt", f"{base}/to-article"])
    assert [t.id for t in texts] == ["S1", "S2", "S3"]
    assert "shallow planted basin" in texts[0].text and "sedges, rushes" in texts[0].text
    assert "Log in" not in texts[0].text and "Newsletter" not in texts[0].text  # boilerplate dropped
    assert texts[1].text == "Plain notes about mulch."
    assert "shallow planted basin" in texts[2].text  # a redirect within allowed hosts is followed


@pytest.mark.parametrize("path, hits", [
    ("http://127.0.0.1:{port}/article", []),
    ("http://[::1]:{port}/article", []),
    ("http://[::ffff:127.0.0.1]:{port}/article", []),
    ("http://10.0.0.1/", []),
    ("http://169.254.169.254/latest/meta-data/", []),
    ("http://evil.example:{port}/article", []),  # a name resolving to 127.0.0.1
    ("http://docs.example:{port}/to-private", ["/to-private"]),
    ("http://docs.example:{port}/to-loopback", ["/to-loopback"]),
    ("http://docs.example:{port}/to-evil", ["/to-evil"]),
    ("http://docs.example:{port}/to-metadata", ["/to-metadata"]),
])
async def test_private_addresses_are_refused_however_they_are_reached(site: Site, path: str,
                                                                      hits: list[str]) -> None:
    with pytest.raises(PermanentError) as raised:
        await fetcher().read([path.format(port=site.port)])
    assert raised.value.code == "source_refused"
    assert site.hits == hits  # nothing was fetched from the refused address


@pytest.mark.parametrize("name, code, error", [
    ("big", "source_too_large", PermanentError), ("pdf", "source_unreadable", PermanentError),
    ("gone", "source_unavailable", PermanentError), ("broken", "source_unreachable", TransientError),
])
async def test_limits_and_failures(site: Site, name: str, code: str, error: type) -> None:
    with pytest.raises(error) as raised:
        await fetcher(max_bytes=2048).read([f"http://docs.example:{site.port}/{name}"])
    assert raised.value.code == code


async def test_research_cites_the_sources_it_read(site: Site) -> None:
    brief = Brief(title="Rain Gardens on Clay", keywords=["rain garden"], word_count=500,
                  sources=[f"http://docs.example:{site.port}/article"])
    async with wired("anthropic") as w:
        provider = ModelProvider(make_chat(w.config), w.config.models, sources=fetcher())
        try:
            await provider.research(brief)
        finally:
            await provider.close()
    prompt = w.fake.calls("/v1/messages")[0].body["messages"][0]["content"]
    assert f'<source id="S1" url="http://docs.example:{site.port}/article">' in prompt
    assert "shallow planted basin" in prompt
