"""The API reference at /docs: Swagger UI over /openapi.json, its assets served from the installed package."""

from __future__ import annotations

import base64
import hashlib
import re

from aiohttp import web
from swagger_ui import api_doc
from swagger_ui.core import ApplicationDocument

DOCS_PREFIX = "/docs"
_OPTIONS = dict(config_rel_url="/../openapi.json", url_prefix=DOCS_PREFIX, title="PlanPerfect API",
                parameters={"validatorUrl": "null", "tryItOutEnabled": "false"})


def add_docs(app: web.Application) -> None:
    """GET /docs (the page) and /docs/static/* (Swagger UI's own files, from the swagger-ui-py package).

    No asset comes from a CDN, so the reference works offline; the online validator badge is off for the
    same reason. Swagger UI fetches the spec at a path relative to the prefix, which resolves to /openapi.json.
    """
    api_doc(app, **_OPTIONS)


def inline_script_sources() -> tuple[str, ...]:
    """The Content-Security-Policy sources ('sha256-…') of the page's own inline script (Swagger UI's start, with our
    options), so that the policy allows that script and no other inline one."""
    html = ApplicationDocument(None, **_OPTIONS).doc_html
    return tuple(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                 for body in re.findall(r"<script>(.*?)</script>", html, re.S))
