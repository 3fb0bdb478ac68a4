"""What a stage needs from the stages before it; a missing output is a permanent failure of the job."""

from __future__ import annotations

from typing import TypeVar

from agents.context import StageInput
from agents.errors import PermanentError
from streams.payloads import Stage

T = TypeVar("T")


def require(inp: StageInput, output: T | None, needed: Stage) -> T:
    """`output` if the earlier stage produced it; otherwise PermanentError, since no retry can create it."""
    if output is None:
        raise missing(inp, needed)
    return output


def missing(inp: StageInput, needed: Stage) -> PermanentError:
    return PermanentError(
        f"The {inp.stage.value} stage of {inp.job_type.value} job {inp.job_id} needs the output of the "
        f"{needed.value} stage, which is missing from the job's outputs.",
        code="missing_stage_output",
    )


def invalid(inp: StageInput, provider: str, problem: str) -> PermanentError:
    """The error for a provider answer that no stage after this one could use."""
    return PermanentError(
        f"The {provider} provider returned unusable {inp.stage.value} output for job {inp.job_id}: {problem}",
        code="invalid_provider_output",
    )
