"""The markup stage: ask the provider for schema.org JSON-LD and check it is the type the brief asked for."""

from __future__ import annotations

import json
from datetime import datetime

from agents.context import StageContext, StageInput
from agents.stages.prerequisites import invalid, require
from streams.payloads import SchemaMarkup, Stage

# Types whose markup states when it was published; the provider has no clock, the stage does.
DATED_TYPES = frozenset({"Article", "BlogPosting"})


async def handle(inp: StageInput, ctx: StageContext) -> SchemaMarkup:
    research = require(inp, inp.outputs.research, Stage.RESEARCH)
    markup = await ctx.provider.markup(inp.brief, research)
    expected = inp.brief.schema_type
    try:
        data = json.loads(markup.json_ld)
    except ValueError as exc:
        raise invalid(inp, ctx.provider.name, f"the JSON-LD does not parse ({exc})") from exc
    if not isinstance(data, dict):
        raise invalid(inp, ctx.provider.name, "the JSON-LD is not a JSON object")
    if markup.schema_type != expected or data.get("@type") != expected:
        raise invalid(inp, ctx.provider.name,
                      f"asked for {expected}, got {markup.schema_type} with @type {data.get('@type')!r}")
    if expected in DATED_TYPES and "datePublished" not in data:
        return markup.model_copy(update={"json_ld": stamp_published(data, ctx.clock())})
    return markup


def stamp_published(data: dict[str, object], published: datetime) -> str:
    return json.dumps({**data, "datePublished": published.isoformat()}, ensure_ascii=False, indent=2)
