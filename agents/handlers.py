"""The handler registry: which pure handler runs each (job type, stage) of the declared pipelines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import Mapping

from agents.context import StageContext, StageInput
from agents.errors import PermanentError
from agents.pacing import analyze, write
from agents.pacing import complete as pacing_complete
from agents.providers.usage import recording
from agents.stages import complete, draft, export, markup, outline, qa, research, schema_qa
from streams.payloads import JobType, Stage, StageOutput

Handler = Callable[[StageInput, StageContext], Awaitable[StageOutput]]

HANDLERS: Mapping[tuple[JobType, Stage], Handler] = MappingProxyType({
    (JobType.ARTICLE, Stage.RESEARCH): research.handle,
    (JobType.ARTICLE, Stage.OUTLINE): outline.handle,
    (JobType.ARTICLE, Stage.DRAFT): draft.handle,
    (JobType.ARTICLE, Stage.QA): qa.handle,
    (JobType.ARTICLE, Stage.EXPORT): export.handle,
    (JobType.ARTICLE, Stage.COMPLETE): complete.handle,
    (JobType.SCHEMA, Stage.RESEARCH): research.handle,
    (JobType.SCHEMA, Stage.MARKUP): markup.handle,
    (JobType.SCHEMA, Stage.QA): schema_qa.handle,
    (JobType.SCHEMA, Stage.COMPLETE): complete.handle,
    (JobType.PACING, Stage.ANALYZE): analyze.handle,
    (JobType.PACING, Stage.WRITE): write.handle,
    (JobType.PACING, Stage.COMPLETE): pacing_complete.handle,
})


def handler_for(job_type: JobType, stage: Stage) -> Handler:
    try:
        return HANDLERS[(job_type, stage)]
    except KeyError:
        raise PermanentError(f"No handler for the {stage.value} stage of {job_type.value} jobs.",
                             code="unknown_stage") from None


async def run_stage(inp: StageInput, ctx: StageContext) -> StageOutput:
    """Run the handler registered for the input's job type and stage; its model calls go to `ctx.usage`, and
    count against the job's token budget (measured after each call: see agents/providers/usage.py)."""
    ctx.usage.limit(inp.token_budget, inp.tokens_used)
    if reason := ctx.usage.over_budget():  # spent already (a redriven job): no call is made
        raise PermanentError(reason, code="token_budget_exceeded")
    with recording(ctx.usage):
        return await handler_for(inp.job_type, inp.stage)(inp, ctx)
