"""The complete stage: summarise the finished job and the formats its result is available in."""

from __future__ import annotations

from agents.context import StageContext, StageInput
from agents.slug import slugify
from agents.stages.prerequisites import missing, require
from streams.payloads import Completion, JobType, Stage

ARTICLE_FORMATS = ("markdown", "html", "json-ld")
SCHEMA_FORMATS = ("json-ld",)


async def handle(inp: StageInput, ctx: StageContext) -> Completion:
    qa = inp.outputs.qa  # not through require(): mypy would widen the QAReport | SchemaQAReport union
    if qa is None:
        raise missing(inp, Stage.QA)
    if inp.job_type is JobType.SCHEMA:
        require(inp, inp.outputs.markup, Stage.MARKUP)
        return Completion(job_type=inp.job_type, title=inp.brief.title, slug=slugify(inp.brief.title),
                          word_count=None, qa_passed=qa.passed, formats=list(SCHEMA_FORMATS))
    outline = require(inp, inp.outputs.outline, Stage.OUTLINE)
    draft = require(inp, inp.outputs.draft, Stage.DRAFT)
    export = require(inp, inp.outputs.export, Stage.EXPORT)
    return Completion(job_type=inp.job_type, title=outline.title, slug=export.slug, word_count=draft.word_count,
                      qa_passed=qa.passed, formats=list(ARTICLE_FORMATS))
