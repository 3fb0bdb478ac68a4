"""The Anthropic Messages API through the `anthropic` SDK."""

from __future__ import annotations

from typing import Any

import anthropic

from agents.providers.chat import ChatReply, ChatRequest


class AnthropicChat:
    vendor = "anthropic"

    def __init__(self, client: anthropic.AsyncAnthropic) -> None:
        self._client = client

    async def complete(self, request: ChatRequest) -> ChatReply:
        # The system prompt is the same for every job of a stage: marked cacheable, repeat calls read it from
        # Anthropic's prompt cache (cheaper input, reported as cache_read_input_tokens).
        system: list[Any] = [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]
        message = await self._client.messages.create(
            model=request.model,
            max_tokens=request.max_tokens,
            system=system,
            messages=[{"role": m.role, "content": m.text} for m in request.messages],
        )
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        cached = usage.cache_read_input_tokens or 0
        created = usage.cache_creation_input_tokens or 0
        return ChatReply(text=text, input_tokens=usage.input_tokens + cached + created,
                         output_tokens=usage.output_tokens, cached_tokens=cached,
                         truncated=message.stop_reason == "max_tokens")

    async def close(self) -> None:
        await self._client.close()
