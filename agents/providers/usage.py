"""Token usage and cost per model call, and the ledger a stage attempt accumulates them in."""

from __future__ import annotations

import tomllib
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Iterator

from pydantic import BaseModel, ConfigDict

from agents.errors import PermanentError
from streams.usage import CallUsage, StageUsage

__all__ = ["CallUsage", "PriceTable", "UsageLedger", "default_prices", "parse_prices", "record_call", "recording"]

PER_MILLION = 1_000_000


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(frozen=True)

    input: float
    output: float
    cached_input: float


@dataclass(frozen=True)
class PriceTable:
    default: Price
    models: dict[str, Price]

    def price(self, model: str) -> Price:
        return self.models.get(model, self.default)

    def cost(self, model: str, input_tokens: int, output_tokens: int, cached_tokens: int) -> float:
        p = self.price(model)
        uncached = max(0, input_tokens - cached_tokens)
        dollars = (uncached * p.input + cached_tokens * p.cached_input + output_tokens * p.output) / PER_MILLION
        return round(dollars, 8)


def parse_prices(text: str) -> PriceTable:
    data = tomllib.loads(text)
    return PriceTable(default=Price(**data["default"]),
                      models={name: Price(**row) for name, row in data.get("models", {}).items()})


@cache
def default_prices() -> PriceTable:
    """The table shipped beside this module (fake prices, labelled so in the file)."""
    return parse_prices(files("agents.providers").joinpath("prices.toml").read_text(encoding="utf-8"))


@dataclass
class UsageLedger:
    """The calls one stage attempt made, and the job's token budget they count against."""

    calls: list[CallUsage] = field(default_factory=list)
    budget: int | None = None  # the job's token budget (input + output tokens), None: no limit
    used_before: int = 0  # tokens the job's earlier attempts and stages used

    def record(self, call: CallUsage) -> None:
        self.calls.append(call)

    def limit(self, budget: int | None, used_before: int) -> None:
        """Count this attempt's calls against `budget`, after the `used_before` tokens of the job so far."""
        self.budget, self.used_before = budget, used_before

    def over_budget(self) -> str | None:
        """Why this attempt must stop, once the measured tokens of the job pass its budget; else None."""
        used = self.used_before + self.totals.tokens
        if self.budget is not None and used > self.budget:
            return f"token budget {self.budget} exceeded: {used} used"
        return None

    def stage_usage(self, provider: str) -> StageUsage:
        """What the attempt's outcome event records: the provider its calls went to (a job may name its own),
        else the worker's."""
        return StageUsage(provider=self.calls[0].provider if self.calls else provider, calls=list(self.calls))

    @property
    def totals(self) -> StageUsage:
        """Tokens and cost of the calls so far, summed the way the outcome event sums them."""
        return StageUsage(calls=list(self.calls))

    @property
    def prompts(self) -> list[str]:
        """The prompt versions used, in first-use order: what StageCompleted can record."""
        return list(dict.fromkeys(c.prompt for c in self.calls))


# The provider is shared by every stage of a worker; the ledger is per attempt. Each attempt runs in its own
# task, and a ContextVar set inside a task is seen only by that task, so concurrent attempts never mix.
_current: ContextVar[UsageLedger | None] = ContextVar("planperfect_usage_ledger", default=None)


@contextmanager
def recording(ledger: UsageLedger) -> Iterator[UsageLedger]:
    """Calls made inside the block are recorded in `ledger`."""
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)


def record_call(call: CallUsage) -> None:
    """Record a call in the current attempt's ledger (outside any attempt, e.g. a start-up probe: nowhere).

    The budget is checked on measured usage, after each call: a call's size is only known once the vendor has
    answered, and an estimate (prompt length + max_tokens) would refuse calls that fit. So a job may pass its
    budget by at most one call; that call is recorded, and the attempt then fails permanently."""
    ledger = _current.get()
    if ledger is not None:
        ledger.record(call)
        if reason := ledger.over_budget():
            raise PermanentError(reason, code="token_budget_exceeded")
