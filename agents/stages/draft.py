"""The draft stage: ask the provider for the article (again, with QA's findings, when QA returned the job) and record
its measured length."""

from __future__ import annotations

from agents.context import StageContext, StageInput
from agents.stages.prerequisites import invalid, require
from agents.stages.qa_metrics import count_words, headings, plain_text
from streams.payloads import Draft, QAReport, Stage


async def handle(inp: StageInput, ctx: StageContext) -> Draft:
    research = require(inp, inp.outputs.research, Stage.RESEARCH)
    outline = require(inp, inp.outputs.outline, Stage.OUTLINE)
    qa = inp.outputs.qa
    if isinstance(qa, QAReport) and qa.draft_findings and inp.outputs.draft is not None:  # QA sent the job back
        draft = await ctx.provider.draft(inp.brief, research, outline, previous=inp.outputs.draft,
                                         findings=qa.draft_findings)
    else:
        draft = await ctx.provider.draft(inp.brief, research, outline)
    if not draft.markdown.strip():
        raise invalid(inp, ctx.provider.name, "the draft is empty")
    measured = count_words(plain_text(draft.markdown))
    if measured == 0:
        raise invalid(inp, ctx.provider.name, "the draft contains no words")
    if not headings(draft.markdown):
        raise invalid(inp, ctx.provider.name, "the draft has no Markdown headings")
    # The provider's own count is a claim; later stages rely on the measured one.
    return draft if draft.word_count == measured else draft.model_copy(update={"word_count": measured})
