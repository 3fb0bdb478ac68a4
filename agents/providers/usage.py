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

PER_MILLION = 1_000_000


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(frozen=True)

    input: float
    output: float
    cached_input: float


class CallUsage(BaseModel):
    """One request to a model: what it cost in tokens and (at the price table's prices) in dollars."""

    model_config = ConfigDict(frozen=True)

    provider: str
    model: str
    prompt: str  # the prompt template and its version, e.g. "outline.v1"
    input_tokens: int
    output_tokens: int
    cached_tokens: int  # of input_tokens, those read from the vendor's prompt cache
    cost_usd: float


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
    """The calls one stage attempt made; a later event can carry `calls` or their totals."""

    calls: list[CallUsage] = field(default_factory=list)

    def record(self, call: CallUsage) -> None:
        self.calls.append(call)

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    @property
    def cached_tokens(self) -> int:
        return sum(c.cached_tokens for c in self.calls)

    @property
    def cost_usd(self) -> float:
        return round(sum(c.cost_usd for c in self.calls), 8)

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
    """Record a call in the current attempt's ledger (outside any attempt, e.g. a start-up probe: nowhere)."""
    ledger = _current.get()
    if ledger is not None:
        ledger.record(call)
