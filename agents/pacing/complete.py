"""The complete stage of a pacing job: what the analysis found and which formats were written."""

from __future__ import annotations

from agents.context import StageContext, StageInput
from agents.pacing.analyze import pacing_brief
from agents.slug import slugify
from agents.stages.prerequisites import require
from streams.payloads import Completion, Stage


async def handle(inp: StageInput, ctx: StageContext) -> Completion:
    brief = pacing_brief(inp)
    require(inp, inp.outputs.analyze, Stage.ANALYZE)
    written = require(inp, inp.outputs.write, Stage.WRITE)
    return Completion(
        job_type=inp.job_type, title=brief.title, slug=slugify(brief.title),
        word_count=sum(p.word_count for p in written.pieces) if written.pieces else None,
        qa_passed=True,  # every piece passed its platform's conventions, or the write stage failed
        formats=list(dict.fromkeys(p.content_type.value for p in written.pieces)),
    )
