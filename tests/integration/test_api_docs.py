"""/docs serves a readable API reference offline: the page and every asset it loads come from this server."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.config import ApiConfig
from streams.topics import Topics


async def test_docs_and_their_assets_load_from_this_server(infra, database, prefix):
    app = create_app(ApiConfig(bootstrap=infra.bootstrap, dsn=database, topics=Topics(prefix)))
    async with TestClient(TestServer(app)) as client:
        for path in ("/docs", "/docs/"):
            page = await client.get(path)
            assert page.status == 200 and page.content_type == "text/html", path
        html = await page.text()
        assert "swagger-ui" in html
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), "the page refers to another host"
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert any(a.endswith("swagger-ui-bundle.js") for a in assets) and any(a.endswith(".css") for a in assets)
        for asset in assets:
            resp = await client.get(asset)
            assert resp.status == 200, asset
            assert len(await resp.read()) > 100, asset
        # The page loads the spec from a URL relative to /docs that resolves to /openapi.json.
        spec_url = re.search(r'url:\s*"([^"]+)"', html).group(1)
        resolved = urljoin("http://h/docs/", spec_url).removeprefix("http://h")
        assert re.sub(r"/[^/]+/\.\./", "/", resolved) == "/openapi.json", spec_url
        spec = await client.get("/openapi.json")
        assert spec.status == 200 and (await spec.json())["openapi"].startswith("3.1")
        assert re.search(r'validatorUrl:\s*null', html), "the online validator badge would call out"
