"""One model request and its reply, vendor-neutral: what the model provider asks of a vendor's SDK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    text: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    system: str
    messages: tuple[Message, ...]
    max_tokens: int
    json_output: bool = False  # ask for a JSON object where the vendor has a switch for it


@dataclass(frozen=True)
class ChatReply:
    text: str
    input_tokens: int  # all input, cached included
    output_tokens: int
    cached_tokens: int
    truncated: bool  # the reply stopped at max_tokens


class Chat(Protocol):
    """A vendor's SDK behind one call. SDK exceptions pass through; the caller classifies them."""

    vendor: str

    async def complete(self, request: ChatRequest) -> ChatReply: ...

    async def close(self) -> None: ...
