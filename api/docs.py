"""The API reference at /docs: Swagger UI over /openapi.json, its assets served from the installed package."""

from __future__ import annotations

from aiohttp import web
from swagger_ui import api_doc

DOCS_PREFIX = "/docs"


def add_docs(app: web.Application) -> None:
    """GET /docs (the page) and /docs/static/* (Swagger UI's own files, from the swagger-ui-py package).

    No asset comes from a CDN, so the reference works offline; the online validator badge is off for the
    same reason. Swagger UI fetches the spec at a path relative to the prefix, which resolves to /openapi.json.
    """
    api_doc(app, config_rel_url="/../openapi.json", url_prefix=DOCS_PREFIX, title="PlanPerfect API",
            parameters={"validatorUrl": "null", "tryItOutEnabled": "false"})
