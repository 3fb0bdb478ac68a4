"""Fault injection for tests: a job whose title carries `[fault:STAGE:KIND:N]` misbehaves at that stage.

Only active when PLANPERFECT_FAULT_INJECTION is set on the worker; a production deployment leaves it
off, so no request can trigger it there. KIND: transient (fail the first N attempts), permanent,
hang (sleep N seconds, ignoring the time limit), slow (take N seconds, extending the limit to fit), unencodable (the
first N attempts return an output with a lone surrogate in its text, as a model cut off mid-character can: the stage
succeeds, and writing its outcome fails outside the stage's own logic).
"""

from __future__ import annotations

import asyncio
import re

from agents.context import StageContext, StageInput
from agents.errors import PermanentError, TransientError
from agents.handlers import run_stage

MARKER = re.compile(r"\[fault:(?P<stage>\w+):(?P<kind>transient|permanent|hang|slow|unencodable)(?::(?P<n>[\d.]+))?\]")


async def run_stage_with_faults(inp: StageInput, ctx: StageContext):
    unencodable = False
    for m in MARKER.finditer(inp.brief.title):
        if m["stage"] != inp.stage.value:
            continue
        n = float(m["n"] or 1)
        match m["kind"]:
            case "transient" if inp.attempt <= n:
                raise TransientError(f"injected transient fault (attempt {inp.attempt} of the first {n:g})", code="injected")
            case "permanent":
                raise PermanentError("injected permanent fault", code="injected")
            case "hang":
                await asyncio.sleep(n)
            case "slow":
                ctx.extend_time_limit(n)
                await asyncio.sleep(n)
            case "unencodable" if inp.attempt <= n:
                unencodable = True
    output = await run_stage(inp, ctx)
    if unencodable:
        name = next(k for k, v in output if isinstance(v, str) and k != "kind")
        output = output.model_copy(update={name: getattr(output, name) + "\ud800"})
    return output
