"""Token usage and cost of model calls, as the stage outcome events carry them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CallUsage(BaseModel):
    """One request to a model: what it cost in tokens and (at the price table's prices) in dollars."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    model: str
    prompt: str = Field(description='The prompt template and its version, e.g. "outline.v1".')
    input_tokens: int = Field(ge=0, description="All input tokens, cached ones included.")
    output_tokens: int = Field(ge=0)
    cached_tokens: int = Field(ge=0, description="Of input_tokens, those read from the vendor's prompt cache.")
    cost_usd: float = Field(ge=0, description="At the worker's price table (agents/providers/prices.toml).")


class StageUsage(BaseModel):
    """The model calls of one stage attempt. The offline provider makes none: no calls, zero tokens, cost 0."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str | None = Field(None, description="The worker's provider; null on events from before v2.")
    calls: list[CallUsage] = Field(default_factory=list, description="In the order they were made.")

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
    def tokens(self) -> int:
        """What a job's token budget counts: input (cached included) plus output."""
        return self.input_tokens + self.output_tokens

    @property
    def cost_usd(self) -> float:
        return round(sum(c.cost_usd for c in self.calls), 8)
