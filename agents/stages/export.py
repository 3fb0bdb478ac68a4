"""The export stage: the article as Markdown, as a complete HTML5 page, and as schema.org Article JSON-LD."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt

from agents.context import StageContext, StageInput
from agents.stages.prerequisites import require
from streams.payloads import Brief, Draft, ExportBundle, Outline, Stage

HEADLINE_MAX = 110


async def handle(inp: StageInput, ctx: StageContext) -> ExportBundle:
    outline = require(inp, inp.outputs.outline, Stage.OUTLINE)
    draft = require(inp, inp.outputs.draft, Stage.DRAFT)
    json_ld = article_json_ld(inp.brief, outline, draft, published=ctx.clock())
    return ExportBundle(
        slug=outline.slug,
        markdown=draft.markdown,
        html=html_page(inp.brief, outline, render_markdown(draft.markdown), json_ld),
        json_ld=json.dumps(json_ld, ensure_ascii=False, indent=2),
    )


def article_json_ld(brief: Brief, outline: Outline, draft: Draft, *, published: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": outline.title[:HEADLINE_MAX],
        "description": outline.meta_description,
        "wordCount": draft.word_count,
        "datePublished": published.isoformat(),
        "inLanguage": brief.language,
    }
    if brief.keywords:
        data["keywords"] = ", ".join(brief.keywords)
    if brief.author:
        data["author"] = {"@type": "Person", "name": brief.author}
    if brief.url:
        data["url"] = brief.url
        data["mainEntityOfPage"] = {"@type": "WebPage", "@id": brief.url}
    return data


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in a draft is escaped, not passed through: provider output must not be able to inject script.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render_markdown(markdown: str) -> str:
    return str(_markdown().render(markdown))


def script_safe_json(data: dict[str, Any]) -> str:
    """JSON that cannot end its <script> element early: <, > and & are written as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html_page(brief: Brief, outline: Outline, body_html: str, json_ld: dict[str, Any]) -> str:
    canonical = f'  <link rel="canonical" href="{escape(brief.url)}">\n' if brief.url else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(brief.language)}">\n'
        "<head>\n"
        '  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{escape(outline.title)}</title>\n"
        f'  <meta name="description" content="{escape(outline.meta_description)}">\n'
        f"{canonical}"
        f'  <script type="application/ld+json">\n{script_safe_json(json_ld)}\n  </script>\n'
        "</head>\n"
        "<body>\n"
        "<article>\n"
        f"{body_html}"
        "</article>\n"
        "</body>\n"
        "</html>\n"
    )
